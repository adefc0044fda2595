//! Collection reads as the domain sees them: the OData options a client sent, passed through to
//! the store, which alone knows how properties map to columns (and so owns the allow-lists).

/// One page request of a collection.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `$filter` as sent; compiled by the store against the entity's filterable properties.
    pub filter: Option<String>,
    /// `$orderby` as sent; checked against the entity's orderable properties.
    pub orderby: Option<String>,
    /// Page size, already checked to be within 1..=999.
    pub top: u32,
    /// Opaque continuation from a previous page's `@odata.nextLink`.
    pub skiptoken: Option<String>,
    /// Whether to count the whole filtered collection (`$count=true`).
    pub count: bool,
}

impl ListQuery {
    pub fn first(top: u32) -> Self {
        Self {
            top,
            ..Self::default()
        }
    }
}

/// One page of a collection.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more rows follow; goes into `@odata.nextLink` as `$skiptoken`.
    pub next_skiptoken: Option<String>,
    /// The size of the whole filtered collection when `$count=true` was asked.
    pub count: Option<i64>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_skiptoken: self.next_skiptoken,
            count: self.count,
        }
    }
}
