//! Tenants' own domains: a request whose `Host` is a tenant's custom domain
//! reaches that tenant's desk without the `/t/{slug}` prefix. `/` and
//! `/app/` are its Mini App, `/api/v1/…` its API, `/ws` its live events,
//! `/admin/` its console; the platform's own pages and API (`/operator/`,
//! `/api/platform/`, `/metrics`) are not found there, so a tenant's domain
//! never fronts the operator's; anything else (webhooks, health) is the
//! platform's as on any host. The rewrite happens before routing, so every
//! route, limit and check applies unchanged.

use std::sync::Arc;

use poem::http::{StatusCode, Uri};
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response, handler};

use crate::AppState;

/// Marks a request that came in on a tenant's own domain (its pages then
/// link without the `/t/{slug}` prefix).
#[derive(Debug, Clone, Copy)]
pub struct OwnDomain;

/// The request's host name, lowercased, without port or trailing dot.
pub(crate) fn host_of(req: &Request) -> Option<String> {
    let raw = req.headers().get(poem::http::header::HOST).and_then(|v| v.to_str().ok()).or_else(|| req.uri().host())?;
    let host = if raw.starts_with('[') {
        // An IPv6 literal: `[::1]:8080`.
        raw.split_once(']').map_or(raw, |(h, _)| &raw[..h.len() + 1])
    } else {
        match raw.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether a path is the platform operator's, never served on a tenant's
/// domain.
fn operators(path: &str) -> bool {
    path == "/operator" || path.starts_with("/operator/") || path.starts_with("/api/platform/") || path == "/metrics"
}

/// The path under `/t/{slug}` that a path on a tenant's domain stands for.
fn desk_path(path: &str) -> Option<&str> {
    match path {
        "" | "/" | "/app" => Some("/app/"),
        "/ws" | "/admin" => Some(path),
        p if p.starts_with("/app/") || p.starts_with("/api/v1/") || p.starts_with("/admin/") => Some(p),
        _ => None,
    }
}

pub async fn route<E: Endpoint>(state: AppState, ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    if let Some(host) = host_of(&req) {
        let tenant = (Some(host.as_str()) != state.settings.public_url.host_str()).then(|| state.runtime.tenants().by_domain(&host)).flatten();
        if let Some(t) = tenant {
            if req.uri().path().starts_with("/t/") || operators(req.uri().path()) {
                // Desks by prefix stay on the platform's host: another desk's
                // page on this domain would share this desk's origin. The
                // operator's pages and API belong to the platform's host.
                return Ok(super::error::json_error(poem::http::StatusCode::NOT_FOUND, "not_found", "not found on this domain"));
            }
            if let Some(rest) = desk_path(req.uri().path()) {
                let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
                let rewritten = format!("/t/{}{rest}{query}", t.info.slug.as_str());
                if let Ok(uri) = rewritten.parse::<Uri>() {
                    *req.uri_mut() = uri;
                    req.extensions_mut().insert(OwnDomain);
                }
            }
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// `GET /tls/ask?domain={name}`: the deployment's proxy asks before it
/// obtains a certificate on demand (Caddy's `on_demand_tls { ask … }`).
/// 200 only for a desk's proven domain (see `control::domains`) or the
/// platform's own host; 404 for any other name, so that nobody can make
/// the proxy request certificates for names that are not ours.
#[handler]
pub async fn ask(req: &Request, Data(state): Data<&AppState>) -> Response {
    #[derive(Default, serde::Deserialize)]
    struct Q {
        domain: Option<String>,
    }
    let q: Q = super::web::query(req);
    let Some(name) = q.domain.map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase()).filter(|d| !d.is_empty()) else {
        return super::error::json_error(StatusCode::BAD_REQUEST, "domain_missing", "give the name as ?domain=");
    };
    let ours = state.settings.public_url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&name));
    if ours || state.runtime.tenants().by_domain(&name).is_some() {
        return Response::builder().content_type("text/plain; charset=utf-8").header("cache-control", "no-store").body("ok");
    }
    super::error::json_error(StatusCode::NOT_FOUND, "domain_not_verified", "no desk has proven this domain")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desks_paths_move_under_its_prefix_and_the_platforms_do_not() {
        assert_eq!(desk_path("/"), Some("/app/"));
        assert_eq!(desk_path("/app"), Some("/app/"));
        assert_eq!(desk_path("/app/assets/app.js"), Some("/app/assets/app.js"));
        assert_eq!(desk_path("/api/v1/tickets"), Some("/api/v1/tickets"));
        assert_eq!(desk_path("/ws"), Some("/ws"));
        assert_eq!(desk_path("/api/platform/v1/tenants"), None);
        assert_eq!(desk_path("/tg/r123"), None);
        assert_eq!(desk_path("/healthz"), None);
        assert_eq!(desk_path("/t/other/app/"), None, "another desk's prefix is not reachable from this domain");
    }

    #[test]
    fn the_operators_paths_are_told_apart() {
        for p in ["/operator", "/operator/", "/operator/login", "/api/platform/v1/tenants", "/metrics"] {
            assert!(operators(p), "{p}");
        }
        for p in ["/operators-guide", "/api/v1/tickets", "/healthz", "/metricsx", "/app/"] {
            assert!(!operators(p), "{p}");
        }
    }

    #[test]
    fn hosts_lose_their_port_and_case() {
        let req = |h: &str| Request::builder().header("host", h).finish();
        assert_eq!(host_of(&req("Support.Acme.COM:8443")).as_deref(), Some("support.acme.com"));
        assert_eq!(host_of(&req("support.acme.com.")).as_deref(), Some("support.acme.com"));
        assert_eq!(host_of(&req("[::1]:8080")).as_deref(), Some("[::1]"));
    }
}
