//! The kit the staff console and the operator dashboard share as web
//! pages, so that both hold the same line: one Content-Security-Policy and
//! set of page headers ([`page`]); session cookies through poem's
//! `CookieJar` ([`SessionCookie`]); queries and forms typed through poem's
//! `Query<T>` and `Form<T>` ([`query`], [`posted`]); and one check of every
//! state change: sent from our own pages (`Origin`) and carrying the
//! session's CSRF token ([`csrf_token`]), checked before anything changes.

use hmac::{Hmac, Mac};
use poem::http::{StatusCode, header};
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::Form;
use poem::{Body, FromRequest, Request, RequestBody, Response};
use serde::de::DeserializeOwned;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// Our pages load only from us; nothing may frame them.
pub const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The largest form a page posts (the console's plugin upload is multipart
/// and read on its own).
pub const MAX_FORM: usize = 64 * 1024;

/// A page of ours: never framed, never cached, under [`CSP`]. The referrer
/// stays on our own origin (not `no-referrer`: under it browsers post
/// forms with `Origin: null`, which [`same_origin`] refuses).
pub fn page(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, CSP)
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "same-origin")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
}

/// A rendered page, or a plain error page when the template failed (the
/// log says why).
pub fn rendered<E: std::fmt::Display>(status: StatusCode, r: Result<String, E>) -> Response {
    match r {
        Ok(body) => page(status, body),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "failed to render a page");
            page(StatusCode::INTERNAL_SERVER_ERROR, "<!doctype html><title>Error</title><p>The page could not be rendered; the server log says why.</p>".into())
        }
    }
}

/// `303 See Other` to `to` (after a form post: a reload repeats nothing).
pub fn see_other(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).header(header::CACHE_CONTROL, "no-store").finish()
}

/// A session cookie: HttpOnly, on `path`, `Secure` in production.
pub struct SessionCookie<'a> {
    pub name: &'a str,
    pub path: &'static str,
    pub same_site: SameSite,
    pub secure: bool,
}

impl SessionCookie<'_> {
    /// The session the browser sent, if any.
    pub fn read(&self, jar: &CookieJar) -> Option<String> {
        jar.get(self.name).map(|c| c.value_str().to_owned()).filter(|v| !v.is_empty())
    }

    /// Sets the session for `max_age`.
    pub fn set(&self, jar: &CookieJar, value: &str, max_age: std::time::Duration) {
        let mut c = Cookie::new_with_str(self.name, value);
        c.set_path(self.path);
        c.set_http_only(true);
        c.set_same_site(self.same_site);
        c.set_secure(self.secure);
        c.set_max_age(max_age);
        jar.add(c);
    }

    /// Removes the session from the browser.
    pub fn end(&self, jar: &CookieJar) {
        self.set(jar, "", std::time::Duration::ZERO);
    }
}

/// The CSRF token of a session: an HMAC under `key` of what names the
/// session, for one `purpose` (the console's and the dashboard's differ).
pub fn csrf_token(key: &[u8], purpose: &str, session: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(session.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..20])
}

/// Why a state change was refused; nothing was changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The request came from another site.
    CrossOrigin,
    /// The session's CSRF token is missing or wrong.
    BadToken,
    /// The form is longer than [`MAX_FORM`].
    TooLarge,
    /// The form's fields do not read as the page sends them.
    Malformed(String),
}

impl Refused {
    pub fn status(&self) -> StatusCode {
        match self {
            Refused::CrossOrigin | Refused::BadToken => StatusCode::FORBIDDEN,
            Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::Malformed(_) => StatusCode::BAD_REQUEST,
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Refused::CrossOrigin | Refused::BadToken => "Refused",
            Refused::TooLarge => "Too long",
            Refused::Malformed(_) => "Not accepted",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refused::CrossOrigin => "This request came from another site; nothing was changed.".into(),
            Refused::BadToken => {
                "The form's security token is missing or out of date (a page left open too long?). Nothing was changed: reload the page and try again.".into()
            }
            Refused::TooLarge => "That was longer than the page takes; nothing was changed.".into(),
            Refused::Malformed(why) => format!("The form could not be read ({why}); nothing was changed. Reload the page and try again."),
        }
    }
}

/// Whether a browser's request comes from our own pages: its `Origin`,
/// when it sends one, names the host it was sent to (`Host`, or the
/// request's authority over HTTP/2). `Origin: null` (a sandboxed or
/// privacy-stripped context) is refused.
pub fn same_origin(req: &Request) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    origin != "null" && origin_host.eq_ignore_ascii_case(&host)
}

#[derive(serde::Deserialize)]
struct Token {
    csrf: Option<String>,
}

/// Checks a state change: sent from our own pages, with the session's
/// token `csrf` as the `X-CSRF-Token` header or as `posted` (the form's
/// `csrf` field).
pub fn check(req: &Request, csrf: &str, posted: Option<&str>) -> Result<(), Refused> {
    if !same_origin(req) {
        return Err(Refused::CrossOrigin);
    }
    let header = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok());
    match header.or(posted) {
        Some(t) if bool::from(t.as_bytes().ct_eq(csrf.as_bytes())) => Ok(()),
        _ => Err(Refused::BadToken),
    }
}

/// The form of a state change, typed, once the caller knows who sent it:
/// refused unless it comes from our own pages and carries `csrf` (the
/// session's token, as the `X-CSRF-Token` header or the form's `csrf`
/// field). The body is read only here, at most [`MAX_FORM`] bytes.
pub async fn posted<F: DeserializeOwned>(req: &Request, body: Body, csrf: &str) -> Result<F, Refused> {
    if !same_origin(req) {
        return Err(Refused::CrossOrigin);
    }
    let bytes = body.into_bytes_limit(MAX_FORM).await.map_err(|_| Refused::TooLarge)?;
    let field = form::<Token>(req, &bytes).await.ok().and_then(|t| t.csrf);
    check(req, csrf, field.as_deref())?;
    form(req, &bytes).await
}

/// A form nobody is signed in to send (a sign-in page's), typed: refused
/// unless it comes from our own pages; at most `limit` bytes.
pub async fn posted_anonymously<F: DeserializeOwned>(req: &Request, body: Body, limit: usize) -> Result<F, Refused> {
    if !same_origin(req) {
        return Err(Refused::CrossOrigin);
    }
    let bytes = body.into_bytes_limit(limit).await.map_err(|_| Refused::TooLarge)?;
    form(req, &bytes).await
}

/// Reads `bytes` as the request's form through poem's `Form<F>`.
async fn form<F: DeserializeOwned>(req: &Request, bytes: &[u8]) -> Result<F, Refused> {
    let mut body = RequestBody::new(Body::from(bytes.to_vec()));
    Form::<F>::from_request(req, &mut body).await.map(|Form(f)| f).map_err(|e| Refused::Malformed(e.to_string()))
}

/// A page's query, typed (poem's `Request::params`, what its `Query<Q>`
/// reads); one that does not read (a hand-edited address) is the page's
/// defaults.
pub fn query<Q: DeserializeOwned + Default>(req: &Request) -> Q {
    req.params().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(origin: Option<&str>, csrf_header: Option<&str>) -> Request {
        let mut b = Request::builder()
            .method(poem::http::Method::POST)
            .uri_str("/operator/tenants/acme/suspend")
            .header("Host", "desk.example:8080")
            .content_type("application/x-www-form-urlencoded");
        if let Some(o) = origin {
            b = b.header("Origin", o);
        }
        if let Some(t) = csrf_header {
            b = b.header("X-CSRF-Token", t);
        }
        b.finish()
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Reply {
        text: String,
        seen: Option<i64>,
    }

    #[tokio::test]
    async fn a_post_needs_our_origin_and_the_sessions_token() {
        let token = csrf_token(b"key", "test", "session");
        let body = |t: &str| Body::from(format!("csrf={t}&text=hi&seen=7"));
        let ok = posted::<Reply>(&post(Some("http://desk.example:8080"), None), body(&token), &token).await;
        assert_eq!(ok, Ok(Reply { text: "hi".into(), seen: Some(7) }));
        let no_origin = posted::<Reply>(&post(None, None), body(&token), &token).await;
        assert!(no_origin.is_ok(), "no Origin (older browsers): the token decides");
        let header = posted::<Reply>(&post(None, Some(&token)), Body::from("text=hi"), &token).await;
        assert_eq!(header, Ok(Reply { text: "hi".into(), seen: None }), "the token as a header (the console's script)");
        assert_eq!(posted::<Reply>(&post(Some("https://evil.example"), None), body(&token), &token).await, Err(Refused::CrossOrigin));
        assert_eq!(posted::<Reply>(&post(Some("null"), None), body(&token), &token).await, Err(Refused::CrossOrigin));
        assert_eq!(posted::<Reply>(&post(None, None), Body::from("text=hi"), &token).await, Err(Refused::BadToken));
        let other = csrf_token(b"key", "test", "another session");
        assert_eq!(posted::<Reply>(&post(None, None), body(&other), &token).await, Err(Refused::BadToken));
        assert_eq!(csrf_token(b"key", "other purpose", "session") == token, false, "tokens are per purpose");
        let bad = posted::<Reply>(&post(None, None), Body::from(format!("csrf={token}&text=hi&seen=many")), &token).await;
        assert!(matches!(bad, Err(Refused::Malformed(_))), "{bad:?}");
        let long = posted::<Reply>(&post(None, None), Body::from(format!("csrf={token}&text={}", "x".repeat(MAX_FORM))), &token).await;
        assert_eq!(long, Err(Refused::TooLarge));
    }

    #[test]
    fn a_query_that_does_not_read_is_the_defaults() {
        #[derive(Debug, Default, serde::Deserialize, PartialEq)]
        struct Q {
            page: Option<usize>,
            q: Option<String>,
        }
        let req = |uri: &str| Request::builder().uri_str(uri).finish();
        assert_eq!(query::<Q>(&req("/operator/?page=2&q=acme")), Q { page: Some(2), q: Some("acme".into()) });
        assert_eq!(query::<Q>(&req("/operator/?page=lots")), Q::default());
    }
}
