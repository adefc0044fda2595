//! The portal (DESIGN section 15): pages where people — sponsors, owners and approvers of agents —
//! act on access packages from a browser. This module owns what every portal page shares: who
//! the person is ([`Person`], from the browser session only), the layout and its navigation
//! ([`Layout`]), the CSRF check of every form, how an instant is shown ([`When`]), and how a
//! domain refusal becomes a page ([`refusal`]). Each area's pages are a submodule:
//! [`agents`] (My agents, an agent, an assignment: request, extend, remove), [`approvals`] (the
//! inbox, a stage to decide, my decisions) and [`requests`] (My requests, a request).
//!
//! **The portal is the API's twin, not a second authority.** Every page reads and every form
//! acts through the same domain operation as the Graph route, with the person's [`Caller`]
//! resolved from the database exactly as for a person's bearer token; so a page shows what the
//! API would let this person read, and a refusal shows the domain's own message. A bearer token
//! opens no page (an agent has no business in a browser, and a token in a header is not a
//! person at a keyboard): the session cookie of section 14 is the only way in.
//!
//! **Links change nothing.** Every `GET` only reads; every change is a `POST` with the
//! session's CSRF token, answered by a `303` back to a page that announces the outcome
//! (post/redirect/get), so following an email link, reloading or going back repeats nothing.
//!
//! **Times.** Pages are rendered in UTC, each instant in a `<time datetime>` with its
//! UTC text; the small script `portal.js` (vendored, no build step) rewrites the text into the
//! browser's time zone and keeps the UTC instant beside it. The browser is the authority on the
//! person's time zone; without script the page still shows exact UTC times.

#![allow(
    clippy::result_large_err,
    reason = "a refused step answers with its page: the error is the response, returned once"
)]

pub mod agents;
pub mod approvals;
pub mod requests;

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use writ_domain::authz::Caller;
use writ_domain::error::DomainError;
use writ_domain::identity::sessions::{csrf_matches, csrf_token};
use writ_domain::identity::{Identity, TokenType};

use crate::browser::{self, PageRequest};
use crate::error::ApiError;
use crate::pages::{self, MessagePage};
use crate::state::AppState;

/// The progressive-enhancement script of the portal pages.
const SCRIPT: &str = include_str!("../../templates/portal/portal.js");

/// The portal's pages allow their own script (`portal.js`) and nothing else.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where the portal starts.
pub const HOME: &str = "/portal/agents";

/// The signed-in person a portal page is for.
pub struct Person {
    /// Resolved from the database as for a person's token: enabled, roles as they are now.
    pub caller: Caller,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// What the page needs of its request (query string, client address, request id).
    pub page: PageRequest,
    session_secret: String,
}

impl Person {
    /// The signed-in person of `request`, or the response to give instead: a `303` to the
    /// sign-in page (returning here) for a `GET` without a session, a 401 page for a form sent
    /// without one and for any request that carries a bearer token, a 403 page for an agent.
    pub fn of<'s>(
        state: &'s AppState,
        request: &Request,
    ) -> impl std::future::Future<Output = Result<Self, Response>> + Send + 's {
        // What the request says is read before the first await: a request (its body is not
        // `Sync`) held across one would make no handler's future `Send`.
        let bearer = request.headers().contains_key(header::AUTHORIZATION);
        let page = PageRequest::of(state, request);
        let is_get = request.method() == axum::http::Method::GET;
        let here = request
            .uri()
            .path_and_query()
            .map_or_else(|| HOME.to_owned(), |p| p.as_str().to_owned());
        async move {
            if bearer {
                return Err(page_message(
                    StatusCode::UNAUTHORIZED,
                    MessagePage::error(
                        "Sign in with a browser",
                        "The portal is for people signed in with a browser. An access token opens no page here; use the API with it.",
                    ),
                ));
            }
            let Some((secret, signed_in)) = page.session(state).await? else {
                if is_get {
                    return Err(pages::see_other(&browser::sign_in_path(
                        &state.settings,
                        &here,
                    )));
                }
                return Err(page_message(
                    StatusCode::UNAUTHORIZED,
                    MessagePage::error(
                        "Signed out",
                        "Your session has ended, so nothing was changed. Sign in again and repeat the action.",
                    )
                    .with_link(HOME, "Sign in"),
                ));
            };
            let caller = Identity::of(&state.directory)
                .resolve_caller(TokenType::User, &signed_in.user.id)
                .await
                .map_err(|err| refusal(ApiError::from(err)))?;
            if !caller.is_human_user() {
                return Err(page_message(
                    StatusCode::FORBIDDEN,
                    MessagePage::error("Not for agents", "The portal is for people, not agents."),
                ));
            }
            Ok(Self {
                caller,
                csrf: csrf_token(&secret),
                page,
                session_secret: secret,
            })
        }
    }

    /// Refuses (403 page, nothing changed) a form without this session's CSRF token.
    pub fn check_csrf(&self, form: &[(String, String)]) -> Result<(), Response> {
        match pages::field(form, "csrf_token") {
            Some(presented) if csrf_matches(&self.session_secret, presented) => Ok(()),
            _ => Err(browser::csrf_refused()),
        }
    }

    /// The layout of a page of `section` for this person, announcing `notice` if any.
    pub fn layout(&self, section: Section, notice: Option<Notice>) -> Layout {
        Layout {
            user: self.caller.display_name.clone(),
            login: self.caller.login_name.clone(),
            csrf: self.csrf.clone(),
            section,
            notice,
        }
    }

    /// The `notice` named by the query string's `done` (set by the `303` after an action).
    pub fn done_notice(&self, messages: &[(&str, &'static str)]) -> Option<Notice> {
        let pairs = self.page.query_pairs().ok()?;
        let done = pages::field(&pairs, "done")?;
        messages
            .iter()
            .find(|(key, _)| *key == done)
            .map(|(_, text)| Notice::status(*text))
    }
}

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Agents,
    Approvals,
    Requests,
    /// A page outside the three (an error page).
    None,
}

/// A message announced at the top of a page: `role="status"` for an outcome, `role="alert"`
/// for a refusal.
#[derive(Debug, Clone)]
pub struct Notice {
    pub text: String,
    pub alert: bool,
}

impl Notice {
    pub fn status(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            alert: false,
        }
    }

    pub fn alert(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            alert: true,
        }
    }
}

/// What `templates/portal/base.html` shows around every page.
pub struct Layout {
    pub user: String,
    pub login: String,
    /// For the forms of the page.
    pub csrf: String,
    pub section: Section,
    pub notice: Option<Notice>,
}

impl Layout {
    /// `aria-current="page"` on the navigation link of the page's section.
    pub fn current(&self, name: &str) -> &'static str {
        let this = match self.section {
            Section::Agents => "agents",
            Section::Approvals => "approvals",
            Section::Requests => "requests",
            Section::None => "",
        };
        if this == name { "page" } else { "false" }
    }

    /// The sign-out page (it asks before signing out, so the link changes nothing).
    pub fn sign_out_href(&self) -> &'static str {
        "/common/oauth2/v2.0/logout"
    }
}

/// An instant as the pages show it: the exact UTC instant (`datetime` and the text without
/// script) and how far it is from now.
#[derive(Debug, Clone)]
pub struct When {
    /// RFC 3339 in UTC, for `<time datetime>`.
    pub iso: String,
    /// "Mon 7 Dec 2026, 10:00 UTC".
    pub utc: String,
    /// "in 3 days", "2 hours ago".
    pub relative: String,
}

impl When {
    pub fn of(at: OffsetDateTime, now: OffsetDateTime) -> Self {
        let utc_at = at.to_offset(time::UtcOffset::UTC);
        let human = time::macros::format_description!(
            "[weekday repr:short] [day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        );
        Self {
            iso: utc_at.format(&Rfc3339).unwrap_or_default(),
            utc: utc_at.format(&human).unwrap_or_default(),
            relative: relative(at, now),
        }
    }

    /// [`When::of`] a stored RFC 3339 text; `None` for a text that is not one.
    pub fn parse(text: &str, now: OffsetDateTime) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(|at| Self::of(at, now))
    }
}

/// "in 3 days", "5 minutes ago", "now": the largest whole unit, rounded down.
pub fn relative(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (at - now).whole_seconds();
    let magnitude = seconds.unsigned_abs();
    let (count, unit) = if magnitude < 60 {
        return if magnitude < 5 {
            "now".to_owned()
        } else if seconds > 0 {
            format!("in {magnitude} seconds")
        } else {
            format!("{magnitude} seconds ago")
        };
    } else if magnitude < 3_600 {
        (magnitude / 60, "minute")
    } else if magnitude < 86_400 {
        (magnitude / 3_600, "hour")
    } else {
        (magnitude / 86_400, "day")
    };
    let plural = if count == 1 { "" } else { "s" };
    if seconds > 0 {
        format!("in {count} {unit}{plural}")
    } else {
        format!("{count} {unit}{plural} ago")
    }
}

#[derive(Template)]
#[template(path = "portal/message.html")]
struct PortalMessagePage<'a> {
    message: MessagePage<'a>,
}

/// A message page (no layout: it may be shown to someone not signed in) with the portal's
/// headers.
pub fn page_message(status: StatusCode, message: MessagePage<'_>) -> Response {
    with_portal_headers(pages::render(status, &PortalMessagePage { message }))
}

/// A page of the portal: `page` rendered with `status` and the portal's headers.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    with_portal_headers(pages::render(status, page))
}

fn with_portal_headers(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// The page of a refusal or failure, with the status and message the API would answer (the
/// one mapping of `crate::error`); a server failure shows no detail.
pub fn refusal(err: ApiError) -> Response {
    let heading = match err.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::CONFLICT => "Already changed",
        StatusCode::UNAUTHORIZED => "Signed out",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        s if s.is_server_error() => "Something went wrong",
        _ => "Not possible",
    };
    let text = if err.status.is_server_error() {
        "Writ could not complete this step. Try again in a moment.".to_owned()
    } else {
        err.message.clone()
    };
    page_message(
        err.status,
        MessagePage::error(heading, &text).with_link(HOME, "Back to the portal"),
    )
}

/// [`refusal`] of a domain error.
pub fn domain_refusal(err: DomainError) -> Response {
    refusal(ApiError::from(err))
}

/// `GET /` and `GET /portal`: the portal's first page.
async fn home() -> Response {
    pages::see_other(HOME)
}

/// `GET /writ/assets/portal.js`.
async fn script() -> Response {
    let mut response = SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The form of a `POST`, read and CSRF-checked for `person`.
pub async fn checked_form(
    person: &Person,
    request: Request,
) -> Result<Vec<(String, String)>, Response> {
    let form = browser::read_form(request).await?;
    person.check_csrf(&form)?;
    Ok(form)
}

/// The state of a handler, for submodules that take `State` and the whole request.
pub type PortalState = State<AppState>;

/// Every portal route.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    let r = r
        .route(Get, "/", Plain, "The portal's first page", home)
        .route(Get, "/portal", Plain, "The portal's first page", home)
        .route(
            Get,
            "/writ/assets/portal.js",
            Plain,
            "Script of the portal pages (times in the browser's time zone)",
            script,
        );
    let r = agents::routes(r);
    let r = approvals::routes(r);
    requests::routes(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn relative_times_name_the_largest_whole_unit() {
        let now = datetime!(2026-12-07 10:00 UTC);
        let cases = [
            (datetime!(2026-12-07 10:00:02 UTC), "now"),
            (datetime!(2026-12-07 10:00:30 UTC), "in 30 seconds"),
            (datetime!(2026-12-07 09:59:00 UTC), "1 minute ago"),
            (datetime!(2026-12-07 12:59:59 UTC), "in 2 hours"),
            (datetime!(2026-12-10 10:00 UTC), "in 3 days"),
            (datetime!(2026-12-06 10:00 UTC), "1 day ago"),
        ];
        for (at, expected) in cases {
            assert_eq!(relative(at, now), expected, "{at}");
        }
    }

    #[test]
    fn an_instant_is_shown_in_utc_whatever_its_offset() {
        let now = datetime!(2026-12-07 10:00 UTC);
        let when = When::parse("2026-12-08T12:30:00+02:00", now).unwrap();
        assert_eq!(when.iso, "2026-12-08T10:30:00Z");
        assert_eq!(when.utc, "Tue 8 Dec 2026, 10:30 UTC");
        assert_eq!(when.relative, "in 1 day");
        assert!(When::parse("not a time", now).is_none());
    }
}
