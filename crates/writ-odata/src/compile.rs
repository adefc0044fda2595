//! Compiles a parsed `$filter` into one SQL boolean expression with numbered, bound parameters,
//! checking every property against the entity's allow-list and every literal against the
//! property's type.
//!
//! Invariant of every fragment built here: it is TRUE exactly when the OData predicate is true
//! (it may be FALSE or NULL otherwise). `and`, `or` and `EXISTS` preserve that; `ne` adds
//! `OR … IS NULL` and negation uses `IS NOT TRUE` so that SQL's NULL never leaks into a `NOT`.

use crate::filter::{CompareOp, Expr, Lambda, LambdaKind, Literal, Operand, parse_filter};
use crate::{EntitySchema, FieldDef, FieldType, ODataError, SqlFragment, SqlValue};

/// Most values an `in` list may hold.
pub const MAX_IN_VALUES: usize = 100;

/// A bound on recursion over hand-built trees; parsed trees stay far below it because the parser
/// limits nesting to [`crate::filter::MAX_DEPTH`].
const MAX_TREE_DEPTH: usize = 64;

/// Parses and compiles a `$filter` in one step.
pub fn filter_to_sql(
    input: &str,
    schema: &EntitySchema,
    outer_alias: &str,
    first_param: usize,
) -> Result<SqlFragment, ODataError> {
    let expr = parse_filter(input)?;
    compile_filter(&expr, schema, outer_alias, first_param)
}

/// Compiles `expr` over rows of `schema` aliased `outer_alias`. Placeholders start at
/// `$first_param`. The result is parenthesised whenever it is not a single predicate, so it can
/// be ANDed into a larger WHERE clause as is.
pub fn compile_filter(
    expr: &Expr,
    schema: &EntitySchema,
    outer_alias: &str,
    first_param: usize,
) -> Result<SqlFragment, ODataError> {
    if first_param == 0 {
        return Err(ODataError::new("placeholders are numbered from $1"));
    }
    let mut compiler = Compiler {
        root: schema,
        outer_alias,
        scopes: Vec::new(),
        params: Vec::new(),
        first_param,
        lambdas: 0,
    };
    let sql = compiler.expr(expr, 0)?;
    Ok(SqlFragment {
        sql: sql.standalone(),
        params: compiler.params,
    })
}

/// Compiled SQL and whether it needs parentheses to be an operand of AND/OR.
struct Sql {
    text: String,
    compound: bool,
}

impl Sql {
    fn simple(text: String) -> Self {
        Self {
            text,
            compound: false,
        }
    }

    fn compound(text: String) -> Self {
        Self {
            text,
            compound: true,
        }
    }

    fn standalone(self) -> String {
        if self.compound {
            format!("({})", self.text)
        } else {
            self.text
        }
    }
}

/// A lambda variable in scope.
struct Scope<'s> {
    variable: String,
    alias: String,
    schema: &'s EntitySchema,
}

/// A property path resolved against the schema.
enum Resolved<'s> {
    Scalar {
        sql: String,
        ty: FieldType,
    },
    Collection {
        /// `from` with `{t}` already replaced; `{a}` still to be chosen.
        from: String,
        element: &'s EntitySchema,
    },
}

/// How a comparison target compares to literals.
#[derive(Clone, Copy)]
enum Mode {
    /// `lower()` on both sides.
    FoldCase,
    /// Literal compared exactly (ids; results of `tolower`/`toupper`).
    Exact,
    Bool,
    DateTime,
    Int,
    Enum(&'static [&'static str]),
}

/// The property side of a comparison.
struct Target {
    /// The property as the client wrote it, for messages.
    name: String,
    sql: String,
    mode: Mode,
    /// How the target is named in messages ("text", "boolean", …).
    kind: &'static str,
}

struct Compiler<'s, 'a> {
    root: &'s EntitySchema,
    outer_alias: &'a str,
    scopes: Vec<Scope<'s>>,
    params: Vec<SqlValue>,
    first_param: usize,
    lambdas: usize,
}

fn err(message: impl Into<String>) -> ODataError {
    ODataError::new(message)
}

impl<'s> Compiler<'s, '_> {
    fn bind(&mut self, value: SqlValue) -> String {
        let n = self.first_param + self.params.len();
        self.params.push(value);
        format!("${n}")
    }

    fn expr(&mut self, expr: &Expr, depth: usize) -> Result<Sql, ODataError> {
        if depth > MAX_TREE_DEPTH {
            return Err(err("$filter nests too deeply"));
        }
        match expr {
            Expr::Or(items) => self.junction(items, " OR ", depth),
            Expr::And(items) => self.junction(items, " AND ", depth),
            Expr::Not(inner) => {
                let inner = self.expr(inner, depth + 1)?;
                Ok(Sql::compound(format!("({}) IS NOT TRUE", inner.text)))
            }
            Expr::Compare { left, op, right } => self.compare(left, *op, right).map(Sql::simple),
            Expr::In { operand, values } => self.in_list(operand, values).map(Sql::simple),
            Expr::Value(operand) => self.condition(operand).map(Sql::simple),
            Expr::Lambda(lambda) => self.lambda(lambda, depth).map(Sql::simple),
        }
    }

    fn junction(&mut self, items: &[Expr], joiner: &str, depth: usize) -> Result<Sql, ODataError> {
        let mut parts = Vec::with_capacity(items.len());
        for item in items {
            let sql = self.expr(item, depth + 1)?;
            parts.push(sql);
        }
        match parts.len() {
            0 => Err(err("empty and/or in $filter")),
            1 => Ok(parts.remove(0)),
            _ => Ok(Sql::compound(
                parts
                    .into_iter()
                    .map(Sql::standalone)
                    .collect::<Vec<_>>()
                    .join(joiner),
            )),
        }
    }

    /// Looks a property path up: a leading lambda variable selects that element's schema, a
    /// leading `$it` the root; anything else is a path on the root entity.
    fn resolve(&self, path: &[String]) -> Result<Resolved<'s>, ODataError> {
        let written = path.join("/");
        let Some(first) = path.first() else {
            return Err(err("empty property path in $filter"));
        };
        let (schema, alias, rest) = match self.scopes.iter().rev().find(|s| &s.variable == first) {
            Some(scope) => (scope.schema, scope.alias.as_str(), &path[1..]),
            None if first == "$it" => (self.root, self.outer_alias, &path[1..]),
            None => (self.root, self.outer_alias, path),
        };
        let key = if rest.is_empty() {
            "$it".to_owned()
        } else {
            rest.join("/")
        };
        let Some((_, def)) = schema.field(&key) else {
            if rest.is_empty() && first != "$it" {
                return Err(err(format!(
                    "lambda variable '{written}' stands for {} and must be followed by one of its properties, e.g. {written}/id",
                    schema.entity
                )));
            }
            return Err(err(format!(
                "property '{written}' is not filterable on {}",
                schema.entity
            )));
        };
        Ok(match def {
            FieldDef::Scalar { sql, ty, .. } => Resolved::Scalar {
                sql: sql.replace("{t}", alias),
                ty: *ty,
            },
            FieldDef::Collection { from, element } => Resolved::Collection {
                from: from.replace("{t}", alias),
                element,
            },
        })
    }

    /// The property side of a comparison: a scalar property or `tolower`/`toupper` of one.
    fn target(&self, operand: &Operand) -> Result<Target, ODataError> {
        match operand {
            Operand::Property(path) => {
                let name = path.join("/");
                match self.resolve(path)? {
                    Resolved::Scalar { sql, ty } => {
                        let mode = match ty {
                            FieldType::Id => Mode::Exact,
                            FieldType::Text => Mode::FoldCase,
                            FieldType::Bool => Mode::Bool,
                            FieldType::DateTime => Mode::DateTime,
                            FieldType::Int => Mode::Int,
                            FieldType::Enum(members) => Mode::Enum(members),
                        };
                        Ok(Target {
                            name,
                            sql,
                            mode,
                            kind: ty.describe(),
                        })
                    }
                    Resolved::Collection { .. } => Err(err(format!(
                        "property '{name}' is a collection; filter it with {name}/any(…) or {name}/all(…)"
                    ))),
                }
            }
            Operand::Call { name, args } => {
                let function = name.to_ascii_lowercase();
                let sql_function = match function.as_str() {
                    "tolower" => "lower",
                    "toupper" => "upper",
                    "startswith" | "endswith" | "contains" => {
                        return Err(err(format!(
                            "function '{name}' returns a boolean and cannot be compared"
                        )));
                    }
                    _ => return Err(err(format!("unsupported function '{name}'"))),
                };
                let [arg] = args.as_slice() else {
                    return Err(err(format!("function '{name}' takes exactly 1 argument")));
                };
                let inner = self.text_target(name, arg)?;
                Ok(Target {
                    name: inner.name,
                    sql: format!("{sql_function}({})", inner.sql),
                    mode: Mode::Exact,
                    kind: "text",
                })
            }
            Operand::Literal(_) => Err(err("expected a property, found a literal")),
        }
    }

    /// The text argument of a string function: a Text/Id property or `tolower`/`toupper` of one.
    fn text_target(&self, function: &str, arg: &Operand) -> Result<Target, ODataError> {
        let target = self.target(arg)?;
        match target.mode {
            Mode::FoldCase | Mode::Exact => Ok(target),
            _ => Err(err(format!(
                "function '{function}' needs a text property, but '{}' is {}",
                target.name, target.kind
            ))),
        }
    }

    /// Converts a literal to the value bound for `target`, checking its type.
    fn value(&self, target: &Target, literal: &Literal) -> Result<SqlValue, ODataError> {
        let mismatch = || {
            err(format!(
                "property '{}' is {} and cannot be compared with {}",
                target.name,
                target.kind,
                literal.describe()
            ))
        };
        match (target.mode, literal) {
            (Mode::FoldCase | Mode::Exact, Literal::String(s) | Literal::Guid(s)) => {
                Ok(SqlValue::Text(s.clone()))
            }
            (Mode::Bool, Literal::Bool(b)) => Ok(SqlValue::Bool(*b)),
            (Mode::Int, Literal::Int(i)) => Ok(SqlValue::I64(*i)),
            (Mode::DateTime, Literal::DateTime(micros)) => Ok(SqlValue::I64(*micros)),
            (Mode::DateTime, Literal::String(s)) => crate::filter::datetime_micros(s)
                .map(SqlValue::I64)
                .ok_or_else(|| {
                    err(format!(
                        "property '{}' needs a date-time like 2024-01-02T03:04:05Z, not '{s}'",
                        target.name
                    ))
                }),
            (Mode::Enum(members), Literal::String(s)) => members
                .iter()
                .find(|m| m.eq_ignore_ascii_case(s))
                .map(|m| SqlValue::Text((*m).to_owned()))
                .ok_or_else(|| {
                    err(format!(
                        "'{s}' is not a valid value of property '{}'; allowed values: {}",
                        target.name,
                        members.join(", ")
                    ))
                }),
            _ => Err(mismatch()),
        }
    }

    fn compare(
        &mut self,
        left: &Operand,
        op: CompareOp,
        right: &Operand,
    ) -> Result<String, ODataError> {
        let (field, literal, op) = match (left, right) {
            (Operand::Literal(_), Operand::Literal(_)) => {
                return Err(err("a comparison needs a property on one side"));
            }
            (field, Operand::Literal(literal)) => (field, literal, op),
            (Operand::Literal(literal), field) => (field, literal, op.flipped()),
            _ => return Err(err("comparing two properties is not supported")),
        };
        let target = self.target(field)?;
        if *literal == Literal::Null {
            return match op {
                CompareOp::Eq => Ok(format!("{} IS NULL", target.sql)),
                CompareOp::Ne => Ok(format!("{} IS NOT NULL", target.sql)),
                _ => Err(err(format!(
                    "property '{}' can only be compared with null using eq or ne",
                    target.name
                ))),
            };
        }
        let ordered = matches!(
            op,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        );
        if ordered && matches!(target.mode, Mode::Bool | Mode::Enum(_)) {
            return Err(err(format!(
                "operator '{}' is not supported on property '{}' ({})",
                op.keyword(),
                target.name,
                target.kind
            )));
        }
        let value = self.value(&target, literal)?;
        let placeholder = self.bind(value);
        let (lhs, rhs) = match target.mode {
            Mode::FoldCase => (
                format!("lower({})", target.sql),
                format!("lower({placeholder})"),
            ),
            _ => (target.sql.clone(), placeholder),
        };
        Ok(match op {
            // OData: a null property is "not equal" to any value.
            CompareOp::Ne => format!("({lhs} <> {rhs} OR {} IS NULL)", target.sql),
            _ => format!("{lhs} {} {rhs}", op.sql()),
        })
    }

    fn in_list(&mut self, operand: &Operand, values: &[Literal]) -> Result<String, ODataError> {
        let target = self.target(operand)?;
        if values.is_empty() || values.len() > MAX_IN_VALUES {
            return Err(err(format!(
                "'in' on property '{}' takes between 1 and {MAX_IN_VALUES} values, not {}",
                target.name,
                values.len()
            )));
        }
        let mut placeholders = Vec::with_capacity(values.len());
        for literal in values {
            if *literal == Literal::Null {
                return Err(err(format!(
                    "'in' on property '{}' cannot hold null; use 'eq null'",
                    target.name
                )));
            }
            let value = self.value(&target, literal)?;
            let placeholder = self.bind(value);
            placeholders.push(match target.mode {
                Mode::FoldCase => format!("lower({placeholder})"),
                _ => placeholder,
            });
        }
        let lhs = match target.mode {
            Mode::FoldCase => format!("lower({})", target.sql),
            _ => target.sql,
        };
        Ok(format!("{lhs} IN ({})", placeholders.join(", ")))
    }

    /// An operand standing alone as a condition: a string function or a boolean property.
    fn condition(&mut self, operand: &Operand) -> Result<String, ODataError> {
        match operand {
            Operand::Call { name, args } => {
                let (prefix, suffix) = match name.to_ascii_lowercase().as_str() {
                    "startswith" => ("", "%"),
                    "endswith" => ("%", ""),
                    "contains" => ("%", "%"),
                    "tolower" | "toupper" => {
                        return Err(err(format!(
                            "function '{name}' does not return a boolean; compare its result, e.g. {name}(displayName) eq 'x'"
                        )));
                    }
                    _ => return Err(err(format!("unsupported function '{name}'"))),
                };
                let [subject, needle] = args.as_slice() else {
                    return Err(err(format!("function '{name}' takes exactly 2 arguments")));
                };
                let target = self.text_target(name, subject)?;
                let needle = match needle {
                    Operand::Literal(Literal::String(s) | Literal::Guid(s)) => s,
                    _ => {
                        return Err(err(format!(
                            "the second argument of '{name}' must be a quoted string"
                        )));
                    }
                };
                let pattern = format!("{prefix}{}{suffix}", escape_like(needle));
                let placeholder = self.bind(SqlValue::Text(pattern));
                // Both sides folded by the database's own lower(), so they always agree.
                Ok(format!(
                    "lower({}) LIKE lower({placeholder}) ESCAPE '\\'",
                    target.sql
                ))
            }
            Operand::Property(_) => {
                let target = self.target(operand)?;
                match target.mode {
                    Mode::Bool => {
                        let placeholder = self.bind(SqlValue::Bool(true));
                        Ok(format!("{} = {placeholder}", target.sql))
                    }
                    _ => Err(err(format!(
                        "property '{}' is {}, not boolean; compare it with an operator such as eq",
                        target.name, target.kind
                    ))),
                }
            }
            Operand::Literal(literal) => Err(err(format!(
                "{} on its own is not a condition",
                literal.describe()
            ))),
        }
    }

    fn lambda(&mut self, lambda: &Lambda, depth: usize) -> Result<String, ODataError> {
        let name = lambda.collection.join("/");
        let (from, element) = match self.resolve(&lambda.collection)? {
            Resolved::Collection { from, element } => (from, element),
            Resolved::Scalar { .. } => {
                return Err(err(format!(
                    "property '{name}' is not a collection; any() and all() need one"
                )));
            }
        };
        self.lambdas += 1;
        let alias = format!("l{}", self.lambdas);
        let from = from.replace("{a}", &alias);
        let keyword = match lambda.kind {
            LambdaKind::Any => "EXISTS",
            LambdaKind::All => "NOT EXISTS",
        };
        let Some(body) = &lambda.body else {
            return match lambda.kind {
                LambdaKind::Any => Ok(format!("EXISTS (SELECT 1 FROM {from})")),
                LambdaKind::All => Err(err(format!("{name}/all() needs a predicate"))),
            };
        };
        let variable = &body.variable;
        if variable == "$it" || self.scopes.iter().any(|s| &s.variable == variable) {
            return Err(err(format!(
                "lambda variable '{variable}' is already in scope"
            )));
        }
        self.scopes.push(Scope {
            variable: variable.clone(),
            alias,
            schema: element,
        });
        let inner = self.expr(&body.predicate, depth + 1);
        self.scopes.pop();
        let inner = inner?;
        let predicate = match lambda.kind {
            LambdaKind::Any => inner.standalone(),
            // A counterexample is an element whose predicate is not TRUE (false or NULL).
            LambdaKind::All => format!("(({}) IS NOT TRUE)", inner.text),
        };
        let query = match split_where(&from) {
            Some((source, condition)) => format!("{source} WHERE ({condition}) AND {predicate}"),
            None => format!("{from} WHERE {predicate}"),
        };
        Ok(format!("{keyword} (SELECT 1 FROM {query})"))
    }
}

/// Escapes LIKE wildcards so the literal matches itself (`ESCAPE '\'`).
fn escape_like(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits a FROM body at its top-level `WHERE`, so the lambda predicate can be ANDed with the
/// whole existing condition (which may itself contain OR) rather than with its last term.
fn split_where(from: &str) -> Option<(&str, &str)> {
    let bytes = from.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            b'w' | b'W' if !quoted && depth == 0 => {
                let word_end = i + 5;
                let starts_word = i == 0 || !is_word(bytes[i - 1]);
                let ends_word = bytes.get(word_end).is_none_or(|b| !is_word(*b));
                if starts_word
                    && ends_word
                    && bytes
                        .get(i..word_end)
                        .is_some_and(|w| w.eq_ignore_ascii_case(b"where"))
                {
                    let source = from.get(..i)?.trim_end();
                    let condition = from.get(word_end..)?.trim();
                    return Some((source, condition));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_schemas::{ASSIGNMENT, GROUP, USER};

    fn sql(filter: &str) -> SqlFragment {
        filter_to_sql(filter, &USER, "u", 1).unwrap_or_else(|e| panic!("{filter}: {e}"))
    }

    fn error(filter: &str) -> String {
        filter_to_sql(filter, &USER, "u", 1).unwrap_err().message
    }

    fn text(s: &str) -> SqlValue {
        SqlValue::Text(s.to_owned())
    }

    #[test]
    fn text_eq_folds_case_on_both_sides() {
        let f = sql("displayName eq 'Ada'");
        assert_eq!(f.sql, "lower(u.display_name) = lower($1)");
        assert_eq!(f.params, vec![text("Ada")]);
    }

    #[test]
    fn text_ne_counts_null_as_different() {
        let f = sql("displayName ne 'Ada'");
        assert_eq!(
            f.sql,
            "(lower(u.display_name) <> lower($1) OR u.display_name IS NULL)"
        );
        assert_eq!(f.params, vec![text("Ada")]);
    }

    #[test]
    fn ordering_operators_on_text_id_int_and_datetime() {
        assert_eq!(
            sql("displayName gt 'm'").sql,
            "lower(u.display_name) > lower($1)"
        );
        assert_eq!(sql("id ge 'abc'").sql, "u.id >= $1");
        assert_eq!(sql("signInCount lt 5").sql, "u.sign_in_count < $1");
        assert_eq!(sql("signInCount le 5").params, vec![SqlValue::I64(5)]);
        let f = sql("createdDateTime ge 2024-01-02T03:04:05Z");
        assert_eq!(f.sql, "u.created_at >= $1");
        assert_eq!(f.params, vec![SqlValue::I64(1_704_164_645_000_000)]);
    }

    #[test]
    fn id_compares_exactly() {
        let f = sql("id eq 'ABC'");
        assert_eq!(f.sql, "u.id = $1");
        assert_eq!(f.params, vec![text("ABC")]);
        let f = sql("id ne 8a3f2c41-0b6e-4b5e-9a55-5d7c1e2f3a4b");
        assert_eq!(f.sql, "(u.id <> $1 OR u.id IS NULL)");
        assert_eq!(f.params, vec![text("8a3f2c41-0b6e-4b5e-9a55-5d7c1e2f3a4b")]);
    }

    #[test]
    fn literal_on_the_left_flips_the_operator() {
        let f = sql("5 lt signInCount");
        assert_eq!(f.sql, "u.sign_in_count > $1");
        assert_eq!(f.params, vec![SqlValue::I64(5)]);
        assert_eq!(
            sql("'Ada' eq displayName").sql,
            "lower(u.display_name) = lower($1)"
        );
    }

    #[test]
    fn bool_eq_and_bare_bool() {
        let f = sql("accountEnabled eq true");
        assert_eq!(f.sql, "u.account_enabled = $1");
        assert_eq!(f.params, vec![SqlValue::Bool(true)]);
        let f = sql("accountEnabled ne false");
        assert_eq!(
            f.sql,
            "(u.account_enabled <> $1 OR u.account_enabled IS NULL)"
        );
        assert_eq!(f.params, vec![SqlValue::Bool(false)]);
        let f = sql("accountEnabled");
        assert_eq!(f.sql, "u.account_enabled = $1");
        assert_eq!(f.params, vec![SqlValue::Bool(true)]);
    }

    #[test]
    fn datetime_accepts_quoted_literals() {
        let f = sql("createdDateTime lt '2024-01-02T03:04:05.123Z'");
        assert_eq!(f.sql, "u.created_at < $1");
        assert_eq!(f.params, vec![SqlValue::I64(1_704_164_645_123_000)]);
        assert_eq!(
            error("createdDateTime lt 'yesterday'"),
            "property 'createdDateTime' needs a date-time like 2024-01-02T03:04:05Z, not 'yesterday'"
        );
    }

    #[test]
    fn null_comparisons() {
        let f = sql("displayName eq null");
        assert_eq!(f.sql, "u.display_name IS NULL");
        assert!(f.params.is_empty());
        assert_eq!(sql("displayName ne null").sql, "u.display_name IS NOT NULL");
        assert_eq!(sql("null eq createdDateTime").sql, "u.created_at IS NULL");
        assert_eq!(
            error("signInCount gt null"),
            "property 'signInCount' can only be compared with null using eq or ne"
        );
    }

    #[test]
    fn enum_matches_case_insensitively_and_binds_canonical_spelling() {
        let f = sql("userType eq 'guest'");
        assert_eq!(f.sql, "u.user_type = $1");
        assert_eq!(f.params, vec![text("Guest")]);
        let f = sql("userType in ('MEMBER', 'guest')");
        assert_eq!(f.sql, "u.user_type IN ($1, $2)");
        assert_eq!(f.params, vec![text("Member"), text("Guest")]);
    }

    #[test]
    fn unknown_enum_member_names_value_and_allowed_ones() {
        assert_eq!(
            error("userType eq 'admin'"),
            "'admin' is not a valid value of property 'userType'; allowed values: Member, Guest"
        );
        assert_eq!(
            error("userType gt 'Guest'"),
            "operator 'gt' is not supported on property 'userType' (an enumeration)"
        );
    }

    #[test]
    fn in_lists() {
        let f = sql("id in ('a','b')");
        assert_eq!(f.sql, "u.id IN ($1, $2)");
        assert_eq!(f.params, vec![text("a"), text("b")]);
        let f = sql("displayName in ('Ada', 'Bob')");
        assert_eq!(f.sql, "lower(u.display_name) IN (lower($1), lower($2))");
        let f = sql("signInCount in (1, 2, 3)");
        assert_eq!(f.sql, "u.sign_in_count IN ($1, $2, $3)");
        assert_eq!(
            f.params,
            vec![SqlValue::I64(1), SqlValue::I64(2), SqlValue::I64(3)]
        );
        assert_eq!(
            error("id in ('a', null)"),
            "'in' on property 'id' cannot hold null; use 'eq null'"
        );
        assert_eq!(
            error("signInCount in (1, 'x')"),
            "property 'signInCount' is an integer and cannot be compared with a string"
        );
    }

    #[test]
    fn in_list_size_limits() {
        let values = |n: usize| {
            (0..n)
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let f = sql(&format!("id in ({})", values(100)));
        assert_eq!(f.params.len(), 100);
        assert!(f.sql.ends_with("$100)"));
        assert_eq!(
            error(&format!("id in ({})", values(101))),
            "'in' on property 'id' takes between 1 and 100 values, not 101"
        );
        assert!(error("id in ()").starts_with("syntax error"));
    }

    #[test]
    fn string_functions_compile_to_like_with_escaping() {
        let f = sql("startswith(displayName,'A_b%c\\d')");
        assert_eq!(f.sql, "lower(u.display_name) LIKE lower($1) ESCAPE '\\'");
        assert_eq!(f.params, vec![text("A\\_b\\%c\\\\d%")]);
        let f = sql("endswith(mail,'@Example.com')");
        assert_eq!(f.sql, "lower(u.mail) LIKE lower($1) ESCAPE '\\'");
        assert_eq!(f.params, vec![text("%@Example.com")]);
        let f = sql("contains(displayName, 'da')");
        assert_eq!(f.params, vec![text("%da%")]);
        let f = sql("startswith(id,'8a3f')");
        assert_eq!(f.sql, "lower(u.id) LIKE lower($1) ESCAPE '\\'");
        let f = sql("startswith(tolower(displayName),'a')");
        assert_eq!(
            f.sql,
            "lower(lower(u.display_name)) LIKE lower($1) ESCAPE '\\'"
        );
    }

    #[test]
    fn string_function_argument_errors() {
        assert_eq!(
            error("startswith(accountEnabled,'a')"),
            "function 'startswith' needs a text property, but 'accountEnabled' is boolean"
        );
        assert_eq!(
            error("startswith(displayName)"),
            "function 'startswith' takes exactly 2 arguments"
        );
        assert_eq!(
            error("startswith(displayName, 5)"),
            "the second argument of 'startswith' must be a quoted string"
        );
        assert_eq!(
            error("startswith(displayName,'a') eq true"),
            "function 'startswith' returns a boolean and cannot be compared"
        );
    }

    #[test]
    fn tolower_and_toupper_compare_the_literal_as_given() {
        let f = sql("tolower(displayName) eq 'abc'");
        assert_eq!(f.sql, "lower(u.display_name) = $1");
        assert_eq!(f.params, vec![text("abc")]);
        let f = sql("toupper(mail) ne 'ABC'");
        assert_eq!(f.sql, "(upper(u.mail) <> $1 OR upper(u.mail) IS NULL)");
        let f = sql("tolower(id) in ('a', 'b')");
        assert_eq!(f.sql, "lower(u.id) IN ($1, $2)");
        assert_eq!(
            error("tolower(signInCount) eq 'a'"),
            "function 'tolower' needs a text property, but 'signInCount' is an integer"
        );
        assert_eq!(
            error("tolower(displayName, mail) eq 'a'"),
            "function 'tolower' takes exactly 1 argument"
        );
        assert!(
            error("tolower(displayName)")
                .starts_with("function 'tolower' does not return a boolean")
        );
    }

    #[test]
    fn unsupported_functions_are_named() {
        assert_eq!(
            error("substring(displayName, 1) eq 'a'"),
            "unsupported function 'substring'"
        );
        assert_eq!(
            error("matchesPattern(displayName,'a')"),
            "unsupported function 'matchesPattern'"
        );
    }

    #[test]
    fn and_or_precedence_and_parentheses_in_sql() {
        let f = sql("displayName eq 'a' or id eq 'b' and signInCount eq 3");
        assert_eq!(
            f.sql,
            "(lower(u.display_name) = lower($1) OR (u.id = $2 AND u.sign_in_count = $3))"
        );
        assert_eq!(f.params, vec![text("a"), text("b"), SqlValue::I64(3)]);
        let f = sql("(displayName eq 'a' or id eq 'b') and signInCount eq 3");
        assert_eq!(
            f.sql,
            "((lower(u.display_name) = lower($1) OR u.id = $2) AND u.sign_in_count = $3)"
        );
    }

    #[test]
    fn not_uses_is_not_true() {
        let f = sql("not (displayName eq 'a')");
        assert_eq!(f.sql, "((lower(u.display_name) = lower($1)) IS NOT TRUE)");
        let f = sql("not startswith(mail,'x') and accountEnabled eq true");
        assert_eq!(
            f.sql,
            "(((lower(u.mail) LIKE lower($1) ESCAPE '\\') IS NOT TRUE) AND u.account_enabled = $2)"
        );
    }

    #[test]
    fn parameters_start_at_first_param() {
        let f = filter_to_sql("id eq 'a' and displayName eq 'b'", &USER, "x", 4).unwrap();
        assert_eq!(f.sql, "(x.id = $4 AND lower(x.display_name) = lower($5))");
        assert_eq!(f.params, vec![text("a"), text("b")]);
        assert!(filter_to_sql("id eq 'a'", &USER, "x", 0).is_err());
    }

    #[test]
    fn property_names_match_case_insensitively_and_errors_use_the_written_name() {
        assert_eq!(
            sql("DISPLAYNAME eq 'a'").sql,
            "lower(u.display_name) = lower($1)"
        );
        assert_eq!(
            error("fooBar eq 'a'"),
            "property 'fooBar' is not filterable on user"
        );
        assert_eq!(
            error("manager/fooBar eq 'a'"),
            "property 'manager/fooBar' is not filterable on user"
        );
    }

    #[test]
    fn type_mismatches_name_the_property() {
        assert_eq!(
            error("accountEnabled eq 'yes'"),
            "property 'accountEnabled' is boolean and cannot be compared with a string"
        );
        assert_eq!(
            error("signInCount eq '5'"),
            "property 'signInCount' is an integer and cannot be compared with a string"
        );
        assert_eq!(
            error("displayName eq 5"),
            "property 'displayName' is text and cannot be compared with an integer"
        );
        assert_eq!(
            error("createdDateTime eq 5"),
            "property 'createdDateTime' is a date-time and cannot be compared with an integer"
        );
        assert_eq!(
            error("accountEnabled gt true"),
            "operator 'gt' is not supported on property 'accountEnabled' (boolean)"
        );
        assert_eq!(
            error("displayName"),
            "property 'displayName' is text, not boolean; compare it with an operator such as eq"
        );
        assert_eq!(
            error("'a' eq 'b'"),
            "a comparison needs a property on one side"
        );
        assert_eq!(
            error("id eq displayName"),
            "comparing two properties is not supported"
        );
        assert_eq!(error("true"), "a boolean on its own is not a condition");
    }

    #[test]
    fn navigation_path_fields() {
        let f = filter_to_sql(
            "accessPackage/id eq 'p1' and resource/originSystem eq 'AadGroup'",
            &ASSIGNMENT,
            "a",
            1,
        )
        .unwrap();
        assert_eq!(
            f.sql,
            "(a.access_package_id = $1 AND lower((SELECT r.origin_system FROM resources r WHERE r.id = a.resource_id)) = lower($2))"
        );
        assert_eq!(f.params, vec![text("p1"), text("AadGroup")]);
        let f = filter_to_sql("state eq 'delivered'", &ASSIGNMENT, "a", 1).unwrap();
        assert_eq!(f.params, vec![text("Delivered")]);
    }

    #[test]
    fn any_with_predicate() {
        let f = filter_to_sql("members/any(m: m/id eq 'x')", &GROUP, "g", 1).unwrap();
        assert_eq!(
            f.sql,
            "EXISTS (SELECT 1 FROM group_members l1 WHERE (l1.group_id = g.id) AND l1.member_id = $1)"
        );
        assert_eq!(f.params, vec![text("x")]);
    }

    #[test]
    fn empty_any_means_non_empty() {
        let f = filter_to_sql("members/any()", &GROUP, "g", 1).unwrap();
        assert_eq!(
            f.sql,
            "EXISTS (SELECT 1 FROM group_members l1 WHERE l1.group_id = g.id)"
        );
        assert!(f.params.is_empty());
        let f = filter_to_sql("not members/any()", &GROUP, "g", 1).unwrap();
        assert_eq!(
            f.sql,
            "((EXISTS (SELECT 1 FROM group_members l1 WHERE l1.group_id = g.id)) IS NOT TRUE)"
        );
    }

    #[test]
    fn all_looks_for_a_counterexample() {
        let f = filter_to_sql(
            "members/all(m: startswith(m/displayName,'a') or m/id eq 'x')",
            &GROUP,
            "g",
            1,
        )
        .unwrap();
        assert_eq!(
            f.sql,
            "NOT EXISTS (SELECT 1 FROM group_members l1 WHERE (l1.group_id = g.id) AND ((lower((SELECT d.display_name FROM directory_objects d WHERE d.id = l1.member_id)) LIKE lower($1) ESCAPE '\\' OR l1.member_id = $2) IS NOT TRUE))"
        );
        assert_eq!(f.params, vec![text("a%"), text("x")]);
    }

    #[test]
    fn nested_lambdas_get_distinct_aliases_and_see_outer_variables() {
        let f = filter_to_sql(
            "members/any(m: m/roles/any(r: r/name eq 'admin' and m/id ne 'x'))",
            &GROUP,
            "g",
            1,
        )
        .unwrap();
        assert_eq!(
            f.sql,
            "EXISTS (SELECT 1 FROM group_members l1 WHERE (l1.group_id = g.id) AND EXISTS (SELECT 1 FROM member_roles l2 WHERE (l2.member_id = l1.member_id) AND (lower(l2.name) = lower($1) AND (l1.member_id <> $2 OR l1.member_id IS NULL))))"
        );
        assert_eq!(f.params, vec![text("admin"), text("x")]);
        let f = filter_to_sql(
            "members/any(m: m/id eq 'a') and owners/any(o: o eq 'b')",
            &GROUP,
            "g",
            1,
        )
        .unwrap();
        assert!(f.sql.contains("group_members l1"), "{}", f.sql);
        assert!(f.sql.contains("group_owners l2"), "{}", f.sql);
    }

    #[test]
    fn lambda_body_may_use_root_properties() {
        let f = filter_to_sql(
            "members/any(m: m/id eq 'a' and displayName eq 'G')",
            &GROUP,
            "g",
            1,
        )
        .unwrap();
        assert!(
            f.sql
                .contains("(l1.member_id = $1 AND lower(g.display_name) = lower($2))"),
            "{}",
            f.sql
        );
        let f = filter_to_sql("$it/displayName eq 'G'", &GROUP, "g", 1).unwrap();
        assert_eq!(f.sql, "lower(g.display_name) = lower($1)");
    }

    #[test]
    fn primitive_collections_use_it_field() {
        let f = sql("proxyAddresses/any(p: startswith(p,'smtp:'))");
        assert_eq!(
            f.sql,
            "EXISTS (SELECT 1 FROM user_proxy_addresses l1 WHERE (l1.user_id = u.id) AND lower(l1.address) LIKE lower($1) ESCAPE '\\')"
        );
        assert_eq!(f.params, vec![text("smtp:%")]);
        let f = sql("proxyAddresses/any(p: p eq 'SMTP:a@b.c')");
        assert!(
            f.sql.ends_with("AND lower(l1.address) = lower($1))"),
            "{}",
            f.sql
        );
    }

    #[test]
    fn collection_without_where_gets_one() {
        let f = sql("licenses/any(l: l/sku eq 'E5')");
        assert_eq!(
            f.sql,
            "EXISTS (SELECT 1 FROM user_licenses l1 WHERE l1.sku = $1)"
        );
    }

    #[test]
    fn lambda_errors() {
        assert_eq!(
            error("displayName/any(d: d eq 'a')"),
            "property 'displayName' is not a collection; any() and all() need one"
        );
        assert_eq!(
            error("proxyAddresses eq 'a'"),
            "property 'proxyAddresses' is a collection; filter it with proxyAddresses/any(…) or proxyAddresses/all(…)"
        );
        assert_eq!(
            filter_to_sql("members/any(m: x/id eq 'a')", &GROUP, "g", 1)
                .unwrap_err()
                .message,
            "property 'x/id' is not filterable on group"
        );
        assert_eq!(
            filter_to_sql("members/any(m: m/foo eq 'a')", &GROUP, "g", 1)
                .unwrap_err()
                .message,
            "property 'm/foo' is not filterable on group member"
        );
        assert_eq!(
            filter_to_sql("members/any(m: m eq 'a')", &GROUP, "g", 1)
                .unwrap_err()
                .message,
            "lambda variable 'm' stands for group member and must be followed by one of its properties, e.g. m/id"
        );
        assert_eq!(
            filter_to_sql(
                "members/any(m: m/roles/any(m: m/name eq 'a'))",
                &GROUP,
                "g",
                1
            )
            .unwrap_err()
            .message,
            "lambda variable 'm' is already in scope"
        );
        // Out of scope once its lambda closed.
        assert_eq!(
            filter_to_sql(
                "members/any(m: m/id eq 'a') and m/id eq 'b'",
                &GROUP,
                "g",
                1
            )
            .unwrap_err()
            .message,
            "property 'm/id' is not filterable on group"
        );
    }

    #[test]
    fn split_where_respects_parentheses_and_words() {
        assert_eq!(
            split_where("t {a} WHERE x = (SELECT 1 FROM y WHERE z) OR w"),
            Some(("t {a}", "x = (SELECT 1 FROM y WHERE z) OR w"))
        );
        assert_eq!(split_where("somewhere_table s"), None);
        assert_eq!(split_where("(SELECT * FROM x WHERE y) s"), None);
        assert_eq!(
            split_where("t where 'WHERE' = t.a"),
            Some(("t", "'WHERE' = t.a"))
        );
    }

    #[test]
    fn where_with_or_is_kept_intact() {
        let f = filter_to_sql("owners/any(o: o eq 'b')", &GROUP, "g", 1).unwrap();
        assert_eq!(
            f.sql,
            "EXISTS (SELECT 1 FROM group_owners l1 WHERE (l1.group_id = g.id OR l1.group_id IS NULL AND 1 = 0) AND l1.owner_id = $1)"
        );
    }

    #[test]
    fn hand_built_deep_trees_are_rejected() {
        let mut e = Expr::Value(Operand::Property(vec!["accountEnabled".into()]));
        for _ in 0..100 {
            e = Expr::Not(Box::new(e));
        }
        assert_eq!(
            compile_filter(&e, &USER, "u", 1).unwrap_err().message,
            "$filter nests too deeply"
        );
    }
}
