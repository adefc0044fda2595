//! Graph's query options and response envelopes, once for every endpoint: the [`ODataQuery`]
//! extractor (`$filter`, `$orderby`, `$select`, `$expand`, `$top`, `$skiptoken`, `$count`), the
//! `@odata.context` and absolute `@odata.nextLink`, and `$select` projection.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use serde_json::{Map, Value};
use writ_domain::query::{ListQuery, Page};
use writ_odata::ExpandItem;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The Graph version segment a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphVersion {
    V1,
    Beta,
}

impl GraphVersion {
    pub fn segment(self) -> &'static str {
        match self {
            GraphVersion::V1 => "v1.0",
            GraphVersion::Beta => "beta",
        }
    }
}

/// The parsed query options of a request plus what is needed to build links back to it.
#[derive(Debug, Clone)]
pub struct ODataQuery {
    pub filter: Option<String>,
    pub orderby: Option<String>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<ExpandItem>,
    pub top: u32,
    pub skiptoken: Option<String>,
    pub count: bool,
    pub version: GraphVersion,
    /// The full request path (with the version prefix).
    pub path: String,
    /// The query pairs as sent, for rebuilding `@odata.nextLink`.
    pairs: Vec<(String, String)>,
    /// Whether `$top` or `$count` were given (they have defaults, so the values cannot tell).
    paging_given: bool,
    public_url: String,
}

/// System query options Writ recognizes; `$search`, `$skip`, `$format` and others are refused.
const KNOWN_OPTIONS: &[&str] = &[
    "filter",
    "orderby",
    "select",
    "expand",
    "top",
    "skiptoken",
    "count",
];

impl FromRequestParts<AppState> for ODataQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.path().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        let version = if path.starts_with("/beta") {
            GraphVersion::Beta
        } else {
            GraphVersion::V1
        };
        let raw = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut filter = None;
        let mut orderby = None;
        let mut select = None;
        let mut expand = Vec::new();
        let mut top = None;
        let mut skiptoken = None;
        let mut count = None;
        for (key, value) in &pairs {
            // Graph accepts the options with or without the `$` on v1.0.
            let name = key.strip_prefix('$').unwrap_or(key).to_ascii_lowercase();
            if !KNOWN_OPTIONS.contains(&name.as_str()) {
                if key.starts_with('$') {
                    return Err(ApiError::bad_request(format!(
                        "the query option '{key}' is not supported"
                    )));
                }
                continue;
            }
            let duplicate = || {
                ApiError::bad_request(format!(
                    "the query option '${name}' is given more than once"
                ))
            };
            match name.as_str() {
                "filter" => set_once(&mut filter, value.clone()).ok_or_else(duplicate)?,
                "orderby" => set_once(&mut orderby, value.clone()).ok_or_else(duplicate)?,
                "select" => {
                    set_once(&mut select, writ_odata::parse_select(value)?).ok_or_else(duplicate)?
                }
                "expand" => expand.extend(writ_odata::parse_expand(value)?),
                "top" => {
                    set_once(&mut top, writ_odata::parse_top(Some(value))?).ok_or_else(duplicate)?
                }
                "skiptoken" => set_once(&mut skiptoken, value.clone()).ok_or_else(duplicate)?,
                "count" => set_once(
                    &mut count,
                    writ_odata::parse_bool_option("$count", Some(value))?,
                )
                .ok_or_else(duplicate)?,
                _ => {}
            }
        }
        let paging_given = top.is_some() || count.is_some();
        Ok(ODataQuery {
            paging_given,
            filter,
            orderby,
            select,
            expand,
            top: match top {
                Some(top) => top,
                None => writ_odata::parse_top(None)?,
            },
            skiptoken,
            count: count.unwrap_or(false),
            version,
            path,
            pairs,
            public_url: state.settings.public_url.clone(),
        })
    }
}

impl ODataQuery {
    pub fn list_query(&self) -> ListQuery {
        ListQuery {
            filter: self.filter.clone(),
            orderby: self.orderby.clone(),
            top: self.top,
            skiptoken: self.skiptoken.clone(),
            count: self.count,
        }
    }

    /// A create answers with the created entity as it is: `$select` and `$expand` would be
    /// checked only after the object is saved, so they are refused up front.
    pub fn for_create(&self) -> ApiResult<()> {
        if self.select.is_some() || !self.expand.is_empty() {
            return Err(ApiError::bad_request(
                "$select and $expand are not supported when creating an object",
            ));
        }
        self.single_entity()
    }

    /// Refuses options that make no sense on a single entity.
    pub fn single_entity(&self) -> ApiResult<()> {
        if self.filter.is_some()
            || self.orderby.is_some()
            || self.skiptoken.is_some()
            || self.paging_given
        {
            return Err(ApiError::bad_request(
                "$filter, $orderby, $top, $count and $skiptoken apply to collections only",
            ));
        }
        Ok(())
    }

    /// `{public_url}/{version}/$metadata#{fragment}`.
    pub fn context(&self, fragment: &str) -> String {
        let select = match &self.select {
            Some(fields) => format!("({})", fields.join(",")),
            None => String::new(),
        };
        // Graph writes the selection before `/$entity`: `#users(id,displayName)/$entity`.
        let fragment = match fragment.strip_suffix("/$entity") {
            Some(set) => format!("{set}{select}/$entity"),
            None => format!("{fragment}{select}"),
        };
        format!(
            "{}/{}/$metadata#{fragment}",
            self.public_url,
            self.version.segment()
        )
    }

    /// The absolute link to the next page: this request with the new `$skiptoken`.
    pub fn next_link(&self, skiptoken: &str) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.pairs {
            if key
                .trim_start_matches('$')
                .eq_ignore_ascii_case("skiptoken")
            {
                continue;
            }
            serializer.append_pair(key, value);
        }
        serializer.append_pair("$skiptoken", skiptoken);
        format!("{}{}?{}", self.public_url, self.path, serializer.finish())
    }

    /// Applies `$select` to one entity, checking each name against the entity's properties.
    pub fn project(&self, entity: &mut Map<String, Value>, type_name: &str) -> ApiResult<()> {
        if let Some(fields) = &self.select {
            let expanded: Vec<&str> = self.expand.iter().map(|e| e.property.as_str()).collect();
            project(entity, fields, &expanded, type_name)?;
        }
        Ok(())
    }

    /// A collection response from rendered entities.
    pub fn collection(
        &self,
        context_fragment: &str,
        type_name: &str,
        page: Page<Map<String, Value>>,
    ) -> ApiResult<Value> {
        self.page_body(Some(self.context(context_fragment)), type_name, page)
    }

    /// A collection of Writ's own API (`/writ/v1/…`): Graph's paging, `$count` and `$select`,
    /// without `@odata.context` (there is no Graph metadata to point at).
    pub fn writ_collection(
        &self,
        type_name: &str,
        page: Page<Map<String, Value>>,
    ) -> ApiResult<Value> {
        self.page_body(None, type_name, page)
    }

    fn page_body(
        &self,
        context: Option<String>,
        type_name: &str,
        page: Page<Map<String, Value>>,
    ) -> ApiResult<Value> {
        let mut body = Map::new();
        if let Some(context) = context {
            body.insert("@odata.context".into(), Value::from(context));
        }
        if let Some(count) = page.count {
            body.insert("@odata.count".into(), Value::from(count));
        }
        if let Some(token) = &page.next_skiptoken {
            body.insert("@odata.nextLink".into(), Value::from(self.next_link(token)));
        }
        let mut items = Vec::with_capacity(page.items.len());
        for mut item in page.items {
            self.project(&mut item, type_name)?;
            items.push(Value::Object(item));
        }
        body.insert("value".into(), Value::Array(items));
        Ok(Value::Object(body))
    }

    /// A single-entity response.
    pub fn entity(
        &self,
        context_fragment: &str,
        type_name: &str,
        mut entity: Map<String, Value>,
    ) -> ApiResult<Value> {
        self.project(&mut entity, type_name)?;
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::from(self.context(&format!("{context_fragment}/$entity"))),
        );
        body.extend(entity);
        Ok(Value::Object(body))
    }

    /// Whether `$expand` names this navigation; any other name is refused by `check_expand`.
    pub fn expands(&self, navigation: &str) -> bool {
        self.expand
            .iter()
            .any(|e| e.property.eq_ignore_ascii_case(navigation))
    }

    /// Like [`Self::check_expand`], with one level of nested `$expand` allowed where listed:
    /// `("resourceRoleScopes", &["role", "scope"])`.
    pub fn check_expand_nested(
        &self,
        type_name: &str,
        allowed: &[(&str, &[&str])],
    ) -> ApiResult<()> {
        for item in &self.expand {
            let Some((_, nested)) = allowed
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&item.property))
            else {
                let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                return Err(ApiError::bad_request(format!(
                    "$expand of '{}' is not supported on {type_name}; supported: {}",
                    item.property,
                    names.join(", ")
                )));
            };
            if item.select.is_some() || item.filter.is_some() {
                return Err(ApiError::bad_request(format!(
                    "only $expand is supported inside $expand ('{}(…)')",
                    item.property
                )));
            }
            for inner in &item.expand {
                if !nested
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&inner.property))
                    || inner.select.is_some()
                    || inner.filter.is_some()
                    || !inner.expand.is_empty()
                {
                    return Err(ApiError::bad_request(format!(
                        "$expand of '{}' inside '{}' is not supported",
                        inner.property, item.property
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether `$expand=outer($expand=inner)` was asked.
    pub fn expands_nested(&self, outer: &str, inner: &str) -> bool {
        self.expand.iter().any(|e| {
            e.property.eq_ignore_ascii_case(outer)
                && e.expand
                    .iter()
                    .any(|i| i.property.eq_ignore_ascii_case(inner))
        })
    }

    /// Refuses `$expand` of anything but the listed navigations.
    pub fn check_expand(&self, type_name: &str, allowed: &[&str]) -> ApiResult<()> {
        for item in &self.expand {
            if item.select.is_some() || item.filter.is_some() || !item.expand.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "options inside $expand ('{}(…)') are not supported",
                    item.property
                )));
            }
            if !allowed
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&item.property))
            {
                return Err(ApiError::bad_request(format!(
                    "$expand of '{}' is not supported on {type_name}; supported: {}",
                    item.property,
                    if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

/// Fills an option slot once; `None` if it was already filled (the option was repeated).
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// Keeps only the selected properties (and annotations). A name the entity does not have is a
/// `400`, as in Graph.
fn project(
    entity: &mut Map<String, Value>,
    fields: &[String],
    expanded: &[&str],
    type_name: &str,
) -> ApiResult<()> {
    // Items of a polymorphic collection (directoryObject) have the properties of their own
    // type: a property one subtype lacks is simply absent from that item.
    if type_name != "directoryObject" {
        for field in fields {
            if !entity.contains_key(field.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Could not find a property named '{field}' on type 'microsoft.graph.{type_name}'."
                )));
            }
        }
    }
    entity.retain(|key, _| {
        key.starts_with('@') || fields.iter().any(|f| f == key) || expanded.contains(&key.as_str())
    });
    Ok(())
}

/// The body of `GET /{collection}/$count`: the size of the filtered collection, as plain text.
pub fn count_response(count: i64) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        count.to_string(),
    )
        .into_response()
}

impl ODataQuery {
    /// The query for `/$count`: only `$filter` applies.
    pub fn count_query(&self) -> ApiResult<ListQuery> {
        if self.orderby.is_some()
            || self.select.is_some()
            || !self.expand.is_empty()
            || self.skiptoken.is_some()
        {
            return Err(ApiError::bad_request("only $filter applies to $count"));
        }
        Ok(ListQuery {
            filter: self.filter.clone(),
            orderby: None,
            top: 1,
            skiptoken: None,
            count: true,
        })
    }
}
