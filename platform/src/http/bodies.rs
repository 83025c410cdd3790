//! Request bodies, for every route: each route has a cap on the bytes it
//! reads, counted as they are read (a `Content-Length` over the cap is
//! refused at once, but a chunked body, or one longer than it said, is cut
//! off at the cap too and answered 413), and nobody unknown may make the
//! server read more than [`PRE_AUTH_BODY`]: a body that may be larger is
//! read only after its sender is known: the tenant API's bearer token and
//! the operator token are checked here, before the handler runs; the
//! routes whose handlers check first (the Telegram webhook's secret, the
//! console's and the dashboard's session, CSRF token and role) are
//! reviewed to do so. The bytes read are counted for `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt as _;
use poem::http::{Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use subtle::ConstantTimeEq as _;

use tikethet_runtime::domain::Role;

use super::error::{ApiError, json_error};
use crate::AppState;

/// What anyone may send before they are known (a sign-in, a login form).
pub const PRE_AUTH_BODY: usize = 8 * 1024;
/// Largest body of the tenant and operator APIs (a plugin upload is the
/// largest, with its JSON framing).
pub const MAX_API_BODY: usize = tikethet_plugins::limits::MAX_COMPONENT_BYTES + 64 * 1024;
/// The console's plugin upload: the component and a few small fields.
pub const MAX_CONSOLE_UPLOAD: usize = tikethet_plugins::limits::MAX_COMPONENT_BYTES + 16 * 1024;
/// The console's reply or note with its files (ten at most, each within
/// the plan's size, which the handler checks).
pub const MAX_CONSOLE_MESSAGE: usize = super::api::files::MAX_UPLOAD_BODY * 2;
/// The console's and the dashboard's forms.
const MAX_PAGE_FORM: usize = 64 * 1024;

/// Who must be known before more than [`PRE_AUTH_BODY`] is read.
#[derive(Debug, PartialEq, Eq)]
enum Sender {
    /// Nobody needs to be: the cap is [`PRE_AUTH_BODY`] or less.
    Anyone,
    /// A valid access token of this desk with at least this role,
    /// checked here.
    Bearer(String, Role),
    /// The operator token, checked here.
    Operator,
    /// The handler checks who is asking before it reads the body.
    ByHandler,
}

/// A route's cap and who must be known before its body is read.
fn rule(method: &Method, path: &str) -> (usize, Sender) {
    if let Some(rest) = path.strip_prefix("/t/") {
        let (slug, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(api) = rest.strip_prefix("api/v1/") {
            return match api {
                a if a.starts_with("auth/") => (PRE_AUTH_BODY, Sender::Anyone),
                "uploads" if method == Method::POST => (super::api::files::MAX_UPLOAD_BODY, Sender::Bearer(slug.to_owned(), Role::User)),
                // A desk's plugins, theme and texts are its admins' to set.
                a if method == Method::PUT && (a.starts_with("plugins/") || a == "theme" || a == "bot-texts") => {
                    (MAX_API_BODY, Sender::Bearer(slug.to_owned(), Role::Admin))
                }
                _ => (MAX_API_BODY, Sender::Bearer(slug.to_owned(), Role::User)),
            };
        }
        if let Some(page) = rest.strip_prefix("admin") {
            // The console's handlers resolve the session cookie before they
            // read a form; the plugin upload also its role and CSRF token.
            return match page {
                "/login" => (PRE_AUTH_BODY, Sender::Anyone),
                "/plugins" if method == Method::POST => (MAX_CONSOLE_UPLOAD, Sender::ByHandler),
                // A reply or note with files: the handler settles the
                // session and CSRF token before it reads a file.
                p if method == Method::POST && p.starts_with("/tickets/") && (p.ends_with("/reply") || p.ends_with("/note")) => {
                    (MAX_CONSOLE_MESSAGE, Sender::ByHandler)
                }
                _ => (MAX_PAGE_FORM, Sender::ByHandler),
            };
        }
        return (PRE_AUTH_BODY, Sender::Anyone);
    }
    if path.starts_with("/api/platform/") {
        return (MAX_API_BODY, Sender::Operator);
    }
    if path.starts_with("/tg/") {
        // The webhook checks its route and secret before reading.
        return (tikethet_runtime::inbound::intake::MAX_UPDATE_BYTES, Sender::ByHandler);
    }
    if path == "/billing/stripe/webhook" {
        // Stripe signs the body itself: it must be read to be checked,
        // within a cap that fits its events.
        return (super::billing::MAX_EVENT_BYTES, Sender::ByHandler);
    }
    if path.starts_with("/demo/") {
        // The demo's chat takes a Telegram-sized message (4,096 characters
        // of any script); the demo never runs in production.
        return (32 * 1024, Sender::Anyone);
    }
    if path.starts_with("/operator/") && path != "/operator/login" {
        // The dashboard resolves its session before it reads a form.
        return (MAX_PAGE_FORM, Sender::ByHandler);
    }
    (PRE_AUTH_BODY, Sender::Anyone)
}

/// Counts every request body against its route's cap and checks the sender
/// of a body that may exceed [`PRE_AUTH_BODY`] before it is read.
pub async fn guard<E: Endpoint>(state: AppState, ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let (max, sender) = rule(req.method(), req.uri().path());
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Ok(too_large(max));
    }
    // No length (chunked, or HTTP/2 without one) may be anything.
    let may_be_large = match declared {
        Some(n) => n > PRE_AUTH_BODY as u64,
        None => !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || req.headers().contains_key(header::TRANSFER_ENCODING),
    };
    if may_be_large {
        if let Some(refused) = refuse_unknown(&state, &req, &sender).await {
            return Ok(refused);
        }
    }
    let over = Arc::new(AtomicBool::new(false));
    let body = req.take_body();
    let (seen, counter) = (over.clone(), state.body_bytes.clone());
    let mut read = 0usize;
    let counted = body.into_bytes_stream().map(move |chunk| {
        let chunk = chunk?;
        read += chunk.len();
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if read > max {
            seen.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(format!("request bodies here are limited to {max} bytes")));
        }
        Ok(chunk)
    });
    req.set_body(Body::from_bytes_stream(counted));
    let res = ep.call(req).await.map(IntoResponse::into_response);
    // However the handler reported the cut-off body, it was too large.
    if over.load(Ordering::Relaxed) {
        return Ok(too_large(max));
    }
    res
}

fn too_large(max: usize) -> Response {
    json_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &format!("request bodies here are limited to {max} bytes"))
}

/// The refusal of a sender who must be known and is not, if so.
async fn refuse_unknown(state: &AppState, req: &Request, sender: &Sender) -> Option<Response> {
    let bearer = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    match sender {
        Sender::Anyone | Sender::ByHandler => None,
        Sender::Bearer(slug, role) => match bearer {
            None => Some(ApiError::from(tikethet_runtime::RuntimeError::Unauthenticated("send the access token before a body".into())).into_response()),
            Some(token) => match state.runtime.context(slug, token).await.and_then(|ctx| ctx.require(*role)) {
                Ok(()) => None,
                Err(e) => Some(ApiError::from(e).into_response()),
            },
        },
        Sender::Operator => {
            let expected = state.settings.operator_token.expose().as_bytes();
            let ok = bearer.is_some_and(|b| !expected.is_empty() && bool::from(b.as_bytes().ct_eq(expected)));
            (!ok).then(|| ApiError::unauthorized("invalid operator token").into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_its_cap_and_its_sender() {
        let post = Method::POST;
        assert_eq!(rule(&post, "/t/acme/api/v1/auth/telegram"), (PRE_AUTH_BODY, Sender::Anyone));
        assert_eq!(rule(&post, "/t/acme/api/v1/uploads"), (super::super::api::files::MAX_UPLOAD_BODY, Sender::Bearer("acme".into(), Role::User)));
        assert_eq!(rule(&Method::PUT, "/t/acme/api/v1/plugins/x"), (MAX_API_BODY, Sender::Bearer("acme".into(), Role::Admin)));
        assert_eq!(rule(&Method::PUT, "/t/acme/api/v1/bot-texts"), (MAX_API_BODY, Sender::Bearer("acme".into(), Role::Admin)));
        assert_eq!(rule(&post, "/t/acme/api/v1/tickets/3/messages"), (MAX_API_BODY, Sender::Bearer("acme".into(), Role::User)));
        assert_eq!(rule(&post, "/t/acme/admin/plugins"), (MAX_CONSOLE_UPLOAD, Sender::ByHandler));
        assert_eq!(rule(&post, "/t/acme/admin/login"), (PRE_AUTH_BODY, Sender::Anyone));
        assert_eq!(rule(&post, "/t/acme/admin/tickets/3/reply"), (MAX_CONSOLE_MESSAGE, Sender::ByHandler));
        assert_eq!(rule(&post, "/t/acme/admin/tickets/3/note"), (MAX_CONSOLE_MESSAGE, Sender::ByHandler));
        assert_eq!(rule(&post, "/t/acme/admin/tickets/3/change"), (MAX_PAGE_FORM, Sender::ByHandler));
        assert_eq!(rule(&post, "/t/acme/app/"), (PRE_AUTH_BODY, Sender::Anyone));
        assert_eq!(rule(&post, "/api/platform/v1/tenants"), (MAX_API_BODY, Sender::Operator));
        assert_eq!(rule(&post, "/operator/login"), (PRE_AUTH_BODY, Sender::Anyone));
        assert_eq!(rule(&post, "/operator/tenants"), (MAX_PAGE_FORM, Sender::ByHandler));
        assert_eq!(rule(&post, "/metrics"), (PRE_AUTH_BODY, Sender::Anyone));
    }
}
