//! Paged collection reads: `$filter` and `$orderby` compiled against an entity's allow-list,
//! keyset paging with an opaque `$skiptoken`, and `$count`.
//!
//! The skiptoken carries the sort key of the last row returned plus a fingerprint of the filter
//! and order it was made for, so a token replayed against another query is refused rather than
//! silently skipping the wrong rows. Keyset (not offset) paging keeps deep pages as cheap as the
//! first.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::StoreError;
use writ_odata::{EntitySchema, OrderItem, SqlValue};

use crate::error::ResultExt;

/// Binds one compiled value. Booleans and instants travel as the types the columns hold.
pub(crate) fn bind_value<'q>(
    query: Query<'q, Any, AnyArguments>,
    value: &SqlValue,
) -> Query<'q, Any, AnyArguments> {
    match value {
        SqlValue::Text(s) => query.bind(s.clone()),
        SqlValue::I64(i) => query.bind(*i),
        SqlValue::Bool(b) => query.bind(*b),
        SqlValue::Null => query.bind(Option::<String>::None),
    }
}

fn invalid(e: writ_odata::ODataError) -> StoreError {
    StoreError::InvalidQuery(e.message)
}

/// FNV-1a over the query text: stable across processes and builds, which a skiptoken must be.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0u8)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

pub(crate) fn encode_token(fp: &str, keys: &[SqlValue]) -> String {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| match k {
            SqlValue::Text(s) => serde_json::Value::from(s.clone()),
            SqlValue::I64(i) => serde_json::Value::from(*i),
            SqlValue::Bool(b) => serde_json::Value::from(*b),
            SqlValue::Null => serde_json::Value::Null,
        })
        .collect();
    token_text(fp, serde_json::Value::Array(keys))
}

/// The token for a fingerprint and sort keys (JSON, base64url).
pub(crate) fn token_text(fp: &str, keys: serde_json::Value) -> String {
    let body = serde_json::json!({ "f": fp, "k": keys });
    URL_SAFE_NO_PAD.encode(body.to_string())
}

pub(crate) fn decode_token(
    token: &str,
    fp: &str,
    expected_keys: usize,
) -> Result<Vec<SqlValue>, StoreError> {
    let bad = || StoreError::InvalidQuery("$skiptoken is not valid for this query".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if body.get("f").and_then(|f| f.as_str()) != Some(fp) {
        return Err(bad());
    }
    let keys = body.get("k").and_then(|k| k.as_array()).ok_or_else(bad)?;
    if keys.len() != expected_keys {
        return Err(bad());
    }
    keys.iter()
        .map(|k| match k {
            serde_json::Value::String(s) => Ok(SqlValue::Text(s.clone())),
            serde_json::Value::Number(n) => n.as_i64().map(SqlValue::I64).ok_or_else(bad),
            serde_json::Value::Bool(b) => Ok(SqlValue::Bool(*b)),
            serde_json::Value::Null => Ok(SqlValue::Null),
            _ => Err(bad()),
        })
        .collect()
}

/// Reads a sort key back from its result column, whatever its SQL type.
fn key_value(row: &AnyRow, column: &str) -> Result<SqlValue, StoreError> {
    if let Ok(v) = row.try_get::<Option<i64>, _>(column) {
        return Ok(v.map_or(SqlValue::Null, SqlValue::I64));
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(column) {
        return Ok(v.map_or(SqlValue::Null, SqlValue::Text));
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(column) {
        return Ok(v.map_or(SqlValue::Null, SqlValue::Bool));
    }
    Err(StoreError::Other(format!("unreadable sort key {column}")))
}

/// One collection read.
pub(crate) struct ListSpec<'a> {
    pub schema: &'static EntitySchema,
    /// `FROM` body with the row alias `t`, e.g. `users t`.
    pub from: &'a str,
    /// Columns to select (aliased on `t`).
    pub columns: &'a str,
    /// A condition always applied (visibility, parent), with its parameters numbered from 1.
    pub base_where: Option<(String, Vec<SqlValue>)>,
}

pub(crate) async fn list<T>(
    pool: &AnyPool,
    spec: ListSpec<'_>,
    query: &ListQuery,
    map: impl Fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some((sql, base_params)) = &spec.base_where {
        conditions.push(format!("({sql})"));
        params.extend(base_params.iter().cloned());
    }
    if let Some(filter) = query.filter.as_deref() {
        let fragment = writ_odata::filter_to_sql(filter, spec.schema, "t", params.len() + 1)
            .map_err(invalid)?;
        conditions.push(format!("({})", fragment.sql));
        params.extend(fragment.params);
    }
    let filter_conditions = conditions.clone();
    let filter_params = params.clone();

    let order: Vec<OrderItem> = match query.orderby.as_deref() {
        Some(text) => writ_odata::parse_orderby(text, spec.schema, "t").map_err(invalid)?,
        None => Vec::new(),
    };
    let fp = fingerprint(&[
        spec.schema.entity,
        query.filter.as_deref().unwrap_or(""),
        query.orderby.as_deref().unwrap_or(""),
    ]);
    if let Some(token) = query.skiptoken.as_deref() {
        let last = decode_token(token, &fp, order.len() + 1)?;
        let after =
            writ_odata::keyset_after(&order, "t.id", &last, params.len() + 1).map_err(invalid)?;
        conditions.push(format!("({})", after.sql));
        params.extend(after.params);
    }

    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let order_sql = writ_odata::order_by_sql(&order, "t.id");
    let key_columns: String = order
        .iter()
        .enumerate()
        .map(|(i, o)| format!(", {} AS sort_key_{i}", o.sql))
        .collect();
    let limit_param = params.len() + 1;
    let sql = format!(
        "SELECT {}{key_columns} FROM {}{where_clause} ORDER BY {order_sql} LIMIT ${limit_param}",
        spec.columns, spec.from,
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for p in &params {
        q = bind_value(q, p);
    }
    q = q.bind(i64::from(query.top) + 1);
    let rows = q.fetch_all(pool).await.store()?;

    let has_more = rows.len() > query.top as usize;
    let mut items = Vec::with_capacity(rows.len().min(query.top as usize));
    let mut next_skiptoken = None;
    for (index, row) in rows.iter().enumerate() {
        if index == query.top as usize {
            break;
        }
        items.push(map(row)?);
        if has_more && index + 1 == query.top as usize {
            let mut keys = Vec::with_capacity(order.len() + 1);
            for i in 0..order.len() {
                keys.push(key_value(row, &format!("sort_key_{i}"))?);
            }
            keys.push(SqlValue::Text(row.try_get("id").store()?));
            next_skiptoken = Some(encode_token(&fp, &keys));
        }
    }

    let count = if query.count {
        let where_clause = if filter_conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filter_conditions.join(" AND "))
        };
        let sql = format!("SELECT COUNT(*) AS n FROM {}{where_clause}", spec.from);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in &filter_params {
            q = bind_value(q, p);
        }
        let row = q.fetch_one(pool).await.store()?;
        Some(row.try_get::<i64, _>("n").store()?)
    } else {
        None
    };
    Ok(Page {
        items,
        next_skiptoken,
        count,
    })
}

/// Skiptoken of listings ordered only by object id (member and owner lists).
pub(crate) fn encode_id_token(last_id: &str) -> String {
    encode_token("ids", &[SqlValue::Text(last_id.to_owned())])
}

pub(crate) fn decode_id_token(token: &str) -> Result<String, StoreError> {
    match decode_token(token, "ids", 1)?.pop() {
        Some(SqlValue::Text(id)) => Ok(id),
        _ => Err(StoreError::InvalidQuery(
            "$skiptoken is not valid for this query".into(),
        )),
    }
}
