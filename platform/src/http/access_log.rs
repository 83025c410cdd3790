//! The request log: method, path, status and time of every request, and
//! never its query string; and each request's latency in the
//! `tikethet_http_request_duration_seconds` histogram, by route.
//!
//! Query strings carry secrets that a log must not keep: one-time console
//! links (`?token=`), WebSocket tickets, and anything a client puts there.
//! poem's `Tracing` middleware logs the whole URI at INFO, so we log our own
//! line instead. Bodies (initData, tokens) are never logged.

use std::sync::Arc;
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response};

pub async fn log<E: Endpoint>(metrics: Option<tikethet_runtime::Runtime>, ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let remote = req.remote_addr().to_string();
    let res = ep.call(req).await.map(IntoResponse::into_response);
    let secs = started.elapsed().as_secs_f64();
    let ms = secs * 1000.0;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.status().as_u16(),
    };
    tracing::info!(%method, %path, %remote, status, ms = format!("{ms:.1}"), "request");
    if let Some(rt) = metrics {
        rt.metrics().observe_http(method.as_str(), &route_of(&path, status), status, secs);
    }
    res
}

/// Path segments after which comes a name of the tenant's or the
/// client's choosing, and what the route label shows instead.
const NAMED_AFTER: &[(&str, &str)] = &[
    ("t", "{slug}"),
    ("tg", "{route}"),
    ("tenants", "{slug}"),
    ("plugins", "{name}"),
    ("assets", "{file}"),
    ("demo", "{name}"),
];

/// The route a request was served by, as a label whose values stay few:
/// ids, slugs, names and anything not a plain word are left out
/// (`/t/{slug}/api/v1/tickets/{id}`). What matched no route is
/// `unmatched`, so scanners' paths cannot grow the label set.
pub fn route_of(path: &str, status: u16) -> String {
    if status == 404 || status == 405 {
        return "unmatched".into();
    }
    let mut out = String::new();
    let mut after = "";
    for seg in path.split('/').filter(|s| !s.is_empty()).take(8) {
        out.push('/');
        let shown = if let Some((_, name)) = NAMED_AFTER.iter().find(|(w, _)| *w == after) {
            name
        } else if seg.bytes().all(|b| b.is_ascii_digit()) {
            "{id}"
        } else if seg.len() <= 24 && seg.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_' || b.is_ascii_digit()) && !seg.as_bytes()[0].is_ascii_digit() {
            seg
        } else {
            "{}"
        };
        out.push_str(shown);
        after = if shown == seg { seg } else { "" };
    }
    if out.is_empty() { "/".into() } else { out }
}

#[cfg(test)]
mod tests {
    use poem::{Endpoint as _, EndpointExt, Request, handler};

    #[handler]
    fn ok() -> &'static str {
        "ok"
    }

    #[tokio::test]
    async fn the_log_line_has_the_path_and_never_the_query() {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = ok.around(|ep, req| super::log(None, ep, req));
        let res = app.call(Request::builder().uri(poem::http::Uri::from_static("/t/acme/admin/login?token=con_secret-token-123")).finish()).await.unwrap();
        assert_eq!(res.status(), 200);
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        assert!(text.contains("path=/t/acme/admin/login") && text.contains("status=200"), "{text}");
        assert!(!text.contains("secret-token-123") && !text.contains("token="), "{text}");
    }

    #[test]
    fn routes_are_labelled_without_ids_slugs_or_names() {
        use super::route_of;
        assert_eq!(route_of("/t/acme/api/v1/tickets/42/messages", 200), "/t/{slug}/api/v1/tickets/{id}/messages");
        assert_eq!(route_of("/tg/r_8f3a9c", 200), "/tg/{route}");
        assert_eq!(route_of("/api/platform/v1/tenants/acme/suspend", 200), "/api/platform/v1/tenants/{slug}/suspend");
        assert_eq!(route_of("/t/acme/api/v1/plugins/auto-reply/failures", 200), "/t/{slug}/api/v1/plugins/{name}/failures");
        assert_eq!(route_of("/t/acme/app/assets/app.js", 200), "/t/{slug}/app/assets/{file}");
        assert_eq!(route_of("/t/acme/admin/tickets/7/Reply", 303), "/t/{slug}/admin/tickets/{id}/{}");
        assert_eq!(route_of("/", 200), "/");
        assert_eq!(route_of("/wp-admin/setup-config.php", 404), "unmatched");
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
