//! Server-rendered HTML: the sign-in pages now, the portal (issue 17) next, and the headers
//! every page is sent with.
//!
//! **Why askama.** Pages are compile-time checked templates (`askama`, files under
//! `crates/writ-server/templates/`, compiled into the binary): a wrong variable or a template
//! syntax error fails the build, not a request; output is HTML-escaped by default (a `.html`
//! template escapes every `{{ }}`), so a display name cannot inject markup; rendering is plain
//! Rust code with no template parsing at run time; and there is no asset pipeline or front-end
//! build step — the stylesheet is `include_str!`ed and served by [`stylesheet`]. `minijinja`
//! was the alternative: its templates are parsed at run time, so their mistakes surface as 500s,
//! and its engine is a larger build than askama's derive. askama 0.14 is pinned because it
//! shares `winnow` 0.7 with the rest of the build (0.16 would add a second `winnow` major).
//!
//! **Headers.** Every page is `no-store` (sign-in pages must never come from a cache), with a
//! `Content-Security-Policy` that allows no script at all and styles only from this server,
//! `frame-ancestors 'none'` and `X-Frame-Options: DENY` (no clickjacking of the approve
//! button), `Referrer-Policy: no-referrer` and `nosniff`. Error pages keep their status and
//! are HTML: the request-context middleware leaves `text/html` answers alone.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The stylesheet of every page.
const STYLESHEET: &str = include_str!("../templates/writ.css");

/// The largest form body a page accepts.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage<'a> {
    pub action: &'a str,
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// The password form is shown (`WRIT_SIGN_IN` is `local` or `both`).
    pub local: bool,
    /// "Sign in with …": the start of single sign-on and the provider's name.
    pub sso: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "device_code.html")]
pub struct DeviceCodePage<'a> {
    pub user: &'a str,
    pub csrf: &'a str,
    pub code: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_consent.html")]
pub struct DeviceConsentPage<'a> {
    pub application: &'a str,
    pub user: &'a str,
    pub scopes: Vec<&'a str>,
    pub csrf: &'a str,
    pub code: &'a str,
}

#[derive(Template)]
#[template(path = "sign_out.html")]
pub struct SignOutPage<'a> {
    pub action: &'a str,
    pub user: &'a str,
    pub csrf: &'a str,
    /// Carried to the POST, which decides whether to follow it (`browser::after_sign_out`).
    pub post_logout_redirect_uri: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub state: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub heading: &'a str,
    pub text: &'a str,
    /// Announce the text as an error (`role="alert"`).
    pub alert: bool,
    pub link: Option<(&'a str, &'a str)>,
}

impl<'a> MessagePage<'a> {
    pub fn info(heading: &'a str, text: &'a str) -> Self {
        Self {
            heading,
            text,
            alert: false,
            link: None,
        }
    }

    pub fn error(heading: &'a str, text: &'a str) -> Self {
        Self {
            heading,
            text,
            alert: true,
            link: None,
        }
    }

    pub fn with_link(mut self, href: &'a str, label: &'a str) -> Self {
        self.link = Some((href, label));
        self
    }
}

/// The security headers of every page.
pub fn secure(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A page with `status` and the security headers.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error.detail = %err, "page rendering failed");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            );
        }
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(response.headers_mut());
    response
}

/// A short HTML answer without a template (used only if a template fails).
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (
        status,
        format!("<!doctype html><html lang=\"en\"><title>Writ</title><p role=\"alert\">{text}</p></html>"),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(response.headers_mut());
    response
}

/// A `303 See Other` to a path on this server, with the security headers.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    secure(response.headers_mut());
    response
}

/// `GET /writ/assets/writ.css`.
pub async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
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

/// The pairs of a form body or query string: refused (with the message to show) when a name
/// repeats or a value holds U+0000, which PostgreSQL cannot store or look up.
pub fn pairs(encoded: &[u8]) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in &pairs {
        if k.contains('\0') || v.contains('\0') {
            return Err("The form contains the NUL character.".into());
        }
        if !seen.insert(k.as_str()) {
            return Err(format!(
                "The field '{}' is repeated.",
                k.chars().take(64).collect::<String>()
            ));
        }
    }
    Ok(pairs)
}

/// The value of `name` among `pairs`, if present and not empty.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Whether the request body is declared as a URL-encoded form (or not declared).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_none_or(|ct| {
        ct.to_str()
            .map(|c| {
                c.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show_and_send_the_security_headers() {
        let page = SignInPage {
            action: "/t/login",
            csrf: "tok\"en",
            return_to: "/x?a=1&b=2",
            username: "<script>alert(1)</script>",
            error: Some("Bad <b>"),
            local: true,
            sso: None,
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script"));
        assert!(html.contains("&#60;script&#62;alert(1)"), "{html}");
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<label for=\"password\">"));
        assert!(!html.contains("tok\"en"));
        let response = render(StatusCode::BAD_REQUEST, &page);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let h = response.headers();
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    }

    #[test]
    fn forms_refuse_nul_and_repeats() {
        assert_eq!(
            pairs(b"a=1&b=x%20y").unwrap(),
            [("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
        assert!(pairs(b"a=%00").is_err());
        assert!(pairs(b"a=1&a=2").is_err());
        let p = pairs(b"a=&b=2").unwrap();
        assert_eq!(field(&p, "a"), None);
        assert_eq!(field(&p, "b"), Some("2"));
    }
}

/// The OAuth 2.0 Form Post Response Mode page: a form that posts the authorization response to
/// the client's redirect URI, submitted by [`FORM_POST_SCRIPT`] (or by its button without
/// script).
#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub action: &'a str,
    pub fields: Vec<(&'a str, &'a str)>,
    pub script: &'static str,
}

/// The one script any Writ page runs: it submits the form-post page's form. Allowed by its hash
/// in that page's own CSP ([`form_post_csp`]), so no `'unsafe-inline'` and no per-response nonce:
/// the text never changes, nothing from the request is in it, and every other page keeps
/// running no script at all.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

/// The CSP of the form-post page: the pages' policy with [`FORM_POST_SCRIPT`] allowed by hash and
/// `form-action` widened to the redirect URI's origin (the pages' `'self'` would block the post to
/// the application). `origin` is `scheme://host[:port]` of an already matched redirect URI.
pub fn form_post_csp(origin: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, FORM_POST_SCRIPT.as_bytes());
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest.as_ref());
    format!(
        "default-src 'none'; style-src 'self'; script-src 'sha256-{hash}'; form-action {origin}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A page that sends the browser on to `location` by `<meta http-equiv="refresh">` (and a link):
/// the authorization response after Writ's own sign-in form. A `303` there would continue the
/// form submission's redirect chain, which browsers check against the sign-in page's
/// `form-action 'self'` and so refuse for the application's (other) origin; a refresh is a new
/// navigation, which no CSP directive governs.
#[derive(Template)]
#[template(path = "redirect.html")]
pub struct RedirectPage<'a> {
    pub location: &'a str,
}
