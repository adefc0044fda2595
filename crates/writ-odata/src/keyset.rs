//! Keyset paging: the ORDER BY for an `$orderby` plus a unique tiebreak, and the predicate that
//! selects the rows strictly after a given row in that order.
//!
//! NULL sorts differently by default on the two backends (first on SQLite, last on PostgreSQL),
//! so the order is pinned explicitly: NULL is the smallest value, i.e. `ASC NULLS FIRST` and
//! `DESC NULLS LAST`. [`order_by_sql`] writes that ORDER BY and [`keyset_after`] assumes it.
//!
//! A page cursor comes back from the client, so [`keyset_after`] checks each of its values
//! against the type of its key: a value of the wrong type would otherwise reach the database as
//! a comparison PostgreSQL refuses (a 500) and SQLite answers by its own cross-type ordering.

use crate::{FieldType, ODataError, OrderItem, SqlFragment, SqlValue};

/// The ORDER BY list (without the keywords `ORDER BY`) for `order` followed by the ascending
/// `tiebreak_sql`, with NULL as the smallest value on both backends.
pub fn order_by_sql(order: &[OrderItem], tiebreak_sql: &str) -> String {
    let mut keys: Vec<String> = order
        .iter()
        .map(|item| {
            if item.descending {
                format!("{} DESC NULLS LAST", item.sql)
            } else {
                format!("{} ASC NULLS FIRST", item.sql)
            }
        })
        .collect();
    keys.push(format!("{tiebreak_sql} ASC"));
    keys.join(", ")
}

/// The predicate selecting rows strictly after `last` in the order `order` followed by the
/// unique, non-null `tiebreak_sql` (ascending). `last` holds one value per order item, then the
/// tiebreak value. Produces `((a > $n) OR (a = $n AND b > $m) …)`, honouring `desc` per item
/// and NULL as the smallest value (see [`order_by_sql`]). Each placeholder is used once.
pub fn keyset_after(
    order: &[OrderItem],
    tiebreak_sql: &str,
    last: &[SqlValue],
    first_param: usize,
) -> Result<SqlFragment, ODataError> {
    if first_param == 0 {
        return Err(ODataError::new("placeholders are numbered from $1"));
    }
    if last.len() != order.len() + 1 {
        return Err(ODataError::new(format!(
            "$skiptoken is not valid for this query: it holds {} values but the order needs {}",
            last.len(),
            order.len() + 1
        )));
    }
    if last.last() == Some(&SqlValue::Null) {
        return Err(ODataError::new(
            "$skiptoken is not valid for this query: its tiebreak value is null",
        ));
    }
    let types = order
        .iter()
        .map(|item| (item.property.as_str(), item.ty))
        .chain(std::iter::once(("id", FieldType::Id)));
    let last: Vec<SqlValue> = types
        .zip(last)
        .map(|((property, ty), value)| {
            typed(value, ty).ok_or_else(|| {
                ODataError::new(format!(
                    "$skiptoken is not valid for this query: its value for '{property}' is not {}",
                    ty.describe()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let keys: Vec<(&str, bool)> = order
        .iter()
        .map(|item| (item.sql.as_str(), item.descending))
        .chain(std::iter::once((tiebreak_sql, false)))
        .collect();

    let mut params = Vec::new();
    let mut bind = |value: &SqlValue| {
        params.push(value.clone());
        format!("${}", first_param + params.len() - 1)
    };
    let mut terms = Vec::new();
    for (i, ((key, descending), value)) in keys.iter().zip(&last).enumerate() {
        // Nothing sorts after NULL in a descending key, so no row is "after" on this key.
        if *descending && *value == SqlValue::Null {
            continue;
        }
        let mut parts: Vec<String> = Vec::with_capacity(i + 1);
        for ((prior, _), prior_value) in keys.iter().zip(&last).take(i) {
            parts.push(match prior_value {
                SqlValue::Null => format!("{prior} IS NULL"),
                v => format!("{prior} = {}", bind(v)),
            });
        }
        parts.push(match (descending, value) {
            (false, SqlValue::Null) => format!("{key} IS NOT NULL"),
            (false, v) => format!("{key} > {}", bind(v)),
            (true, v) => format!("({key} < {} OR {key} IS NULL)", bind(v)),
        });
        terms.push(format!("({})", parts.join(" AND ")));
    }
    Ok(SqlFragment {
        sql: format!("({})", terms.join(" OR ")),
        params,
    })
}

/// `value` as a value of a key of type `ty`, or `None` when it cannot be one.
fn typed(value: &SqlValue, ty: FieldType) -> Option<SqlValue> {
    match (ty, value) {
        (_, SqlValue::Null)
        | (FieldType::Id | FieldType::Text | FieldType::Enum(_), SqlValue::Text(_))
        | (FieldType::DateTime | FieldType::Int, SqlValue::I64(_))
        | (FieldType::Bool, SqlValue::Bool(_)) => Some(value.clone()),
        // SQLite hands booleans back as the integers 0 and 1.
        (FieldType::Bool, SqlValue::I64(0)) => Some(SqlValue::Bool(false)),
        (FieldType::Bool, SqlValue::I64(1)) => Some(SqlValue::Bool(true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sql: &str, descending: bool) -> OrderItem {
        OrderItem {
            property: sql.to_owned(),
            sql: sql.to_owned(),
            ty: if sql.ends_with("created") {
                FieldType::DateTime
            } else {
                FieldType::Text
            },
            descending,
        }
    }

    fn text(s: &str) -> SqlValue {
        SqlValue::Text(s.to_owned())
    }

    #[test]
    fn tiebreak_only() {
        let f = keyset_after(&[], "u.id", &[text("k")], 1).unwrap();
        assert_eq!(f.sql, "((u.id > $1))");
        assert_eq!(f.params, vec![text("k")]);
    }

    #[test]
    fn ascending_key() {
        let f = keyset_after(&[item("u.name", false)], "u.id", &[text("n"), text("k")], 3).unwrap();
        assert_eq!(f.sql, "((u.name > $3) OR (u.name = $4 AND u.id > $5))");
        assert_eq!(f.params, vec![text("n"), text("n"), text("k")]);
    }

    #[test]
    fn descending_then_ascending_key() {
        let f = keyset_after(
            &[item("u.created", true), item("u.name", false)],
            "u.id",
            &[SqlValue::I64(10), text("n"), text("k")],
            1,
        )
        .unwrap();
        assert_eq!(
            f.sql,
            "(((u.created < $1 OR u.created IS NULL)) OR (u.created = $2 AND u.name > $3) OR (u.created = $4 AND u.name = $5 AND u.id > $6))"
        );
        assert_eq!(
            f.params,
            vec![
                SqlValue::I64(10),
                SqlValue::I64(10),
                text("n"),
                SqlValue::I64(10),
                text("n"),
                text("k")
            ]
        );
    }

    #[test]
    fn null_values_sort_first() {
        // Ascending after NULL: any non-null value comes later.
        let f = keyset_after(
            &[item("u.name", false)],
            "u.id",
            &[SqlValue::Null, text("k")],
            1,
        )
        .unwrap();
        assert_eq!(
            f.sql,
            "((u.name IS NOT NULL) OR (u.name IS NULL AND u.id > $1))"
        );
        assert_eq!(f.params, vec![text("k")]);
        // Descending after NULL: NULL is last, so only the tiebreak can advance.
        let f = keyset_after(
            &[item("u.name", true)],
            "u.id",
            &[SqlValue::Null, text("k")],
            1,
        )
        .unwrap();
        assert_eq!(f.sql, "((u.name IS NULL AND u.id > $1))");
        assert_eq!(f.params, vec![text("k")]);
    }

    #[test]
    fn cursor_shape_errors() {
        assert_eq!(
            keyset_after(&[item("u.name", false)], "u.id", &[text("k")], 1)
                .unwrap_err()
                .message,
            "$skiptoken is not valid for this query: it holds 1 values but the order needs 2"
        );
        assert_eq!(
            keyset_after(&[], "u.id", &[SqlValue::Null], 1)
                .unwrap_err()
                .message,
            "$skiptoken is not valid for this query: its tiebreak value is null"
        );
        assert!(keyset_after(&[], "u.id", &[text("k")], 0).is_err());
    }

    #[test]
    fn cursor_values_must_have_their_keys_types() {
        let message = |order: &[OrderItem], last: &[SqlValue]| {
            keyset_after(order, "u.id", last, 1).unwrap_err().message
        };
        assert_eq!(
            message(&[item("u.created", false)], &[text("yesterday"), text("k")]),
            "$skiptoken is not valid for this query: its value for 'u.created' is not a date-time"
        );
        assert_eq!(
            message(&[item("u.name", true)], &[SqlValue::I64(3), text("k")]),
            "$skiptoken is not valid for this query: its value for 'u.name' is not text"
        );
        assert_eq!(
            message(&[], &[SqlValue::Bool(true)]),
            "$skiptoken is not valid for this query: its value for 'id' is not an id"
        );
        // Booleans read back from SQLite as 0/1 are bound as booleans.
        let flag = OrderItem {
            ty: FieldType::Bool,
            ..item("u.enabled", false)
        };
        let f = keyset_after(
            std::slice::from_ref(&flag),
            "u.id",
            &[SqlValue::I64(1), text("k")],
            1,
        )
        .unwrap();
        assert_eq!(f.params[0], SqlValue::Bool(true));
        assert!(keyset_after(&[flag], "u.id", &[SqlValue::I64(2), text("k")], 1).is_err());
    }

    #[test]
    fn order_by_pins_null_order() {
        assert_eq!(
            order_by_sql(&[item("u.created", true), item("u.name", false)], "u.id"),
            "u.created DESC NULLS LAST, u.name ASC NULLS FIRST, u.id ASC"
        );
        assert_eq!(order_by_sql(&[], "u.id"), "u.id ASC");
    }
}
