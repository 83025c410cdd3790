//! Response compression for what compresses well: pages, scripts, styles,
//! JSON and SVG, in brotli or gzip as the client asks (`Accept-Encoding`).
//!
//! Not poem's `Compression` middleware: it also *decompresses request
//! bodies* sent with a `Content-Encoding`, and a small gzip body that
//! inflates a thousandfold must never get past the body limits. This only
//! ever touches responses. Images, attachments, WebSocket upgrades and
//! answers already encoded pass as they are.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Compress, CompressionAlgo, CompressionLevel};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Smaller bodies are not worth a compressor's setup (and a frame's bytes).
const MIN_BYTES: u64 = 512;

pub async fn compress<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let algo = accepted(req.headers());
    let mut resp = ep.call(req).await?.into_response();
    if !compressible(&resp) {
        return Ok(resp);
    }
    resp.headers_mut().append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let Some(algo) = algo else { return Ok(resp) };
    // Brotli at 11 (its default) costs tens of milliseconds per page; 5 is
    // within a few percent of it at a fraction of the time. Gzip at 6.
    let level = match algo {
        CompressionAlgo::BR => CompressionLevel::Precise(5),
        _ => CompressionLevel::Default,
    };
    Ok(Compress::new(resp, algo).with_quality(level).into_response())
}

/// The client's preferred coding among brotli and gzip (`q=0` refuses one).
fn accepted(headers: &poem::http::HeaderMap) -> Option<CompressionAlgo> {
    let mut best: Option<(CompressionAlgo, f32)> = None;
    for part in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        let algo = match coding.as_str() {
            "br" => CompressionAlgo::BR,
            "gzip" | "x-gzip" => CompressionAlgo::GZIP,
            _ => continue,
        };
        // Ties go to brotli (smaller), listed in either order.
        let better = match best {
            None => true,
            Some((b, bq)) => q > bq || (q == bq && algo == CompressionAlgo::BR && b != CompressionAlgo::BR),
        };
        if q > 0.0 && better {
            best = Some((algo, q));
        }
    }
    best.map(|(a, _)| a)
}

fn compressible(resp: &Response) -> bool {
    if matches!(resp.status(), StatusCode::SWITCHING_PROTOCOLS | StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED)
        || resp.headers().contains_key(header::CONTENT_ENCODING)
        || resp.headers().contains_key(header::CONTENT_RANGE)
    {
        return false;
    }
    let declared = resp.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n < MIN_BYTES) {
        return false;
    }
    let Some(ct) = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        ct.as_str(),
        "text/html" | "text/css" | "text/javascript" | "application/javascript" | "application/json" | "image/svg+xml" | "text/plain" | "application/manifest+json"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderMap;
    use poem::{EndpointExt as _, handler};

    fn with(ae: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(ae).unwrap());
        h
    }

    #[test]
    fn picks_what_the_client_prefers() {
        assert_eq!(accepted(&with("gzip, deflate, br")), Some(CompressionAlgo::BR));
        assert_eq!(accepted(&with("gzip;q=1.0, br;q=0.5")), Some(CompressionAlgo::GZIP));
        assert_eq!(accepted(&with("br;q=0, gzip")), Some(CompressionAlgo::GZIP));
        assert_eq!(accepted(&with("identity")), None);
        assert_eq!(accepted(&with("gzip;q=0")), None);
        assert_eq!(accepted(&HeaderMap::new()), None);
    }

    #[handler]
    fn page() -> poem::web::Html<String> {
        poem::web::Html(format!("<!doctype html><p>{}</p>", "hello ".repeat(500)))
    }

    #[handler]
    fn png() -> Response {
        Response::builder().content_type("image/png").body(vec![7u8; 4096])
    }

    #[tokio::test]
    async fn pages_are_compressed_and_images_are_not() {
        let ep = poem::Route::new().at("/", poem::get(page)).at("/logo", poem::get(png)).around(compress);
        let res = ep.call(Request::builder().uri_str("/").header(header::ACCEPT_ENCODING, "gzip").finish()).await.unwrap();
        assert_eq!(res.headers().get(header::CONTENT_ENCODING).unwrap(), "gzip");
        assert_eq!(res.headers().get(header::VARY).unwrap(), "accept-encoding");
        let body = res.into_body().into_vec().await.unwrap();
        assert!(body.len() < 200, "3 KB of HTML compressed to {} bytes", body.len());
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).unwrap();
        assert!(plain.starts_with("<!doctype html><p>hello hello"), "{plain}");

        let res = ep.call(Request::builder().uri_str("/").finish()).await.unwrap();
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none(), "no Accept-Encoding, no compression");
        assert_eq!(res.into_body().into_vec().await.unwrap().len(), 3022);

        let res = ep.call(Request::builder().uri_str("/logo").header(header::ACCEPT_ENCODING, "br, gzip").finish()).await.unwrap();
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none(), "a PNG is sent as it is");
        assert_eq!(res.into_body().into_vec().await.unwrap(), vec![7u8; 4096]);
    }
}
