//! DNS rebinding: a development or demo server (its public URL on this
//! machine) answers only the `Host` names it serves.
//!
//! A web page on any site can point its own domain at 127.0.0.1 and then
//! talk to a server on the visitor's loopback as "same origin". Checking the
//! `Host` header stops that: the page's requests carry its own domain. The
//! names served are the loopback names and addresses, the public URL's host
//! and the desks' own domains. A deployment whose public URL is elsewhere
//! sits behind a proxy that chooses its names, and gets no such check.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::AppState;

/// Whether a host name (lowercased, without port) is served by a server
/// whose public URL is on this machine.
fn served(state: &AppState, host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost" || host.ends_with(".localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    if state.settings.public_url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host)) {
        return true;
    }
    state.runtime.tenants().by_domain(host).is_some()
}

pub async fn check<E: Endpoint>(state: AppState, ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if state.settings.local_only {
        let ok = super::domains::host_of(&req).is_some_and(|h| served(&state, &h));
        if !ok {
            return Ok(super::error::json_error(
                StatusCode::MISDIRECTED_REQUEST,
                "host_not_served",
                "this development server answers only its own host names (localhost, its loopback addresses and its public URL's host)",
            ));
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}
