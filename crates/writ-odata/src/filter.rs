//! The `$filter` language: its syntax tree and the `peg` grammar that builds it, with the
//! length and nesting limits enforced before and during parsing.
//!
//! Precedence follows OData: `or` < `and` < `not` < comparison. `and`/`or` chains are kept
//! flat (`And(vec![a, b, c])`) so that long chains never become deep trees.

use std::cell::Cell;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ODataError;

/// Longest `$filter` accepted, in characters; checked before parsing.
pub const MAX_FILTER_LEN: usize = 2048;
/// Deepest nesting accepted; parentheses, `not`, lambdas and function calls each add a level.
pub const MAX_DEPTH: usize = 16;

/// A boolean `$filter` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Two or more alternatives.
    Or(Vec<Expr>),
    /// Two or more conjuncts.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    In {
        operand: Operand,
        values: Vec<Literal>,
    },
    /// An operand used as a condition on its own: a boolean function call such as
    /// `startswith(displayName,'a')`, or a boolean property.
    Value(Operand),
    Lambda(Lambda),
}

/// `collection/any(var: predicate)`, `collection/any()` or `collection/all(var: predicate)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lambda {
    /// Path segments of the collection, e.g. `["members"]` or `["m", "roles"]`.
    pub collection: Vec<String>,
    pub kind: LambdaKind,
    /// `None` only for `any()`.
    pub body: Option<LambdaBody>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaBody {
    pub variable: String,
    pub predicate: Box<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The OData keyword, for messages.
    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        }
    }

    /// The operator with its operands swapped (`5 lt x` is `x gt 5`).
    pub fn flipped(self) -> Self {
        match self {
            CompareOp::Eq => CompareOp::Eq,
            CompareOp::Ne => CompareOp::Ne,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
        }
    }
}

/// One side of a comparison, or an argument of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A property path, split at `/`: `["accessPackage", "id"]`, `["m", "id"]`, `["p"]`.
    Property(Vec<String>),
    Literal(Literal),
    Call {
        name: String,
        args: Vec<Operand>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A quoted string with `''` already unescaped.
    String(String),
    Int(i64),
    Bool(bool),
    Null,
    /// An unquoted date-time (or date), as unix microseconds.
    DateTime(i64),
    /// An unquoted GUID, as written.
    Guid(String),
}

impl Literal {
    /// How the literal is named in error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Literal::String(_) => "a string",
            Literal::Int(_) => "an integer",
            Literal::Bool(_) => "a boolean",
            Literal::Null => "null",
            Literal::DateTime(_) => "a date-time",
            Literal::Guid(_) => "a GUID",
        }
    }
}

/// Parses a `$filter` value (already URL-decoded).
pub fn parse_filter(input: &str) -> Result<Expr, ODataError> {
    // Checked before parsing: the length bounds the work the parser can be made to do.
    if input.chars().count() > MAX_FILTER_LEN {
        return Err(ODataError::new(format!(
            "$filter is longer than {MAX_FILTER_LEN} characters"
        )));
    }
    let too_deep = Cell::new(false);
    let parsed = grammar::filter(input, &too_deep);
    // The depth guard makes the parse fail; report the real reason rather than the symptom.
    if too_deep.get() {
        return Err(ODataError::new(format!(
            "$filter nests deeper than {MAX_DEPTH} levels"
        )));
    }
    parsed.map_err(|e| {
        let offset = e.location.offset.min(input.len());
        let position = input
            .get(..offset)
            .map_or(offset, |prefix| prefix.chars().count());
        ODataError::new(format!(
            "syntax error at position {position} in $filter: expected {}",
            e.expected
        ))
    })
}

/// Converts an ISO-8601 date-time (`2024-01-02T03:04:05Z`, with optional fraction, optional
/// seconds, `Z` or a numeric offset) or a plain date (`2024-01-02`, meaning midnight UTC) to
/// unix microseconds.
pub(crate) fn datetime_micros(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_uppercase();
    // A date-time is ASCII; anything else would also make the byte positions below fall
    // inside a character.
    if !text.is_ascii() {
        return None;
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else if text.as_bytes().get(16).is_some_and(|b| *b != b':') {
        // OData allows the seconds to be left out; RFC 3339 does not.
        let (head, tail) = text.split_at(16);
        format!("{head}:00{tail}")
    } else {
        text
    };
    let parsed = OffsetDateTime::parse(&full, &Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos().div_euclid(1000)).ok()
}

/// What may follow an operand inside a comparison.
enum Tail {
    Compare(CompareOp, Operand),
    In(Vec<Literal>),
}

/// Folds `first op rest…` into one flat node.
fn combine(first: Expr, rest: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if rest.is_empty() {
        return first;
    }
    let mut all = Vec::with_capacity(rest.len() + 1);
    all.push(first);
    all.extend(rest);
    make(all)
}

fn comparison(operand: Operand, tail: Option<Tail>) -> Expr {
    match tail {
        None => Expr::Value(operand),
        Some(Tail::Compare(op, right)) => Expr::Compare {
            left: operand,
            op,
            right,
        },
        Some(Tail::In(values)) => Expr::In { operand, values },
    }
}

peg::parser! {
    grammar grammar(too_deep: &Cell<bool>) for str {
        rule _() = quiet!{[' ' | '\t' | '\r' | '\n']*}
        rule ident_char() = ['A'..='Z' | 'a'..='z' | '0'..='9' | '_']
        // Keywords must not run into a following identifier (`order` is not `or` + `der`).
        rule eow() = !ident_char()
        rule digit() = ['0'..='9']
        rule hex() = ['0'..='9' | 'a'..='f' | 'A'..='F']

        // Every recursive construct passes through here, so recursion depth is bounded
        // whatever the input; the flag tells `parse_filter` why the parse failed.
        rule deeper(d: usize)
            = {? if d > MAX_DEPTH { too_deep.set(true); Err("less nesting") } else { Ok(()) } }

        pub rule filter() -> Expr = _ e:or_expr(0) _ { e }

        rule or_expr(d: usize) -> Expr
            = first:and_expr(d) rest:(_ "or" eow() _ e:and_expr(d) { e })*
            { combine(first, rest, Expr::Or) }

        rule and_expr(d: usize) -> Expr
            = first:unary(d) rest:(_ "and" eow() _ e:unary(d) { e })*
            { combine(first, rest, Expr::And) }

        rule unary(d: usize) -> Expr
            = "not" eow() _ deeper(d + 1) e:unary(d + 1) { Expr::Not(Box::new(e)) }
            / primary(d)

        rule primary(d: usize) -> Expr
            = "(" _ deeper(d + 1) e:or_expr(d + 1) _ ")" { e }
            / lambda(d)
            / o:operand(d) t:tail(d)? { comparison(o, t) }

        rule tail(d: usize) -> Tail
            = _ op:cmp_op() _ r:operand(d) { Tail::Compare(op, r) }
            / _ "in" eow() _ "(" _ v:(literal() ++ (_ "," _)) _ ")" { Tail::In(v) }

        rule cmp_op() -> CompareOp
            = "eq" eow() { CompareOp::Eq }
            / "ne" eow() { CompareOp::Ne }
            / "gt" eow() { CompareOp::Gt }
            / "ge" eow() { CompareOp::Ge }
            / "lt" eow() { CompareOp::Lt }
            / "le" eow() { CompareOp::Le }

        rule lambda(d: usize) -> Expr
            = collection:path() "/" kind:lambda_kind() _ "(" _ deeper(d + 1)
              body:lambda_body(d + 1)? _ ")"
            {?
                if body.is_none() && kind == LambdaKind::All {
                    Err("a lambda variable: all() needs a predicate")
                } else {
                    Ok(Expr::Lambda(Lambda { collection, kind, body }))
                }
            }

        rule lambda_kind() -> LambdaKind
            = "any" { LambdaKind::Any }
            / "all" { LambdaKind::All }

        rule lambda_body(d: usize) -> LambdaBody
            = v:ident() _ ":" _ e:or_expr(d)
            { LambdaBody { variable: v.to_owned(), predicate: Box::new(e) } }

        rule operand(d: usize) -> Operand
            = l:literal() { Operand::Literal(l) }
            / name:ident() _ "(" _ deeper(d + 1) args:(operand(d + 1) ** (_ "," _)) _ ")"
              { Operand::Call { name: name.to_owned(), args } }
            / p:path() { Operand::Property(p) }

        rule path() -> Vec<String> = segment() ++ "/"

        // `members/any(` ends the path before `any`, leaving it to the lambda rule.
        rule segment() -> String
            = !(("any" / "all") _ "(") s:(ident() / quiet!{ $("$it" eow()) }) { s.to_owned() }

        rule ident() -> &'input str
            = quiet!{ $(['A'..='Z' | 'a'..='z' | '_'] ident_char()*) } / expected!("a name")

        // Strings stay loud so an unterminated one is reported at its end; the rest are named
        // as one thing instead of as character classes.
        rule literal() -> Literal
            = s:string() { Literal::String(s) }
            / quiet!{ unquoted_literal() }
            / expected!("a literal")

        rule unquoted_literal() -> Literal
            = g:guid() { Literal::Guid(g.to_owned()) }
            / m:datetime() { Literal::DateTime(m) }
            / n:integer() { Literal::Int(n) }
            / "true" eow() { Literal::Bool(true) }
            / "false" eow() { Literal::Bool(false) }
            / "null" eow() { Literal::Null }

        rule guid() -> &'input str
            = g:$(hex()*<8> "-" hex()*<4> "-" hex()*<4> "-" hex()*<4> "-" hex()*<12>) eow() { g }

        rule datetime() -> i64
            = s:$(digit()*<4> "-" digit()*<2> "-" digit()*<2> time_of_day()?) eow()
            {? datetime_micros(s).ok_or("a valid date-time") }

        rule time_of_day()
            = ['T' | 't'] digit()*<2> ":" digit()*<2> (":" digit()*<2> ("." digit()+)?)?
              (['Z' | 'z'] / ['+' | '-'] digit()*<2> ":" digit()*<2>)

        rule integer() -> i64
            = s:$("-"? digit()+) eow() !"." {? s.parse().or(Err("an integer that fits 64 bits")) }

        rule string() -> String
            = "'" s:$(quiet!{ ([^ '\''] / "''")* }) "'" { s.replace("''", "'") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(path: &str) -> Operand {
        Operand::Property(path.split('/').map(str::to_owned).collect())
    }

    fn text(s: &str) -> Operand {
        Operand::Literal(Literal::String(s.to_owned()))
    }

    fn eq(path: &str, value: &str) -> Expr {
        Expr::Compare {
            left: prop(path),
            op: CompareOp::Eq,
            right: text(value),
        }
    }

    #[test]
    fn parses_a_simple_comparison() {
        assert_eq!(
            parse_filter("displayName eq 'Ada'").unwrap(),
            eq("displayName", "Ada")
        );
    }

    #[test]
    fn unescapes_doubled_quotes() {
        assert_eq!(
            parse_filter("displayName eq 'O''Brien'").unwrap(),
            eq("displayName", "O'Brien")
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = parse_filter("a eq 'x' or b eq 'y' and c eq 'z'").unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                eq("a", "x"),
                Expr::And(vec![eq("b", "y"), eq("c", "z")])
            ])
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        let e = parse_filter("(a eq 'x' or b eq 'y') and c eq 'z'").unwrap();
        assert_eq!(
            e,
            Expr::And(vec![
                Expr::Or(vec![eq("a", "x"), eq("b", "y")]),
                eq("c", "z")
            ])
        );
    }

    #[test]
    fn not_binds_tighter_than_and() {
        let e = parse_filter("not a eq 'x' and b eq 'y'").unwrap();
        assert_eq!(
            e,
            Expr::And(vec![Expr::Not(Box::new(eq("a", "x"))), eq("b", "y")])
        );
        let e = parse_filter("not(a eq 'x')").unwrap();
        assert_eq!(e, Expr::Not(Box::new(eq("a", "x"))));
    }

    #[test]
    fn chains_stay_flat() {
        let e = parse_filter("a eq 'x' and b eq 'y' and c eq 'z' and d eq 'w'").unwrap();
        match e {
            Expr::And(items) => assert_eq!(items.len(), 4),
            other => panic!("expected a flat And, got {other:?}"),
        }
    }

    #[test]
    fn keywords_do_not_swallow_identifiers() {
        let e = parse_filter("order eq 'x' or notes eq 'y'").unwrap();
        assert_eq!(e, Expr::Or(vec![eq("order", "x"), eq("notes", "y")]));
    }

    #[test]
    fn parses_literals() {
        let lit = |s: &str| match parse_filter(&format!("x eq {s}")).unwrap() {
            Expr::Compare {
                right: Operand::Literal(l),
                ..
            } => l,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(lit("42"), Literal::Int(42));
        assert_eq!(lit("-7"), Literal::Int(-7));
        assert_eq!(lit("true"), Literal::Bool(true));
        assert_eq!(lit("false"), Literal::Bool(false));
        assert_eq!(lit("null"), Literal::Null);
        assert_eq!(lit("''"), Literal::String(String::new()));
        assert_eq!(
            lit("8a3f2c41-0b6e-4b5e-9a55-5d7c1e2f3a4b"),
            Literal::Guid("8a3f2c41-0b6e-4b5e-9a55-5d7c1e2f3a4b".into())
        );
        assert_eq!(
            lit("2024-01-02T03:04:05Z"),
            Literal::DateTime(1_704_164_645_000_000)
        );
        assert_eq!(
            lit("2024-01-02T03:04:05.123Z"),
            Literal::DateTime(1_704_164_645_123_000)
        );
        assert_eq!(
            lit("2024-01-02T04:04:05+01:00"),
            Literal::DateTime(1_704_164_645_000_000)
        );
        assert_eq!(
            lit("2024-01-02T03:04Z"),
            Literal::DateTime(1_704_164_640_000_000)
        );
        assert_eq!(lit("2024-01-02"), Literal::DateTime(1_704_153_600_000_000));
    }

    #[test]
    fn literal_may_come_first() {
        assert_eq!(
            parse_filter("'Ada' eq displayName").unwrap(),
            Expr::Compare {
                left: text("Ada"),
                op: CompareOp::Eq,
                right: prop("displayName"),
            }
        );
    }

    #[test]
    fn parses_in() {
        assert_eq!(
            parse_filter("id in ('a', 'b','c')").unwrap(),
            Expr::In {
                operand: prop("id"),
                values: vec![
                    Literal::String("a".into()),
                    Literal::String("b".into()),
                    Literal::String("c".into())
                ],
            }
        );
    }

    #[test]
    fn parses_functions() {
        assert_eq!(
            parse_filter("startswith(displayName, 'A')").unwrap(),
            Expr::Value(Operand::Call {
                name: "startswith".into(),
                args: vec![prop("displayName"), text("A")],
            })
        );
        assert_eq!(
            parse_filter("tolower(displayName) eq 'a'").unwrap(),
            Expr::Compare {
                left: Operand::Call {
                    name: "tolower".into(),
                    args: vec![prop("displayName")],
                },
                op: CompareOp::Eq,
                right: text("a"),
            }
        );
    }

    #[test]
    fn parses_lambdas() {
        assert_eq!(
            parse_filter("members/any(m: m/id eq 'x')").unwrap(),
            Expr::Lambda(Lambda {
                collection: vec!["members".into()],
                kind: LambdaKind::Any,
                body: Some(LambdaBody {
                    variable: "m".into(),
                    predicate: Box::new(eq("m/id", "x")),
                }),
            })
        );
        assert_eq!(
            parse_filter("members/any()").unwrap(),
            Expr::Lambda(Lambda {
                collection: vec!["members".into()],
                kind: LambdaKind::Any,
                body: None,
            })
        );
        let nested = parse_filter("members/all(m: m/roles/any(r: r/name eq 'x'))").unwrap();
        let Expr::Lambda(outer) = nested else {
            panic!("expected a lambda")
        };
        assert_eq!(outer.kind, LambdaKind::All);
        let body = outer.body.unwrap();
        let Expr::Lambda(inner) = *body.predicate else {
            panic!("expected an inner lambda")
        };
        assert_eq!(inner.collection, vec!["m".to_owned(), "roles".to_owned()]);
    }

    #[test]
    fn all_needs_a_predicate() {
        let err = parse_filter("members/all()").unwrap_err();
        assert!(err.message.starts_with("syntax error at position"), "{err}");
    }

    #[test]
    fn a_property_may_be_called_any_when_not_a_lambda() {
        assert_eq!(parse_filter("x/any eq 'y'").unwrap(), eq("x/any", "y"));
    }

    #[test]
    fn syntax_errors_report_the_position() {
        let err = parse_filter("displayName eq 'Ada' and").unwrap_err();
        assert_eq!(
            err.message,
            "syntax error at position 24 in $filter: expected one of \"'\", \"(\", \"not\", a literal, a name"
        );
        let err = parse_filter("displayName eq 'Ada' xor").unwrap_err();
        assert_eq!(
            err.message,
            "syntax error at position 21 in $filter: expected one of \"and\", \"or\", EOF"
        );
        let err = parse_filter("displayName eq 'Ada").unwrap_err();
        assert_eq!(
            err.message,
            "syntax error at position 19 in $filter: expected \"'\""
        );
        let err = parse_filter("displayName eq").unwrap_err();
        assert!(
            err.message.starts_with("syntax error at position 14"),
            "{err}"
        );
        let err = parse_filter("displayName zz 'a'").unwrap_err();
        assert!(
            err.message.starts_with("syntax error at position 12"),
            "{err}"
        );
        let err = parse_filter("").unwrap_err();
        assert!(
            err.message.starts_with("syntax error at position 0"),
            "{err}"
        );
    }

    #[test]
    fn position_counts_characters_not_bytes() {
        let err = parse_filter("displayName eq 'Zoë' zz").unwrap_err();
        assert!(
            err.message.starts_with("syntax error at position 21"),
            "{err}"
        );
    }

    #[test]
    fn invalid_dates_are_syntax_errors() {
        assert!(parse_filter("x eq 2024-13-02T03:04:05Z").is_err());
        assert!(parse_filter("x eq 2024-01-02T03:04:05").is_err());
    }

    #[test]
    fn integer_overflow_is_an_error() {
        assert!(parse_filter("x eq 99999999999999999999").is_err());
    }

    #[test]
    fn rejects_input_longer_than_the_limit() {
        let long = format!("displayName eq '{}'", "a".repeat(MAX_FILTER_LEN));
        assert_eq!(
            parse_filter(&long).unwrap_err().message,
            "$filter is longer than 2048 characters"
        );
        // Exactly at the limit is fine.
        let fill = MAX_FILTER_LEN - "x eq ''".len();
        let exact = format!("x eq '{}'", "a".repeat(fill));
        assert_eq!(exact.chars().count(), MAX_FILTER_LEN);
        assert!(parse_filter(&exact).is_ok());
    }

    fn nested_parens(levels: usize) -> String {
        format!("{}a eq 1{}", "(".repeat(levels), ")".repeat(levels))
    }

    #[test]
    fn depth_limit_on_parentheses() {
        assert!(parse_filter(&nested_parens(16)).is_ok());
        assert_eq!(
            parse_filter(&nested_parens(17)).unwrap_err().message,
            "$filter nests deeper than 16 levels"
        );
        assert_eq!(
            parse_filter(&nested_parens(1000)).unwrap_err().message,
            "$filter nests deeper than 16 levels"
        );
    }

    #[test]
    fn depth_limit_on_not_and_lambdas() {
        assert!(parse_filter(&format!("{}a eq 1", "not ".repeat(16))).is_ok());
        assert_eq!(
            parse_filter(&format!("{}a eq 1", "not ".repeat(17)))
                .unwrap_err()
                .message,
            "$filter nests deeper than 16 levels"
        );
        assert_eq!(
            parse_filter(&format!("{}a eq 1", "not ".repeat(500)))
                .unwrap_err()
                .message,
            "$filter nests deeper than 16 levels"
        );
        let lambdas = format!("{}x eq 1{}", "m/any(m: ".repeat(9), ")".repeat(9));
        // 9 lambdas inside 9 `not`s: 18 levels combined.
        let mixed = format!("{}({lambdas})", "not ".repeat(8));
        assert_eq!(
            parse_filter(&mixed).unwrap_err().message,
            "$filter nests deeper than 16 levels"
        );
        assert!(parse_filter(&lambdas).is_ok());
    }

    #[test]
    fn depth_limit_on_function_calls() {
        let calls = format!("{}x{} eq 'a'", "tolower(".repeat(17), ")".repeat(17));
        assert_eq!(
            parse_filter(&calls).unwrap_err().message,
            "$filter nests deeper than 16 levels"
        );
    }

    #[test]
    fn huge_nested_input_is_rejected_without_overflow() {
        let input = nested_parens(50_000);
        assert!(input.len() > 100_000);
        assert_eq!(
            parse_filter(&input).unwrap_err().message,
            "$filter is longer than 2048 characters"
        );
        // The same shape within the length limit is stopped by the depth guard; run it on a
        // small stack to prove recursion is bounded by the guard, not by luck.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let near_limit = nested_parens(1020);
                assert!(near_limit.len() <= MAX_FILTER_LEN);
                let a = parse_filter(&near_limit).unwrap_err().message;
                let b = parse_filter(&"not (".repeat(400)).unwrap_err().message;
                let c = parse_filter(&"m/any(m:".repeat(250)).unwrap_err().message;
                (a, b, c)
            })
            .unwrap();
        let (a, b, c) = handle.join().unwrap();
        assert_eq!(a, "$filter nests deeper than 16 levels");
        assert_eq!(b, "$filter nests deeper than 16 levels");
        assert_eq!(c, "$filter nests deeper than 16 levels");
    }

    #[test]
    fn datetime_micros_handles_offsets_and_fractions() {
        assert_eq!(datetime_micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(datetime_micros("1969-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(datetime_micros("1970-01-01T00:00:00.000001Z"), Some(1));
        assert_eq!(datetime_micros("not a date"), None);
    }

    #[test]
    fn datetime_micros_refuses_text_with_a_character_across_byte_16() {
        // Found by the property tests: a quoted string compared with a date-time property
        // panicked (split inside a character) where it must be refused.
        assert_eq!(datetime_micros("Aꨀ®🤀 \u{c46}ﶒ"), None);
        assert_eq!(datetime_micros("aaaaaaaaaaaaaaaé"), None);
        assert_eq!(datetime_micros("2024-01-02T03:0é"), None);
    }
}
