//! The route table: every route Writ serves is declared once here, and both the axum router and
//! the OpenAPI description (`/writ/v1/openapi.json`) are generated from that one declaration, so
//! the description cannot drift from what is served. A route names the wire type it returns
//! ([`Routes::returns`]) and reads ([`Routes::body`]); the description's component schemas are
//! those of [`crate::wire::all_schemas`], referenced from each operation.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Ref, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, RefOr, Required,
};

use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// What kind of operation a route is, which fixes its documented options and responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Graph collection: `$filter`, `$orderby`, `$select`, `$expand`, `$top`, `$skiptoken`, `$count`.
    Collection,
    /// A single Graph entity: `$select`, `$expand`.
    Entity,
    /// A create: `201`, `Idempotency-Key`.
    Create,
    /// An update, delete or `$ref` change: `204`.
    NoContent,
    /// An action that continues in the background: `202`.
    Accepted,
    /// Not under the Graph conventions (token endpoint, discovery, health).
    Plain,
}

#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: Method,
    pub path: String,
    pub summary: &'static str,
    pub tag: &'static str,
    pub kind: Kind,
    pub authenticated: bool,
    /// For a bound function (`…/name(param='{param}')`): its one enumeration parameter.
    /// A bound function's parameters, documented as path parameters.
    pub function_parameters: Vec<FunctionParameter>,
    /// The component schema (Graph type name) of the entity returned, or of each item of a
    /// collection.
    pub returns: Option<&'static str>,
    /// The route answers a page (`{value: […]}`) of `returns` although it is not a collection
    /// (an action such as `getApplicablePolicyRequirements`).
    pub returns_page: bool,
    /// The component schema of the request body.
    pub body: Option<&'static str>,
    /// Optional request headers the route reads beyond the kind's own: (name, description).
    pub headers: Vec<(&'static str, &'static str)>,
    /// Headers the route's success answer may carry: (name, description).
    pub answer_headers: Vec<(&'static str, &'static str)>,
}

/// The enumeration parameter of a bound function, with the values it accepts.
#[derive(Debug, Clone)]
pub struct FunctionParameter {
    pub name: &'static str,
    /// The accepted values of an enum parameter; empty for a free value (an id).
    pub values: Vec<&'static str>,
}

/// The path parameter that receives a function's arguments: everything after its opening
/// parenthesis, the closing one included (see [`Routes::function`]).
const FUNCTION_ARGUMENTS: &str = "arguments";

/// Accumulates routes and their documentation together.
pub struct Routes {
    router: Router<AppState>,
    docs: Vec<RouteDoc>,
    tag: &'static str,
    authenticated: bool,
}

impl Routes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            docs: Vec::new(),
            tag: "writ",
            authenticated: true,
        }
    }

    /// Following routes are documented under this tag, and as (not) needing a token.
    pub fn section(mut self, tag: &'static str, authenticated: bool) -> Self {
        self.tag = tag;
        self.authenticated = authenticated;
        self
    }

    pub fn route<H, T>(
        mut self,
        method: Method,
        path: &str,
        kind: Kind,
        summary: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.docs.push(RouteDoc {
            method,
            path: path.to_owned(),
            summary,
            tag: self.tag,
            kind,
            authenticated: self.authenticated,
            function_parameters: Vec::new(),
            returns: None,
            returns_page: false,
            body: None,
            headers: Vec::new(),
            answer_headers: Vec::new(),
        });
        self
    }

    /// The route declared last returns this wire type (a collection: items of it).
    pub fn returns(mut self, schema: &'static str) -> Self {
        if let Some(doc) = self.docs.last_mut() {
            doc.returns = Some(schema);
        }
        self
    }

    /// The route declared last answers a page (`{value: […]}`) of this wire type.
    pub fn returns_page(mut self, schema: &'static str) -> Self {
        if let Some(doc) = self.docs.last_mut() {
            doc.returns = Some(schema);
            doc.returns_page = true;
        }
        self
    }

    /// The route declared last reads a body of this wire type.
    pub fn body(mut self, schema: &'static str) -> Self {
        if let Some(doc) = self.docs.last_mut() {
            doc.body = Some(schema);
        }
        self
    }

    /// The route declared last reads this optional request header.
    pub fn header(mut self, name: &'static str, description: &'static str) -> Self {
        if let Some(doc) = self.docs.last_mut() {
            doc.headers.push((name, description));
        }
        self
    }

    /// The route declared last may answer with this header on success.
    pub fn answers_with_header(mut self, name: &'static str, description: &'static str) -> Self {
        if let Some(doc) = self.docs.last_mut() {
            doc.answer_headers.push((name, description));
        }
        self
    }

    /// Adds the routes `declare` builds (a resource's own routes, declared beside its
    /// handlers) under the current section.
    pub fn with(self, declare: fn(Self) -> Self) -> Self {
        declare(self)
    }

    /// A bound function with one enumeration parameter, `{collection}/{name}({parameter}='…')`:
    /// one route for every value and spelling of it (quotes literal or percent-encoded, any
    /// case), served as `{collection}/{name}({arguments}` (the router matches a parameter that
    /// ends a segment after a literal prefix) so the handler parses the arguments itself; the
    /// description shows `{collection}/{name}({parameter}='{parameter}')` with the accepted values.
    pub fn function<H, T>(
        mut self,
        collection: &str,
        name: &str,
        parameters: Vec<FunctionParameter>,
        kind: Kind,
        summary: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let served = format!("{collection}/{name}({{{FUNCTION_ARGUMENTS}}}");
        self.router = self.router.route(&served, on(MethodFilter::GET, handler));
        self.docs.push(RouteDoc {
            method: Method::Get,
            path: format!(
                "{collection}/{name}({})",
                parameters
                    .iter()
                    .map(|p| format!("{0}='{{{0}}}'", p.name))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            summary,
            tag: self.tag,
            kind,
            authenticated: self.authenticated,
            function_parameters: parameters,
            returns: None,
            returns_page: false,
            body: None,
            headers: Vec::new(),
            answer_headers: Vec::new(),
        });
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteDoc>) {
        (self.router, self.docs)
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

/// A parameter's value schema (OpenAPI requires one on every parameter).
fn value_schema(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(kind)
}

fn query_parameter(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    let kind = match name {
        "$top" => Type::Integer,
        "$count" => Type::Boolean,
        _ => Type::String,
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(value_schema(kind)))
        .build()
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// A Graph collection page of `item`: `value`, with `@odata.nextLink` while more remain.
fn collection_schema(item: &str) -> Schema {
    ObjectBuilder::new()
        .property(
            "@odata.context",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .property("value", ArrayBuilder::new().items(schema_ref(item)))
        .required("value")
        .property(
            "@odata.count",
            ObjectBuilder::new().schema_type(Type::Integer),
        )
        .property(
            "@odata.nextLink",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .into()
}

/// A response with a JSON body of `schema` when the route names one.
fn response(description: &str, schema: Option<RefOr<Schema>>) -> ResponseBuilder {
    let builder = ResponseBuilder::new().description(description);
    match schema {
        Some(schema) => builder.content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        ),
        None => builder,
    }
}

/// The OpenAPI document of the given routes (already expanded under `/v1.0` and `/beta`).
/// The success answer of `doc`, with the headers it may carry.
fn with_answer_headers(mut answer: ResponseBuilder, doc: &RouteDoc) -> ResponseBuilder {
    for (name, description) in &doc.answer_headers {
        answer = answer.header(
            *name,
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(value_schema(Type::String)))
                .description(Some(*description))
                .build(),
        );
    }
    answer
}

pub fn openapi(docs: &[RouteDoc]) -> OpenApi {
    let mut paths = Paths::new();
    for doc in docs {
        let method = match doc.method {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
            Method::Put => HttpMethod::Put,
            Method::Patch => HttpMethod::Patch,
            Method::Delete => HttpMethod::Delete,
        };
        let mut op = OperationBuilder::new()
            .summary(Some(doc.summary))
            .tag(doc.tag)
            .operation_id(Some(format!(
                "{:?}{}",
                doc.method,
                doc.path.replace(['/', '{', '}', '$', '.', '-'], "_")
            )));
        for segment in doc.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(value_schema(Type::String)))
                        .build(),
                );
            }
        }
        for parameter in &doc.function_parameters {
            let mut schema = ObjectBuilder::new().schema_type(Type::String);
            let description = if parameter.values.is_empty() {
                "an id; the quotes may be percent-encoded"
            } else {
                schema = schema.enum_values(Some(parameter.values.iter().copied()));
                "one of the values listed, in any case; the quotes may be percent-encoded"
            };
            op = op.parameter(
                ParameterBuilder::new()
                    .name(parameter.name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some(description))
                    .schema(Some(schema))
                    .build(),
            );
        }
        for (name, description) in &doc.headers {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(*description))
                    .schema(Some(value_schema(Type::String)))
                    .build(),
            );
        }
        let entity = if doc.returns_page {
            doc.returns.map(|item| RefOr::T(collection_schema(item)))
        } else {
            doc.returns.map(schema_ref)
        };
        if let Some(body) = doc.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(schema_ref(body))).build(),
                    )
                    .build(),
            ));
        }
        match doc.kind {
            Kind::Collection => {
                for (name, description) in [
                    (
                        "$filter",
                        "OData filter over the entity's filterable properties (docs/api-coverage.md)",
                    ),
                    ("$orderby", "orderable properties, `asc`/`desc`"),
                    ("$select", "comma-separated properties to return"),
                    ("$expand", "navigation properties to include"),
                    ("$top", "page size, 1 to 999 (default 100)"),
                    ("$skiptoken", "opaque continuation from @odata.nextLink"),
                    ("$count", "include @odata.count"),
                ] {
                    op = op.parameter(query_parameter(name, description));
                }
                op = op.response(
                    "200",
                    response(
                        "a page of the collection",
                        doc.returns.map(|item| RefOr::T(collection_schema(item))),
                    ),
                );
            }
            Kind::Entity => {
                op = op
                    .parameter(query_parameter(
                        "$select",
                        "comma-separated properties to return",
                    ))
                    .parameter(query_parameter(
                        "$expand",
                        "navigation properties to include",
                    ))
                    .response(
                        "200",
                        with_answer_headers(response("the entity", entity), doc),
                    );
            }
            Kind::Create => {
                op = op
                    .parameter(
                        ParameterBuilder::new()
                            .name("Idempotency-Key")
                            .parameter_in(ParameterIn::Header)
                            .required(Required::False)
                            .description(Some("replays the first response for 24 h"))
                            .schema(Some(value_schema(Type::String)))
                            .build(),
                    )
                    .response("201", response("created", entity));
            }
            Kind::NoContent => {
                op = op.response("204", ResponseBuilder::new().description("done"));
            }
            Kind::Accepted => {
                op = op.response(
                    "202",
                    response("accepted; continues in the background", entity),
                );
            }
            Kind::Plain => {
                op = op.response("200", with_answer_headers(response("ok", entity), doc));
            }
        }
        if doc.authenticated {
            op = op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .response(
                    "401",
                    ResponseBuilder::new().description("missing or invalid token"),
                )
                .response(
                    "403",
                    ResponseBuilder::new().description("the caller may not do this"),
                );
        }
        if doc.kind != Kind::Plain {
            op = op
                .response(
                    "400",
                    ResponseBuilder::new().description("invalid request (Graph error envelope)"),
                )
                .response(
                    "404",
                    ResponseBuilder::new().description("not found or not visible"),
                );
        }
        paths.add_path_operation(&doc.path, vec![method], op.build());
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Writ")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Entitlement management for AI agent identities, shaped like Microsoft Graph v1.0.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .schemas_from_iter(crate::wire::all_schemas())
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .bearer_format("JWT")
                            .build(),
                    ),
                )
                .build(),
        ))
        .build()
}
