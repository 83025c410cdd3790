//! Request limits at the door of the tenant API: every sign-in and write is
//! counted against the client's address and, when it carries a valid access
//! token, against its user, before the handler runs. (A sign-in is also
//! counted per Telegram user once its initData is verified, in the runtime.)

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};
use tikethet_runtime::auth::throttle::Action;

use super::error::ApiError;
use crate::AppState;

/// What a request to the tenant API counts as, if anything: `(slug, action)`.
fn classify(method: &Method, path: &str) -> Option<(String, Action)> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let rest = path.strip_prefix("/t/")?;
    let (slug, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("api/v1/")?;
    let action = match rest.trim_end_matches('/') {
        "auth/telegram" | "auth/dev" | "auth/refresh" => Action::SignIn,
        _ => Action::Write,
    };
    Some((slug.to_owned(), action))
}

/// The client's address: the peer's, or, when the peer is on this host or a
/// private network (a reverse proxy or load balancer in front of us), the
/// address that proxy appended last to `X-Forwarded-For`. Entries before
/// the last were written by the client and prove nothing.
pub fn client_ip(req: &Request) -> Option<IpAddr> {
    behind_proxies(req.remote_addr().as_socket_addr()?.ip(), req.headers())
}

fn behind_proxies(peer: IpAddr, headers: &poem::http::HeaderMap) -> Option<IpAddr> {
    let proxied = match peer {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_private()),
    };
    if proxied {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return Some(ip);
        }
    }
    Some(peer)
}

fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

pub async fn throttle<E: Endpoint>(state: AppState, ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if let Some((slug, action)) = classify(req.method(), req.uri().path()) {
        let runtime = &state.runtime;
        let mut verdict = match client_ip(&req) {
            Some(ip) => runtime.throttle_client(ip, action).await,
            None => Ok(()),
        };
        if verdict.is_ok() && action == Action::Write {
            if let Some(token) = bearer(&req) {
                verdict = runtime.throttle_bearer(&slug, token, action).await;
            }
        }
        if let Err(e) = verdict {
            return Ok(ApiError::from(e).into_response());
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_and_writes_are_told_apart() {
        assert_eq!(classify(&Method::POST, "/t/acme/api/v1/auth/telegram"), Some(("acme".into(), Action::SignIn)));
        assert_eq!(classify(&Method::POST, "/t/acme/api/v1/auth/refresh"), Some(("acme".into(), Action::SignIn)));
        assert_eq!(classify(&Method::POST, "/t/acme/api/v1/auth/logout"), Some(("acme".into(), Action::Write)));
        assert_eq!(classify(&Method::PATCH, "/t/acme/api/v1/tickets/4"), Some(("acme".into(), Action::Write)));
        assert_eq!(classify(&Method::DELETE, "/t/acme/api/v1/categories/1"), Some(("acme".into(), Action::Write)));
        assert_eq!(classify(&Method::GET, "/t/acme/api/v1/tickets"), None);
        assert_eq!(classify(&Method::POST, "/api/platform/v1/tenants"), None);
        assert_eq!(classify(&Method::POST, "/tg/r123"), None);
    }

    fn request(peer: &str, forwarded: Option<&str>) -> Option<IpAddr> {
        let mut headers = poem::http::HeaderMap::new();
        if let Some(f) = forwarded {
            headers.insert("x-forwarded-for", f.parse().unwrap());
        }
        behind_proxies(peer.parse::<std::net::SocketAddr>().unwrap().ip(), &headers)
    }

    #[test]
    fn only_a_proxy_on_a_private_network_is_believed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(request("127.0.0.1:5000", Some("1.1.1.1, 203.0.113.7")), Some(ip("203.0.113.7")));
        assert_eq!(request("10.0.0.2:5000", Some("203.0.113.7")), Some(ip("203.0.113.7")));
        assert_eq!(request("198.51.100.1:5000", Some("203.0.113.7")), Some(ip("198.51.100.1")), "a public peer's header is not believed");
        assert_eq!(request("127.0.0.1:5000", Some("not an address")), Some(ip("127.0.0.1")));
        assert_eq!(request("127.0.0.1:5000", None), Some(ip("127.0.0.1")));
    }
}
