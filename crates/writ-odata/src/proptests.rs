//! Property tests of every query option this crate parses (`$filter`, `$orderby`, `$select`,
//! `$expand`, `$top`, `$count`) and of keyset paging: arbitrary text and structure-aware
//! generated input never panic; generated valid filters and orders parse and compile; compiled
//! SQL never contains the client's text (every value is a bound parameter) and numbers its
//! placeholders once each, in order.
//!
//! The case count is small by default so `cargo test` stays quick; `PROPTEST_CASES` raises it
//! (`scripts/fuzz.sh` runs 20,000 cases).

use proptest::prelude::*;
use proptest::sample::select;

use crate::test_schemas::{ASSIGNMENT, GROUP, USER};
use crate::{
    EntitySchema, FieldDef, FieldType, OrderItem, SqlValue, filter, filter_to_sql, keyset_after,
    parse_bool_option, parse_expand, parse_orderby, parse_select, parse_top,
};

/// `cases` unless `PROPTEST_CASES` says otherwise. The bounded run of `cargo test` uses a fixed
/// seed, so it tests the same cases every time; a long run (`PROPTEST_CASES` set) draws a new
/// seed unless `PROPTEST_RNG_SEED` gives one. Failures are reported, not persisted (a failure
/// found here becomes a named unit test).
fn config(cases: u32) -> ProptestConfig {
    let long = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: long.unwrap_or(cases),
        rng_seed: match (long, std::env::var_os("PROPTEST_RNG_SEED")) {
            (None, None) => proptest::test_runner::RngSeed::Fixed(0x5EED),
            _ => default.rng_seed,
        },
        failure_persistence: None,
        ..default
    }
}

const ROOTS: [&EntitySchema; 3] = [&USER, &GROUP, &ASSIGNMENT];

/// Every parser of the crate on one input: none may panic, whatever the text.
fn exercise(input: &str) {
    for schema in ROOTS {
        let _ = filter_to_sql(input, schema, "t", 1);
        let _ = parse_orderby(input, schema, "t");
    }
    let _ = parse_select(input);
    let _ = parse_expand(input);
    let _ = parse_top(Some(input));
    let _ = parse_bool_option("$count", Some(input));
}

/// A generated `$filter` and what the compiled SQL must not contain.
#[derive(Debug, Clone)]
struct Gen {
    text: String,
    /// Lambda variables as written; the compiler must pick its own aliases.
    variables: Vec<String>,
}

impl Gen {
    fn leaf(text: String) -> Self {
        Self {
            text,
            variables: Vec::new(),
        }
    }
}

/// Where a property path starts: the root entity, or a lambda variable ranging over `schema`.
#[derive(Debug, Clone)]
struct Scope {
    variable: Option<String>,
    schema: &'static EntitySchema,
}

fn scalars(schema: &'static EntitySchema) -> Vec<(&'static str, FieldType)> {
    schema
        .fields
        .iter()
        .filter_map(|(name, def)| match def {
            FieldDef::Scalar { ty, .. } => Some((*name, *ty)),
            FieldDef::Collection { .. } => None,
        })
        .collect()
}

fn collections(schema: &'static EntitySchema) -> Vec<(&'static str, &'static EntitySchema)> {
    schema
        .fields
        .iter()
        .filter_map(|(name, def)| match def {
            FieldDef::Collection { element, .. } => Some((*name, *element)),
            FieldDef::Scalar { .. } => None,
        })
        .collect()
}

/// Any mix of upper and lower case: Graph names properties and functions case-insensitively.
fn mangled(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), name.len()).prop_map(move |upper| {
        name.chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// The path of a field as written from `scope`.
fn path(scope: &Scope, written: &str) -> String {
    match (&scope.variable, written) {
        (Some(v), "$it") => v.clone(),
        (Some(v), name) => format!("{v}/{name}"),
        (None, name) => name.to_owned(),
    }
}

/// Whitespace the grammar accepts between tokens.
fn ws() -> impl Strategy<Value = &'static str> {
    select(vec![" ", " ", " ", "  ", "\t", "\n", " \r\n "])
}

/// A quoted OData string literal with its quotes doubled.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Short arbitrary text (any Unicode, quotes included).
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect())
}

fn guid() -> impl Strategy<Value = String> {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
}

/// A valid ISO 8601 date-time in one of the spellings OData allows, from year 0001 to 9999.
fn datetime() -> impl Strategy<Value = String> {
    (
        (1u32..=9999, 1u32..=12, 1u32..=28),
        (0u32..24, 0u32..60, 0u32..60),
        0u8..5,
        (0u32..14, 0u32..60, any::<bool>()),
        "[0-9]{1,9}",
    )
        .prop_map(|((y, mo, d), (h, mi, s), form, (oh, om, west), fraction)| {
            let date = format!("{y:04}-{mo:02}-{d:02}");
            let sign = if west { '-' } else { '+' };
            match form {
                0 => date,
                1 => format!("{date}T{h:02}:{mi:02}Z"),
                2 => format!("{date}T{h:02}:{mi:02}:{s:02}Z"),
                3 => format!("{date}T{h:02}:{mi:02}:{s:02}.{fraction}z"),
                _ => format!("{date}t{h:02}:{mi:02}:{s:02}{sign}{oh:02}:{om:02}"),
            }
        })
}

/// A literal of the right type for a property of type `ty`.
fn literal(ty: FieldType) -> BoxedStrategy<String> {
    match ty {
        FieldType::Id => prop_oneof![text().prop_map(|s| quoted(&s)), guid()].boxed(),
        FieldType::Text => text().prop_map(|s| quoted(&s)).boxed(),
        FieldType::Bool => select(vec!["true", "false"])
            .prop_map(str::to_owned)
            .boxed(),
        FieldType::DateTime => prop_oneof![datetime(), datetime().prop_map(|d| quoted(&d))].boxed(),
        FieldType::Int => any::<i64>().prop_map(|i| i.to_string()).boxed(),
        FieldType::Enum(members) => select(members)
            .prop_flat_map(mangled)
            .prop_map(|m| quoted(&m))
            .boxed(),
    }
}

/// Comparison operators valid for `ty` (OData keywords are lower case).
fn operators(ty: FieldType) -> Vec<&'static str> {
    match ty {
        FieldType::Bool | FieldType::Enum(_) => vec!["eq", "ne"],
        _ => vec!["eq", "ne", "gt", "ge", "lt", "le"],
    }
}

/// A valid condition on one scalar property reachable from `scopes`.
fn valid_leaf(scopes: Vec<Scope>) -> BoxedStrategy<Gen> {
    let fields: Vec<(Scope, &'static str, FieldType)> = scopes
        .iter()
        .flat_map(|scope| {
            scalars(scope.schema)
                .into_iter()
                .map(move |(name, ty)| (scope.clone(), name, ty))
        })
        .collect();
    select(fields)
        .prop_flat_map(|(scope, name, ty)| {
            let written = if name == "$it" {
                Just("$it".to_owned()).boxed()
            } else {
                mangled(name).boxed()
            };
            (written, Just(scope), Just(ty), select(operators(ty)), ws())
                .prop_flat_map(|(written, scope, ty, op, ws)| {
                    let p = path(&scope, &written);
                    let values = proptest::collection::vec(literal(ty), 1..5);
                    let mut forms: Vec<BoxedStrategy<String>> = vec![
                        literal(ty)
                            .prop_map({
                                let p = p.clone();
                                move |l| format!("{p}{ws}{op}{ws}{l}")
                            })
                            .boxed(),
                        literal(ty)
                            .prop_map({
                                let p = p.clone();
                                move |l| format!("{l}{ws}{op}{ws}{p}")
                            })
                            .boxed(),
                        values
                            .prop_map({
                                let p = p.clone();
                                move |v| format!("{p}{ws}in{ws}({})", v.join(&format!(",{ws}")))
                            })
                            .boxed(),
                        select(vec!["eq", "ne"])
                            .prop_map({
                                let p = p.clone();
                                move |op| format!("{p} {op} null")
                            })
                            .boxed(),
                    ];
                    if matches!(ty, FieldType::Text | FieldType::Id) {
                        forms.push(
                            (
                                select(vec!["startswith", "endswith", "contains"])
                                    .prop_flat_map(mangled),
                                text(),
                            )
                                .prop_map({
                                    let p = p.clone();
                                    move |(f, s)| format!("{f}({p},{ws}{})", quoted(&s))
                                })
                                .boxed(),
                        );
                        forms.push(
                            (
                                select(vec!["tolower", "toupper"]).prop_flat_map(mangled),
                                select(operators(ty)),
                                text(),
                            )
                                .prop_map({
                                    let p = p.clone();
                                    move |(f, op, s)| format!("{f}({p}) {op} {}", quoted(&s))
                                })
                                .boxed(),
                        );
                    }
                    if ty == FieldType::Bool {
                        forms.push(Just(p.clone()).boxed());
                    }
                    proptest::strategy::Union::new(forms)
                })
                .prop_map(Gen::leaf)
        })
        .boxed()
}

/// A valid `$filter` over `scopes` (the last one innermost), `depth` levels of `and`, `or`,
/// `not`, parentheses and lambdas at most.
fn valid_filter(scopes: Vec<Scope>, depth: u32) -> BoxedStrategy<Gen> {
    let leaf = valid_leaf(scopes.clone());
    if depth == 0 {
        return leaf;
    }
    let inner = valid_filter(scopes.clone(), depth - 1);
    let mut options: Vec<BoxedStrategy<Gen>> = vec![
        leaf.clone(),
        leaf,
        proptest::collection::vec(inner.clone(), 2..4)
            .prop_flat_map(|parts| (Just(parts), select(vec!["and", "or"]), ws()))
            .prop_map(|(parts, joiner, ws)| Gen {
                text: parts
                    .iter()
                    .map(|p| format!("({})", p.text))
                    .collect::<Vec<_>>()
                    .join(&format!("{ws}{joiner}{ws}")),
                variables: parts.into_iter().flat_map(|p| p.variables).collect(),
            })
            .boxed(),
        (inner.clone(), ws())
            .prop_map(|(g, ws)| Gen {
                text: format!("not{ws}({})", g.text),
                variables: g.variables,
            })
            .boxed(),
        inner
            .prop_map(|g| Gen {
                text: format!("( {} )", g.text),
                variables: g.variables,
            })
            .boxed(),
    ];
    // Lambdas over every collection reachable from the innermost scope.
    if let Some(innermost) = scopes.last().cloned() {
        for (name, element) in collections(innermost.schema) {
            let level = scopes.len();
            let outer = innermost.clone();
            let scopes = scopes.clone();
            options.push(
                (
                    "[a-z][a-z0-9_]{0,3}",
                    mangled(name),
                    select(vec!["any", "all"]),
                )
                    .prop_flat_map(move |(suffix, written, kind)| {
                        // `zq` + the level: unique in scope, and in no schema's SQL.
                        let variable = format!("zq{level}{suffix}");
                        let mut inner_scopes = scopes.clone();
                        inner_scopes.push(Scope {
                            variable: Some(variable.clone()),
                            schema: element,
                        });
                        let collection = path(&outer, &written);
                        (
                            valid_filter(inner_scopes, depth - 1),
                            Just(variable),
                            Just(collection),
                            Just(kind),
                            any::<bool>(),
                        )
                    })
                    .prop_map(|(body, variable, collection, kind, empty)| {
                        if empty && kind == "any" {
                            return Gen::leaf(format!("{collection}/any()"));
                        }
                        let mut variables = body.variables;
                        variables.push(variable.clone());
                        Gen {
                            text: format!("{collection}/{kind}({variable}: {})", body.text),
                            variables,
                        }
                    })
                    .boxed(),
            );
        }
    }
    proptest::strategy::Union::new(options).boxed()
}

/// A root schema and a valid filter over it.
fn schema_and_filter() -> impl Strategy<Value = (&'static EntitySchema, Gen)> {
    select(ROOTS.to_vec()).prop_flat_map(|schema| {
        (
            Just(schema),
            valid_filter(
                vec![Scope {
                    variable: None,
                    schema,
                }],
                3,
            ),
        )
    })
}

/// Anything a client might put in one operand position, well-formed or not.
fn loose_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        text().prop_map(|s| quoted(&s)),
        // Near-date-times with arbitrary tails: the date-time parser must cope with any bytes
        // at any position.
        (
            "[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt][0-9]{1,2}(:[0-9]{0,2}){0,2})?",
            text()
        )
            .prop_map(|(d, t)| quoted(&format!("{d}{t}"))),
        ("[0-9]{4}-[0-9]{2}-[0-9]{2}", text()).prop_map(|(d, t)| format!("{d}{t}")),
        "[0-9]{15,25}",
        "-?[0-9]{1,4}\\.[0-9]{1,4}",
        guid(),
        datetime(),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("''''".to_owned()),
        Just("'".to_owned()),
    ]
}

/// A literal of any type, or anything else a client might write there.
fn any_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        loose_literal(),
        literal(FieldType::Id),
        literal(FieldType::Bool),
        literal(FieldType::DateTime),
        literal(FieldType::Int),
        literal(FieldType::Enum(&["Member", "Guest"])),
    ]
}

/// A condition on a real scalar property of a root entity with any operator and a literal of
/// any type: the compiler's type checks and conversions see every mismatch.
fn mistyped_leaf() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = ROOTS
        .iter()
        .flat_map(|s| scalars(s).into_iter().map(|(n, _)| n))
        .collect();
    (
        select(names),
        select(vec!["eq", "ne", "gt", "ge", "lt", "le", "in"]),
        proptest::collection::vec(any_literal(), 1..3),
        any::<bool>(),
    )
        .prop_map(|(p, op, values, flipped)| match (op, flipped) {
            ("in", _) => format!("{p} in ({})", values.join(",")),
            (op, false) => format!("{p} {op} {}", values.concat()),
            (op, true) => format!("{} {op} {p}", values.concat()),
        })
}

/// A condition on any property (filterable or not, scalar or collection, known or not) with any
/// operator and any literal.
fn loose_leaf() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = ROOTS
        .iter()
        .flat_map(|s| s.fields.iter().map(|(n, _)| *n))
        .chain(["$it", "nope", "members/id", "m", "x/y/z", "any", "all"])
        .collect();
    let functions = vec![
        "startswith",
        "endswith",
        "contains",
        "tolower",
        "toupper",
        "substring",
        "length",
        "any",
        "now",
    ];
    prop_oneof![
        (
            select(names.clone()),
            select(vec!["eq", "ne", "gt", "ge", "lt", "le"]),
            loose_literal()
        )
            .prop_map(|(p, op, l)| format!("{p} {op} {l}")),
        (
            select(names.clone()),
            proptest::collection::vec(loose_literal(), 0..4)
        )
            .prop_map(|(p, v)| format!("{p} in ({})", v.join(","))),
        (
            select(functions),
            proptest::collection::vec(
                prop_oneof![
                    select(names.clone()).prop_map(str::to_owned),
                    loose_literal()
                ],
                0..4
            )
        )
            .prop_map(|(f, args)| format!("{f}({})", args.join(","))),
        (
            select(names.clone()),
            select(vec!["any", "all"]),
            "[a-z]{1,2}",
            select(names)
        )
            .prop_map(|(c, k, v, p)| format!("{c}/{k}({v}: {v}/{p} eq 'x')")),
        text(),
    ]
}

/// A filter made of loose conditions and valid ones, joined and then damaged at random.
fn loose_filter() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        loose_leaf(),
        mistyped_leaf(),
        schema_and_filter().prop_map(|(_, g)| g.text),
    ];
    (
        proptest::collection::vec(part, 1..4),
        select(vec![" and ", " or ", " and not ", ""]),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0u8..4,
    )
        .prop_map(|(parts, joiner, at, to, damage)| {
            let whole = parts.join(joiner);
            let chars: Vec<char> = whole.chars().collect();
            if chars.is_empty() {
                return whole;
            }
            let (a, b) = {
                let (x, y) = (at.index(chars.len()), to.index(chars.len()));
                (x.min(y), x.max(y))
            };
            match damage {
                0 => whole,
                1 => chars[..a].iter().collect(), // truncated
                2 => chars[..a].iter().chain(&chars[b..]).collect(), // a range cut out
                _ => chars[..a]
                    .iter()
                    .chain(['(', '\'', ')', '/'].iter())
                    .chain(&chars[a..])
                    .collect(),
            }
        })
}

/// Fragments that steer random input into the grammar's corners.
const TOKENS: &[&str] = &[
    "(",
    ")",
    " ",
    "not ",
    " and ",
    " or ",
    " eq ",
    " ne ",
    " gt ",
    " le ",
    " in ",
    "'",
    "''",
    "'abc'",
    ",",
    "/",
    ":",
    "members",
    "m",
    "m/id",
    "/any(",
    "/all(",
    "any",
    "all",
    "displayName",
    "createdDateTime",
    "signInCount",
    "userType",
    "id",
    "$it",
    "startswith(",
    "tolower(",
    "substring(",
    "null",
    "true",
    "2024-01-02T03:04:05Z",
    "2024-01-02T03:04",
    "8a3f2c41-0b6e-4b5e-9a55-5d7c1e2f3a4b",
    "-",
    "12",
    "99999999999999999999",
    "é",
    "\u{0}",
    "\\",
    "%",
    "$",
    ";",
    "$expand=",
    "$select=",
    "$filter=",
    "desc",
    "asc",
    "=",
];

/// Checks the compiled SQL against what the client wrote.
fn check_compiled(
    sql: &str,
    params: &[SqlValue],
    first: usize,
    generated: &Gen,
) -> Result<(), TestCaseError> {
    // Placeholders are $first, $first+1, … in order of appearance, one per bound value.
    let placeholders: Vec<usize> = sql
        .split('$')
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        })
        .collect();
    let expected: Vec<usize> = (first..first + params.len()).collect();
    prop_assert_eq!(placeholders, expected, "{}", sql);
    // Nothing of the client's text reaches the SQL: the only quote is the LIKE escape clause,
    // and every character comes from the schemas' ASCII templates.
    prop_assert!(
        !sql.replace("ESCAPE '\\'", "").contains('\''),
        "a quote in {}",
        sql
    );
    prop_assert!(sql.is_ascii(), "non-ASCII (client text) in {}", sql);
    prop_assert!(!sql.contains('\0'));
    for variable in &generated.variables {
        prop_assert!(
            !sql.contains(variable.as_str()),
            "variable {} in {}",
            variable,
            sql
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        exercise(&input);
    }

    #[test]
    fn any_text_against_every_property_never_panics(
        value in prop_oneof![any::<String>(), "[0-9T:-]{8,18}.{0,3}"],
        op in select(vec!["eq", "ne", "gt", "le", "in"]),
    ) {
        let literal = quoted(&value);
        for schema in ROOTS {
            for (name, _) in scalars(schema) {
                let condition = match op {
                    "in" => format!("{name} in ({literal})"),
                    op => format!("{name} {op} {literal}"),
                };
                let _ = filter_to_sql(&condition, schema, "t", 1);
                let _ = filter_to_sql(&format!("startswith({name},{literal})"), schema, "t", 1);
            }
        }
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(select(TOKENS), 1..40)) {
        exercise(&tokens.concat());
    }

    #[test]
    fn damaged_and_ill_typed_filters_never_panic(input in loose_filter()) {
        exercise(&input);
    }

    #[test]
    fn generated_filters_parse_and_bind_every_value(
        (schema, generated) in schema_and_filter(),
        first in 1usize..40,
    ) {
        prop_assume!(generated.text.chars().count() <= filter::MAX_FILTER_LEN);
        let compiled = filter_to_sql(&generated.text, schema, "t", first);
        prop_assert!(compiled.is_ok(), "{:?} on {}: {:?}", generated.text, schema.entity, compiled);
        if let Ok(fragment) = compiled {
            check_compiled(&fragment.sql, &fragment.params, first, &generated)?;
        }
    }

    #[test]
    fn whatever_compiles_binds_its_values(input in loose_filter()) {
        for schema in ROOTS {
            if let Ok(fragment) = filter_to_sql(&input, schema, "t", 1) {
                check_compiled(&fragment.sql, &fragment.params, 1, &Gen::leaf(input.clone()))?;
            }
        }
    }

    #[test]
    fn generated_orderby_parses_exactly_when_valid(
        schema in select(ROOTS.to_vec()),
        picks in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<bool>()), 1..7),
        spaces in ws(),
    ) {
        let fields = schema.fields;
        let mut written = Vec::new();
        let mut chosen = Vec::new();
        for (index, direction, upper) in &picks {
            let (name, _) = &fields[index.index(fields.len())];
            let name = if *upper { name.to_ascii_uppercase() } else { (*name).to_owned() };
            let direction = ["", " asc", " DESC", " sideways"][usize::from(*direction)];
            written.push(format!("{name}{direction}"));
            chosen.push((name, direction));
        }
        let input = written.join(&format!(",{spaces}"));
        let result = parse_orderby(&input, schema, "t");
        let valid = chosen.len() <= crate::MAX_ORDERBY_ITEMS
            && chosen.iter().all(|(name, direction)| {
                *direction != " sideways"
                    && matches!(schema.field(name), Some((_, FieldDef::Scalar { orderable: true, .. })))
            })
            && {
                let mut names: Vec<String> = chosen.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
                names.sort();
                names.windows(2).all(|w| w[0] != w[1])
            };
        prop_assert_eq!(result.is_ok(), valid, "{:?}: {:?}", input, result);
        if let Ok(items) = result {
            for item in items {
                prop_assert!(item.sql.starts_with("t.") || item.sql.starts_with('('), "{}", item.sql);
            }
        }
    }

    #[test]
    fn select_accepts_exactly_comma_separated_names(
        names in proptest::collection::vec("[A-Za-z0-9@._]{1,12}", 1..8),
        junk in any::<String>(),
    ) {
        let joined = names.join(",");
        prop_assert_eq!(parse_select(&joined).map(|v| v.len()), Ok(names.len()));
        let _ = parse_select(&format!("{joined}{junk}"));
    }

    #[test]
    fn top_accepts_exactly_one_to_max(n in any::<u64>(), junk in "[^0-9]{0,3}") {
        let result = parse_top(Some(&n.to_string()));
        prop_assert_eq!(result.is_ok(), (1..=u64::from(crate::MAX_TOP)).contains(&n));
        if !junk.trim().is_empty() {
            let padded = format!("{n}{junk}");
            prop_assert!(parse_top(Some(&padded)).is_err());
        }
    }

    #[test]
    fn generated_expand_never_panics(
        parts in proptest::collection::vec(
            select(vec!["members", "owners", "manager", "(", ")", "$select=", "$expand=", "$filter=",
                "id,displayName", ";", ",", "'", "x eq 'a)'", " ", "@odata.x", "/", "$top=1"]),
            0..30,
        ),
    ) {
        exercise(&parts.concat());
    }

    #[test]
    fn keyset_after_never_panics(
        keys in proptest::collection::vec(("[a-z_.]{1,8}", any::<bool>(), 0usize..5), 0..5),
        last in proptest::collection::vec(
            prop_oneof![
                any::<String>().prop_map(SqlValue::Text),
                any::<i64>().prop_map(SqlValue::I64),
                any::<bool>().prop_map(SqlValue::Bool),
                Just(SqlValue::Null),
            ],
            0..7,
        ),
        first in 0usize..5,
    ) {
        let order: Vec<OrderItem> = keys
            .iter()
            .map(|(sql, descending, ty)| OrderItem {
                property: sql.clone(),
                sql: sql.clone(),
                ty: [FieldType::Id, FieldType::Text, FieldType::Bool, FieldType::DateTime, FieldType::Int][*ty],
                descending: *descending,
            })
            .collect();
        if let Ok(fragment) = keyset_after(&order, "t.id", &last, first) {
            prop_assert!(first >= 1 && last.len() == order.len() + 1);
            // Values are bound, never written into the SQL.
            prop_assert!(!fragment.sql.contains('\''));
            let placeholders = fragment.sql.matches('$').count();
            prop_assert_eq!(placeholders, fragment.params.len());
        }
    }
}
