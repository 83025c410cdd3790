//! What `/metrics` shows of each stage's latency, and the Mini App's first
//! load sent compressed.

use reqwest::header;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, OPERATOR_TOKEN, histogram_count as count, spawn_app};

on_both!(latency_histograms_cover_http_intake_processing_and_telegram, the_mini_apps_first_load_is_compressed);

async fn latency_histograms_cover_http_intake_processing_and_telegram(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 42_001;
    app.fake.start_chat(&t.token, customer);
    assert_eq!(app.deliver(&t, &fixtures::start(1, customer)).await, 200);
    app.wait_sent(&t, customer, 1).await;
    let user = app.sign_in(&t, customer).await;
    let (s, _) = app.tenant_get("acme", "/tickets", &user).await;
    assert_eq!(s, 200);
    let (s, _) = app.tenant_get("acme", "/tickets/999999", &user).await;
    assert_eq!(s, 404);

    let text = app.http.get(app.url("/metrics")).bearer_auth(OPERATOR_TOKEN).send().await.unwrap().text().await.unwrap();
    // Plugin calls' histogram shows once a plugin ran (`plugins.rs`).
    for name in ["http_request_duration_seconds", "intake_duration_seconds", "processing_duration_seconds", "telegram_call_duration_seconds"] {
        assert!(text.contains(&format!("# TYPE tikethet_{name} histogram")), "{name} missing:\n{text}");
    }
    let http = "tikethet_http_request_duration_seconds";
    assert_eq!(count(&text, http, r#"method="GET",route="/t/{slug}/api/v1/tickets",status="2xx""#), 1, "{text}");
    // Any 404 is `unmatched` (a missing ticket too): scanners' paths must
    // not grow the label set.
    assert_eq!(count(&text, http, r#"method="GET",route="unmatched",status="4xx""#), 1, "{text}");
    assert!(count(&text, http, r#"method="POST",route="/tg/{route}",status="2xx""#) >= 1, "{text}");
    assert!(!text.contains("route=\"/t/acme"), "no slug in a label: {text}");
    assert!(count(&text, "tikethet_intake_duration_seconds", "") >= 1, "{text}");
    assert!(count(&text, "tikethet_processing_duration_seconds", r#"outcome="done""#) >= 1, "{text}");
    assert!(count(&text, "tikethet_telegram_call_duration_seconds", r#"method="sendMessage""#) >= 1, "{text}");
    // Counters keep their documented names beside them.
    assert!(app.metric("tikethet_updates_processed_total").await >= 1);
}

async fn the_mini_apps_first_load_is_compressed(b: Backend) {
    let app = spawn_app(b).await;
    app.create_tenant("acme", 1).await;
    let get = async |path: &str, encoding: Option<&str>| {
        let mut r = app.http.get(app.url(path));
        if let Some(e) = encoding {
            r = r.header(header::ACCEPT_ENCODING, e);
        }
        let res = r.send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let coding = res.headers().get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap().to_owned());
        let vary = res.headers().get(header::VARY).map(|v| v.to_str().unwrap().to_owned());
        (coding, vary, res.bytes().await.unwrap().to_vec())
    };
    let (_, _, page) = get("/t/acme/app/", None).await;
    let page = String::from_utf8(page).unwrap();
    // The page and every script and style it loads from our server.
    let mut paths = vec!["/t/acme/app/".to_owned()];
    for attr in ["src=\"", "href=\""] {
        for part in page.split(attr).skip(1) {
            let url = part.split('"').next().unwrap().replace("&#x2f;", "/");
            if url.starts_with("/t/acme/app/assets/") && (url.ends_with(".js") || url.ends_with(".css") || url.contains(".js?") || url.contains(".css?")) {
                paths.push(url);
            }
        }
    }
    assert!(paths.len() >= 3, "the page loads its scripts and styles: {paths:?}");
    let (mut raw, mut sent) = (0, 0);
    for path in &paths {
        let (coding, vary, plain) = get(path, None).await;
        assert_eq!(coding, None, "{path}: nothing asked, nothing compressed");
        let (coding, vary_gz, gz) = get(path, Some("gzip, deflate")).await;
        assert_eq!(coding.as_deref(), Some("gzip"), "{path}");
        assert_eq!((vary.as_deref(), vary_gz.as_deref()), (Some("accept-encoding"), Some("accept-encoding")), "{path}");
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back).unwrap();
        assert_eq!(back, plain, "{path}: the same bytes once decompressed");
        let (coding, _, br) = get(path, Some("gzip, br")).await;
        assert_eq!(coding.as_deref(), Some("br"), "{path}: brotli when offered");
        assert!(br.len() < plain.len(), "{path}");
        raw += plain.len();
        sent += br.len();
    }
    assert!(sent * 3 < raw, "the first load shrinks to under a third: {sent} of {raw} bytes");
    println!("Mini App first load: {raw} bytes, {sent} with brotli");
}
