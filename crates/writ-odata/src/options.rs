//! The simpler query options: `$orderby` (checked against the schema), `$select`, `$expand`
//! (shape only; the caller checks names), `$top` and boolean options such as `$count`.

use crate::{EntitySchema, FieldDef, FieldType, ODataError};

/// Longest `$orderby`/`$select`/`$expand` accepted, in characters.
pub const MAX_OPTION_LEN: usize = 2048;
/// Most properties `$orderby` may list (the tiebreak key is added on top).
pub const MAX_ORDERBY_ITEMS: usize = 4;
/// Deepest `$expand` nesting: `a($expand=b($expand=c))` is 3.
pub const MAX_EXPAND_DEPTH: usize = 3;
/// Page size when `$top` is absent.
pub const DEFAULT_TOP: u32 = 100;
/// Largest `$top`.
pub const MAX_TOP: u32 = 999;

fn err(message: impl Into<String>) -> ODataError {
    ODataError::new(message)
}

fn check_len(option: &str, input: &str) -> Result<(), ODataError> {
    if input.chars().count() > MAX_OPTION_LEN {
        return Err(err(format!(
            "{option} is longer than {MAX_OPTION_LEN} characters"
        )));
    }
    Ok(())
}

/// One `$orderby` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// The property's canonical spelling in the schema.
    pub property: String,
    /// The property's SQL with the row alias substituted.
    pub sql: String,
    /// How the property is stored: what type a page cursor's value for it must have.
    pub ty: FieldType,
    pub descending: bool,
}

/// Parses `$orderby` (`"displayName desc, createdDateTime"`); only orderable scalar properties,
/// at most [`MAX_ORDERBY_ITEMS`], each at most once.
pub fn parse_orderby(
    input: &str,
    schema: &EntitySchema,
    outer_alias: &str,
) -> Result<Vec<OrderItem>, ODataError> {
    check_len("$orderby", input)?;
    if input.trim().is_empty() {
        return Err(err("$orderby is empty"));
    }
    let mut items: Vec<OrderItem> = Vec::new();
    for raw in input.split(',') {
        let mut words = raw.split_whitespace();
        let Some(name) = words.next() else {
            return Err(err("$orderby has an empty item"));
        };
        let descending = match words.next() {
            None => false,
            Some(d) if d.eq_ignore_ascii_case("asc") => false,
            Some(d) if d.eq_ignore_ascii_case("desc") => true,
            Some(d) => {
                return Err(err(format!(
                    "$orderby direction for '{name}' must be asc or desc, not '{d}'"
                )));
            }
        };
        if let Some(extra) = words.next() {
            return Err(err(format!(
                "unexpected '{extra}' after '{}' in $orderby",
                raw.trim()
            )));
        }
        let (property, sql, ty) = match schema.field(name) {
            Some((
                canonical,
                FieldDef::Scalar {
                    sql,
                    ty,
                    orderable: true,
                },
            )) => (canonical, sql.replace("{t}", outer_alias), *ty),
            _ => {
                return Err(err(format!(
                    "property '{name}' is not orderable on {}",
                    schema.entity
                )));
            }
        };
        if items.iter().any(|i| i.property == property) {
            return Err(err(format!(
                "property '{name}' appears more than once in $orderby"
            )));
        }
        if items.len() == MAX_ORDERBY_ITEMS {
            return Err(err(format!(
                "$orderby accepts at most {MAX_ORDERBY_ITEMS} properties"
            )));
        }
        items.push(OrderItem {
            property: property.to_owned(),
            sql,
            ty,
            descending,
        });
    }
    Ok(items)
}

fn is_select_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_')
}

/// Parses `$select` into trimmed names; the caller checks that the names exist.
pub fn parse_select(input: &str) -> Result<Vec<String>, ODataError> {
    check_len("$select", input)?;
    if input.trim().is_empty() {
        return Err(err("$select is empty"));
    }
    let mut names = Vec::new();
    for raw in input.split(',') {
        let name = raw.trim();
        if name.is_empty() {
            return Err(err("$select has an empty item"));
        }
        if let Some(bad) = name.chars().find(|c| !is_select_char(*c)) {
            return Err(err(format!(
                "invalid character '{bad}' in $select item '{name}'"
            )));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// One `$expand` item with its nested options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExpandItem {
    pub property: String,
    /// `$select` inside the parentheses.
    pub select: Option<Vec<String>>,
    /// `$expand` inside the parentheses.
    pub expand: Vec<ExpandItem>,
    /// `$filter` inside the parentheses, as written (trimmed); compile it with the target's
    /// schema.
    pub filter: Option<String>,
}

/// Parses `$expand`: `"members,owners"`, `"resourceRoleScopes($expand=role,scope)"`,
/// `"manager($select=id,displayName;$expand=x)"`, nested at most [`MAX_EXPAND_DEPTH`] deep.
pub fn parse_expand(input: &str) -> Result<Vec<ExpandItem>, ODataError> {
    check_len("$expand", input)?;
    let mut parser = ExpandParser {
        chars: input.chars().collect(),
        pos: 0,
    };
    let items = parser.items(1)?;
    parser.skip_ws();
    if parser.pos < parser.chars.len() {
        return Err(parser.syntax("',' or the end"));
    }
    Ok(items)
}

/// A small recursive-descent parser; recursion is bounded by [`MAX_EXPAND_DEPTH`].
struct ExpandParser {
    chars: Vec<char>,
    pos: usize,
}

impl ExpandParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn syntax(&self, expected: &str) -> ODataError {
        err(format!(
            "syntax error at position {} in $expand: expected {expected}",
            self.pos
        ))
    }

    fn expect(&mut self, c: char) -> Result<(), ODataError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax(&format!("'{c}'")))
        }
    }

    fn items(&mut self, depth: usize) -> Result<Vec<ExpandItem>, ODataError> {
        if depth > MAX_EXPAND_DEPTH {
            return Err(err(format!(
                "$expand nests deeper than {MAX_EXPAND_DEPTH} levels"
            )));
        }
        let mut items = Vec::new();
        loop {
            items.push(self.item(depth)?);
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
            } else {
                return Ok(items);
            }
        }
    }

    fn item(&mut self, depth: usize) -> Result<ExpandItem, ODataError> {
        self.skip_ws();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '@'))
        {
            self.pos += 1;
        }
        let property: String = self.chars[start..self.pos].iter().collect();
        if property.is_empty() || property.split('/').any(str::is_empty) {
            self.pos = start;
            return Err(self.syntax("a navigation property name"));
        }
        let mut item = ExpandItem {
            property,
            ..ExpandItem::default()
        };
        self.skip_ws();
        if self.peek() == Some('(') {
            self.pos += 1;
            self.options(depth, &mut item)?;
            self.expect(')')?;
        }
        Ok(item)
    }

    fn options(&mut self, depth: usize, item: &mut ExpandItem) -> Result<(), ODataError> {
        loop {
            self.skip_ws();
            let start = self.pos;
            if self.peek() == Some('$') {
                self.pos += 1;
            }
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.pos += 1;
            }
            let name: String = self.chars[start..self.pos].iter().collect();
            if name.len() < 2 {
                self.pos = start;
                return Err(self.syntax("an option such as $select, $expand or $filter"));
            }
            self.expect('=')?;
            let duplicate = || {
                err(format!(
                    "{name} appears more than once for '{}' in $expand",
                    item.property
                ))
            };
            match name.to_ascii_lowercase().as_str() {
                "$select" => {
                    if item.select.is_some() {
                        return Err(duplicate());
                    }
                    let raw = self.raw_value();
                    item.select = Some(parse_select(&raw)?);
                }
                "$expand" => {
                    if !item.expand.is_empty() {
                        return Err(duplicate());
                    }
                    item.expand = self.items(depth + 1)?;
                }
                "$filter" => {
                    if item.filter.is_some() {
                        return Err(duplicate());
                    }
                    let raw = self.raw_value();
                    let raw = raw.trim();
                    if raw.is_empty() {
                        return Err(err(format!(
                            "$filter for '{}' in $expand is empty",
                            item.property
                        )));
                    }
                    item.filter = Some(raw.to_owned());
                }
                _ => {
                    return Err(err(format!(
                        "unsupported option '{name}' in $expand of '{}'",
                        item.property
                    )));
                }
            }
            self.skip_ws();
            if self.peek() == Some(';') {
                self.pos += 1;
            } else {
                return Ok(());
            }
        }
    }

    /// The text of an option value: up to the `;` or `)` that ends it, skipping over quoted
    /// strings and balanced parentheses (a nested `$filter` may contain both).
    fn raw_value(&mut self) -> String {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quoted = false;
        while let Some(c) = self.peek() {
            match c {
                '\'' => quoted = !quoted,
                '(' if !quoted => depth += 1,
                ')' if !quoted && depth == 0 => break,
                ')' if !quoted => depth -= 1,
                ';' if !quoted && depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }
}

/// Parses `$top`: absent means [`DEFAULT_TOP`]; otherwise an integer in `1..=999`.
pub fn parse_top(input: Option<&str>) -> Result<u32, ODataError> {
    let Some(raw) = input else {
        return Ok(DEFAULT_TOP);
    };
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!(
            "$top must be an integer between 1 and {MAX_TOP}, not '{raw}'"
        )));
    }
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_TOP).contains(&n) => Ok(n),
        _ => Err(err(format!("$top must be between 1 and {MAX_TOP}"))),
    }
}

/// Parses a boolean option such as `$count`: absent means false.
pub fn parse_bool_option(name: &str, input: Option<&str>) -> Result<bool, ODataError> {
    match input.map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(err(format!("{name} must be true or false, not '{v}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_schemas::USER;

    fn order(input: &str) -> Vec<(String, String, bool)> {
        parse_orderby(input, &USER, "u")
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .into_iter()
            .map(|i| (i.property, i.sql, i.descending))
            .collect()
    }

    fn order_err(input: &str) -> String {
        parse_orderby(input, &USER, "u").unwrap_err().message
    }

    #[test]
    fn orderby_directions() {
        assert_eq!(
            order("displayName desc, createdDateTime"),
            vec![
                ("displayName".into(), "u.display_name".into(), true),
                ("createdDateTime".into(), "u.created_at".into(), false),
            ]
        );
        assert_eq!(
            order("  createdDateTime   asc ,id DESC"),
            vec![
                ("createdDateTime".into(), "u.created_at".into(), false),
                ("id".into(), "u.id".into(), true),
            ]
        );
    }

    #[test]
    fn orderby_uses_canonical_names() {
        assert_eq!(
            order("DISPLAYNAME"),
            vec![("displayName".into(), "u.display_name".into(), false)]
        );
    }

    #[test]
    fn orderby_rejects_unknown_and_non_orderable() {
        assert_eq!(
            order_err("fooBar"),
            "property 'fooBar' is not orderable on user"
        );
        assert_eq!(
            order_err("mail desc"),
            "property 'mail' is not orderable on user"
        );
        assert_eq!(
            order_err("proxyAddresses"),
            "property 'proxyAddresses' is not orderable on user"
        );
    }

    #[test]
    fn orderby_rejects_bad_shapes() {
        assert_eq!(order_err(""), "$orderby is empty");
        assert_eq!(order_err("id,,displayName"), "$orderby has an empty item");
        assert_eq!(
            order_err("id sideways"),
            "$orderby direction for 'id' must be asc or desc, not 'sideways'"
        );
        assert_eq!(
            order_err("id desc x"),
            "unexpected 'x' after 'id desc x' in $orderby"
        );
        assert_eq!(
            order_err("id, displayName desc, ID"),
            "property 'ID' appears more than once in $orderby"
        );
    }

    #[test]
    fn orderby_limits_items() {
        assert_eq!(order("id, displayName, createdDateTime, userType").len(), 4);
        let five = EntitySchema {
            entity: "thing",
            fields: &[
                (
                    "a",
                    FieldDef::Scalar {
                        sql: "{t}.a",
                        ty: crate::FieldType::Int,
                        orderable: true,
                    },
                ),
                (
                    "b",
                    FieldDef::Scalar {
                        sql: "{t}.b",
                        ty: crate::FieldType::Int,
                        orderable: true,
                    },
                ),
                (
                    "c",
                    FieldDef::Scalar {
                        sql: "{t}.c",
                        ty: crate::FieldType::Int,
                        orderable: true,
                    },
                ),
                (
                    "d",
                    FieldDef::Scalar {
                        sql: "{t}.d",
                        ty: crate::FieldType::Int,
                        orderable: true,
                    },
                ),
                (
                    "e",
                    FieldDef::Scalar {
                        sql: "{t}.e",
                        ty: crate::FieldType::Int,
                        orderable: true,
                    },
                ),
            ],
        };
        assert_eq!(
            parse_orderby("a,b,c,d,e", &five, "t").unwrap_err().message,
            "$orderby accepts at most 4 properties"
        );
        assert_eq!(
            order_err(&"id,".repeat(1000)),
            "$orderby is longer than 2048 characters"
        );
    }

    #[test]
    fn select_parsing() {
        assert_eq!(
            parse_select(" id , displayName,@odata.type,on_premises ").unwrap(),
            vec!["id", "displayName", "@odata.type", "on_premises"]
        );
        assert_eq!(parse_select("").unwrap_err().message, "$select is empty");
        assert_eq!(
            parse_select("id,").unwrap_err().message,
            "$select has an empty item"
        );
        assert_eq!(
            parse_select("id,display name").unwrap_err().message,
            "invalid character ' ' in $select item 'display name'"
        );
        assert_eq!(
            parse_select("id;drop").unwrap_err().message,
            "invalid character ';' in $select item 'id;drop'"
        );
    }

    fn item(property: &str) -> ExpandItem {
        ExpandItem {
            property: property.into(),
            ..ExpandItem::default()
        }
    }

    #[test]
    fn expand_plain_list() {
        assert_eq!(
            parse_expand("members, owners").unwrap(),
            vec![item("members"), item("owners")]
        );
    }

    #[test]
    fn expand_nested_expand() {
        assert_eq!(
            parse_expand("resourceRoleScopes($expand=role,scope)").unwrap(),
            vec![ExpandItem {
                expand: vec![item("role"), item("scope")],
                ..item("resourceRoleScopes")
            }]
        );
    }

    #[test]
    fn expand_select_filter_and_siblings() {
        assert_eq!(
            parse_expand(
                "manager($select=id,displayName), accessPackage($filter=startswith(displayName,'a;)') ; $select=id;$expand=catalog($select=id)),owners"
            )
            .unwrap(),
            vec![
                ExpandItem {
                    select: Some(vec!["id".into(), "displayName".into()]),
                    ..item("manager")
                },
                ExpandItem {
                    filter: Some("startswith(displayName,'a;)')".into()),
                    select: Some(vec!["id".into()]),
                    expand: vec![ExpandItem {
                        select: Some(vec!["id".into()]),
                        ..item("catalog")
                    }],
                    ..item("accessPackage")
                },
                item("owners"),
            ]
        );
    }

    #[test]
    fn expand_depth_limit() {
        assert!(parse_expand("a($expand=b($expand=c))").is_ok());
        assert_eq!(
            parse_expand("a($expand=b($expand=c($expand=d)))")
                .unwrap_err()
                .message,
            "$expand nests deeper than 3 levels"
        );
        // Far deeper input is refused at the limit, long before any stack trouble.
        let deep = format!("{}x{}", "a($expand=".repeat(150), ")".repeat(150));
        assert_eq!(
            parse_expand(&deep).unwrap_err().message,
            "$expand nests deeper than 3 levels"
        );
    }

    #[test]
    fn expand_syntax_errors() {
        assert_eq!(
            parse_expand("").unwrap_err().message,
            "syntax error at position 0 in $expand: expected a navigation property name"
        );
        assert_eq!(
            parse_expand("members,").unwrap_err().message,
            "syntax error at position 8 in $expand: expected a navigation property name"
        );
        assert_eq!(
            parse_expand("members(").unwrap_err().message,
            "syntax error at position 8 in $expand: expected an option such as $select, $expand or $filter"
        );
        assert_eq!(
            parse_expand("members($select=id").unwrap_err().message,
            "syntax error at position 18 in $expand: expected ')'"
        );
        assert_eq!(
            parse_expand("members owners").unwrap_err().message,
            "syntax error at position 8 in $expand: expected ',' or the end"
        );
        assert_eq!(
            parse_expand("members($top=5)").unwrap_err().message,
            "unsupported option '$top' in $expand of 'members'"
        );
        assert_eq!(
            parse_expand("members($select=id;$select=x)")
                .unwrap_err()
                .message,
            "$select appears more than once for 'members' in $expand"
        );
        assert_eq!(
            parse_expand("members($filter=)").unwrap_err().message,
            "$filter for 'members' in $expand is empty"
        );
        assert_eq!(
            parse_expand("members($select=)").unwrap_err().message,
            "$select is empty"
        );
    }

    #[test]
    fn top_bounds() {
        assert_eq!(parse_top(None).unwrap(), 100);
        assert_eq!(parse_top(Some("1")).unwrap(), 1);
        assert_eq!(parse_top(Some("999")).unwrap(), 999);
        assert_eq!(parse_top(Some(" 25 ")).unwrap(), 25);
        assert_eq!(
            parse_top(Some("0")).unwrap_err().message,
            "$top must be between 1 and 999"
        );
        assert_eq!(
            parse_top(Some("1000")).unwrap_err().message,
            "$top must be between 1 and 999"
        );
        assert_eq!(
            parse_top(Some("99999999999999")).unwrap_err().message,
            "$top must be between 1 and 999"
        );
        assert_eq!(
            parse_top(Some("abc")).unwrap_err().message,
            "$top must be an integer between 1 and 999, not 'abc'"
        );
        assert!(parse_top(Some("-1")).is_err());
        assert!(parse_top(Some("+5")).is_err());
        assert!(parse_top(Some("")).is_err());
    }

    #[test]
    fn bool_options() {
        assert!(!parse_bool_option("$count", None).unwrap());
        assert!(parse_bool_option("$count", Some("true")).unwrap());
        assert!(!parse_bool_option("$count", Some("false")).unwrap());
        assert!(parse_bool_option("$count", Some("TRUE")).unwrap());
        assert_eq!(
            parse_bool_option("$count", Some("yes"))
                .unwrap_err()
                .message,
            "$count must be true or false, not 'yes'"
        );
    }
}
