//! The request log: method, path, status and time of every request, and
//! never its query string.
//!
//! Query strings carry secrets that a log must not keep: one-time console
//! links (`?token=`), WebSocket tickets, and anything a client puts there.
//! poem's `Tracing` middleware logs the whole URI at INFO, so we log our own
//! line instead. Bodies (initData, tokens) are never logged.

use std::sync::Arc;
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response};

pub async fn log<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let remote = req.remote_addr().to_string();
    let res = ep.call(req).await.map(IntoResponse::into_response);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match &res {
        Ok(r) => tracing::info!(%method, %path, %remote, status = r.status().as_u16(), ms = format!("{ms:.1}"), "request"),
        Err(e) => tracing::info!(%method, %path, %remote, status = e.status().as_u16(), ms = format!("{ms:.1}"), "request"),
    }
    res
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
        let app = ok.around(super::log);
        let res = app.call(Request::builder().uri(poem::http::Uri::from_static("/t/acme/admin/login?token=con_secret-token-123")).finish()).await.unwrap();
        assert_eq!(res.status(), 200);
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        assert!(text.contains("path=/t/acme/admin/login") && text.contains("status=200"), "{text}");
        assert!(!text.contains("secret-token-123") && !text.contains("token="), "{text}");
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
