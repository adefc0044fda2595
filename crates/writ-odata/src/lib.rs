//! OData v4 query options as Microsoft Graph v1.0 uses them (`$filter`, `$orderby`, `$select`,
//! `$expand`, `$top`, `$count`), and the compilation of `$filter`/`$orderby`/keyset paging into
//! SQL fragments with bound parameters that run unchanged on SQLite and PostgreSQL.
//!
//! # Why this crate exists
//!
//! No maintained Rust crate compiles an OData `$filter` to SQL for two dialects with bound
//! parameters and per-entity allow-lists, so the grammar is written here on `peg`. Keeping it
//! small and explicit has benefits of its own:
//!
//! * every property a client names is looked up in an [`EntitySchema`] (the allow-list), so a
//!   filter can only ever touch columns the store chose to expose, and every literal is a bound
//!   parameter — user text never reaches the SQL string;
//! * the emitted SQL uses only constructs both backends share (`lower()`, `LIKE … ESCAPE '\'`,
//!   `EXISTS (SELECT 1 …)`, `IS NULL`, `IN (…)`, `IS NOT TRUE`) and `$1, $2, …` placeholders;
//! * the input size and nesting depth are bounded before and during parsing, so a hostile
//!   `$filter` cannot exhaust the stack.
//!
//! # Semantics worth knowing
//!
//! * The SQL is written so that it is TRUE exactly when the OData predicate is true. OData treats
//!   a comparison with a null property as false (and `ne` as true), whereas SQL yields NULL; so
//!   `ne` adds `OR col IS NULL`, `not` compiles to `(…) IS NOT TRUE` and `all()` looks for an
//!   element whose predicate `IS NOT TRUE`.
//! * Text comparisons fold case on both sides with the database's own `lower()`, so the two sides
//!   are always folded by the same function.
//! * Each bound value is used by exactly one placeholder; `params[i]` binds `$(first_param + i)`.
//!
//! ```
//! use writ_odata::{filter_to_sql, EntitySchema, FieldDef, FieldType, SqlValue};
//!
//! static USER: EntitySchema = EntitySchema {
//!     entity: "user",
//!     fields: &[(
//!         "displayName",
//!         FieldDef::Scalar { sql: "{t}.display_name", ty: FieldType::Text, orderable: true },
//!     )],
//! };
//! let f = filter_to_sql("startswith(displayName,'Ad')", &USER, "u", 1).unwrap();
//! assert_eq!(f.sql, r"lower(u.display_name) LIKE lower($1) ESCAPE '\'");
//! assert_eq!(f.params, vec![SqlValue::Text("Ad%".into())]);
//! ```

mod compile;
pub mod filter;
mod keyset;
mod options;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod test_schemas;

pub use compile::{MAX_IN_VALUES, compile_filter, filter_to_sql};
pub use keyset::{keyset_after, order_by_sql};
pub use options::{
    DEFAULT_TOP, ExpandItem, MAX_EXPAND_DEPTH, MAX_OPTION_LEN, MAX_ORDERBY_ITEMS, MAX_TOP,
    OrderItem, parse_bool_option, parse_expand, parse_orderby, parse_select, parse_top,
};

/// A value bound to one numbered placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    I64(i64),
    Bool(bool),
    Null,
}

/// A boolean SQL expression (or other fragment) together with the values for its placeholders,
/// in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// A query option the client got wrong; `message` is safe to show to the client and names the
/// offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ODataError {
    pub message: String,
}

impl ODataError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// How a scalar property is stored and therefore compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text compared exactly (ids, GUIDs): `eq`, `ne`, `in`, ordering operators.
    Id,
    /// Text compared case-insensitively; also the target of `startswith`/`endswith`/`contains`.
    Text,
    Bool,
    /// Stored as BIGINT unix microseconds; literals are ISO-8601 (quoted or not).
    DateTime,
    Int,
    /// Stored as the canonical member spelling; literals match the members case-insensitively.
    Enum(&'static [&'static str]),
}

impl FieldType {
    /// How the type is named in error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            FieldType::Id => "an id",
            FieldType::Text => "text",
            FieldType::Bool => "boolean",
            FieldType::DateTime => "a date-time",
            FieldType::Int => "an integer",
            FieldType::Enum(_) => "an enumeration",
        }
    }
}

/// One filterable/orderable property of an entity.
#[derive(Debug, Clone, Copy)]
pub enum FieldDef {
    /// A scalar: an SQL expression over the outer row alias, with `{t}` standing for the alias of
    /// the row it belongs to, e.g. `"{t}.display_name"`, or a correlated subquery
    /// `"(SELECT r.origin_system FROM resources r WHERE r.id = {t}.resource_id)"`.
    Scalar {
        sql: &'static str,
        ty: FieldType,
        orderable: bool,
    },
    /// A collection navigable with `any`/`all` lambdas. `from` is the FROM/WHERE body of a
    /// correlated subquery with `{a}` = the alias the compiler picks for the collection row and
    /// `{t}` = the alias of the enclosing row, e.g.
    /// `"group_members {a} WHERE {a}.group_id = {t}.id"`. Properties of the element (`m/id`) are
    /// looked up in `element.fields` with `{t}` standing for `{a}`; for a collection of
    /// primitives the element schema has one field named `"$it"`, used when the lambda variable
    /// itself is the operand (`proxyAddresses/any(p: startswith(p,'smtp:'))`).
    Collection {
        from: &'static str,
        element: &'static EntitySchema,
    },
}

/// The allow-list of one entity: the only properties a query may name.
#[derive(Debug)]
pub struct EntitySchema {
    /// The entity's name as shown in error messages, e.g. `"user"`.
    pub entity: &'static str,
    /// Full property paths as written in a query (`"displayName"`, `"accessPackage/id"`).
    pub fields: &'static [(&'static str, FieldDef)],
}

impl EntitySchema {
    /// Looks a property path up case-insensitively (Graph tolerates any case), returning its
    /// canonical spelling and definition.
    pub fn field(&self, path: &str) -> Option<(&'static str, &'static FieldDef)> {
        let fields: &'static [(&'static str, FieldDef)] = self.fields;
        fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(path))
            .map(|(name, def)| (*name, def))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_schemas::{GROUP, USER};

    /// The crate documentation's example, as written there (doctests are off: a doctest run is
    /// a test harness of its own).
    #[test]
    fn the_crate_example_holds() {
        static USER: EntitySchema = EntitySchema {
            entity: "user",
            fields: &[(
                "displayName",
                FieldDef::Scalar {
                    sql: "{t}.display_name",
                    ty: FieldType::Text,
                    orderable: true,
                },
            )],
        };
        let f = filter_to_sql("startswith(displayName,'Ad')", &USER, "u", 1).unwrap();
        assert_eq!(f.sql, r"lower(u.display_name) LIKE lower($1) ESCAPE '\'");
        assert_eq!(f.params, vec![SqlValue::Text("Ad%".into())]);
    }

    #[test]
    fn compiled_sql_binds_every_placeholder_once() {
        let f = filter_to_sql(
            "members/any(m: m/id in ('a','b') and not startswith(m/displayName,'x')) or displayName eq 'y'",
            &GROUP,
            "g",
            7,
        )
        .unwrap();
        assert_eq!(f.params.len(), 4);
        // Every `$n` in the text, in order of appearance.
        let placeholders: Vec<usize> = f
            .sql
            .split('$')
            .skip(1)
            .map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().unwrap()
            })
            .collect();
        assert_eq!(placeholders, vec![7, 8, 9, 10], "{}", f.sql);
    }

    #[test]
    fn schema_lookup_is_case_insensitive() {
        let (name, def) = USER.field("DisplayName").unwrap();
        assert_eq!(name, "displayName");
        assert!(matches!(
            def,
            FieldDef::Scalar {
                ty: FieldType::Text,
                orderable: true,
                ..
            }
        ));
        assert!(USER.field("nope").is_none());
    }

    #[test]
    fn error_displays_its_message() {
        let e = ODataError::new("property 'foo' is not filterable on user");
        assert_eq!(e.to_string(), "property 'foo' is not filterable on user");
    }
}
