//! The Mini App as a browser fetches it: the page per tenant in its brand
//! and language, its assets, and the development sign-in (refused in
//! production). The browser itself drives it in `browser.rs`.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::helpers::{Backend, Options, spawn_app, spawn_app_with};

on_both!(
    the_page_is_served_per_tenant_in_its_brand_with_its_assets,
    the_development_sign_in_opens_a_session_outside_telegram,
    an_admins_brand_over_the_theme_shows_in_the_mini_app
);

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

async fn an_admins_brand_over_the_theme_shows_in_the_mini_app(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = app.sign_in(&t, 91_001).await;
    let page = async || app.http.get(app.url("/t/acme/app/")).send().await.unwrap().text().await.unwrap();

    let (s, v) = app.tenant_get("acme", "/theme", &customer).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["theme"], "default");
    assert_eq!(v["overrides"], json!({ "primary_color": null, "accent_color": null, "radius": null, "font": null, "logo": null }));
    assert_eq!((v["effective"]["primary_color"].as_str(), v["effective"]["radius"].as_u64()), (Some("#2481cc"), Some(12)));

    let brand = json!({ "theme": "sunrise", "primary_color": "#12AB56", "radius": 4, "font": "\"Inter\", sans-serif", "logo": format!("data:image/png;base64,{PNG}") });
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/theme", &customer, Some(brand.clone())).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/theme", &owner, Some(brand)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["theme"], "sunrise");
    assert_eq!(v["overrides"]["primary_color"], "#12ab56", "colours are normalised");
    assert_eq!((v["effective"]["accent_color"].as_str(), v["effective"]["radius"].as_u64()), (Some("#2b8a3e"), Some(4)), "unset tokens are the theme's: {v}");
    let html = page().await;
    assert!(html.contains("--brand-primary:#12ab56;--brand-accent:#2b8a3e;--brand-radius:4px;--brand-font:&quot;Inter&quot;, sans-serif;"), "{html}");
    // The logo is its own request, cached by version (HTML-escaped in the
    // attribute, `/` as `&#x2f;`, which the browser undoes).
    let html = html.replace("&#x2f;", "/");
    let logo = html.split("data-logo=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("no logo: {html}"));
    assert!(logo.starts_with("/t/acme/app/logo?v="), "{logo}");
    let res = app.http.get(app.url(logo)).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["content-type"].to_str().unwrap().to_owned()), (200, "image/png".to_owned()));
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    use base64::Engine as _;
    assert_eq!(res.bytes().await.unwrap().to_vec(), base64::engine::general_purpose::STANDARD.decode(PNG).unwrap());

    // Refused whole, with the reason, and nothing changes.
    let svg = "PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+PC9zdmc+"; // <svg onload=alert(1)></svg>
    for (bad, why) in [
        (json!({ "logo": format!("data:image/png;base64,{svg}") }), "logo"),
        (json!({ "primary_color": "red" }), "primary_color"),
        (json!({ "radius": 40 }), "radius"),
        (json!({ "font": "Arial;}body{display:none" }), "font"),
        (json!({ "theme": "neon" }), "theme"),
    ] {
        let (s, v) = app.tenant_call(Method::PUT, "acme", "/theme", &owner, Some(bad.clone())).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_request")), "{bad}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{bad}: {v}");
    }
    let (_, v) = app.tenant_get("acme", "/theme", &owner).await;
    assert_eq!(v["overrides"]["primary_color"], "#12ab56", "a refused change changed nothing: {v}");

    // An empty brand leaves the theme's own tokens.
    let (s, _) = app.tenant_call(Method::PUT, "acme", "/theme", &owner, Some(json!({}))).await;
    assert_eq!(s, 200);
    let html = page().await;
    assert!(html.contains("--brand-primary:#e8590c;") && !html.contains("data-logo"), "{html}");
    assert_eq!(app.http.get(app.url("/t/acme/app/logo")).send().await.unwrap().status(), 404);
}

async fn the_page_is_served_per_tenant_in_its_brand_with_its_assets(b: Backend) {
    let app = spawn_app(b).await;
    app.create_tenant("acme", 1).await;
    app.create_tenant("globex", 2).await;
    let res = app.operator(Method::PATCH, "/api/platform/v1/tenants/globex", Some(json!({ "theme": "sunrise" }))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let page = |slug: &'static str, lang: &'static str| {
        let req = app.http.get(app.url(&format!("/t/{slug}/app/"))).header("accept-language", lang);
        async move {
            let res = req.send().await.unwrap();
            let headers = res.headers().clone();
            (res.status().as_u16(), headers, res.text().await.unwrap())
        }
    };
    let (s, headers, acme) = page("acme", "en-GB,en;q=0.9").await;
    assert_eq!(s, 200, "{acme}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    // Nothing from outside our server: every source is 'self' (blob: and
    // data: images are the page's own attachments).
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self';") && csp.contains("connect-src 'self';"), "{csp}");
    assert!(!csp.contains("http") && !csp.contains('*'), "{csp}");
    assert!(acme.contains("<title>acme Support</title>"), "{acme}");
    assert!(acme.contains("--brand-primary:#2481cc") && acme.contains("<html lang=\"en\""));
    assert!(!acme.contains("data-dev-sign-in"), "the development sign-in is off unless TIKETHET_DEV_SIGN_IN=on");
    let (_, _, globex) = page("globex", "ru-RU,ru;q=0.9").await;
    assert!(globex.contains("--brand-primary:#e8590c") && globex.contains("<html lang=\"ru\""), "{globex}");
    assert!(!globex.contains("#2481cc"));
    // Assets: the page's own links, with their types, cached by version.
    let links: Vec<&str> = acme.split(['"', '\'']).filter(|p| p.starts_with("/t/acme/app/assets/")).collect();
    assert_eq!(links.len(), 3, "{links:?}");
    let mut total = acme.len();
    for link in links {
        let res = app.http.get(app.url(link)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{link}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(if link.contains(".css") { "text/css" } else { "text/javascript" }), "{link}: {ct}");
        assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        total += res.text().await.unwrap().len();
    }
    assert!(total < 100_000, "first load is {total} bytes");
    // Unknown tenants and assets; the page's address without its slash.
    assert_eq!(app.http.get(app.url("/t/nobody/app/")).send().await.unwrap().status(), 404);
    let res = app.http.get(app.url("/t/acme/app/assets/..%2FCargo.toml")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirects.get(app.url("/t/acme/app")).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (308, "/t/acme/app/"));
}

async fn the_development_sign_in_opens_a_session_outside_telegram(b: Backend) {
    let app = spawn_app_with(b, Options { env: &[("TIKETHET_DEV_SIGN_IN", "on")], ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let page = app.http.get(app.url("/t/acme/app/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-dev-sign-in"), "offered when turned on");
    let res = app.http.post(app.url("/t/acme/api/v1/auth/dev")).json(&json!({ "telegram_id": 4242, "first_name": "Dev", "language_code": "ru" })).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!((session["user"]["telegram_id"].as_i64(), session["user"]["role"].as_str()), (Some(4242), Some("user")), "{session}");
    let token = session["access_token"].as_str().unwrap();
    assert_eq!(app.tenant_get("acme", "/tickets", token).await.0, 200);
    // Bad input is 400, like every other boundary.
    for bad in [json!({ "telegram_id": 0, "first_name": "x" }), json!({ "telegram_id": 1, "first_name": "" }), json!({ "telegram_id": 1, "first_name": "x", "language_code": "not a code" })] {
        let res = app.http.post(app.url("/t/acme/api/v1/auth/dev")).json(&bad).send().await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
    // Off by default, even on loopback: a forgotten setting never opens a desk.
    let plain = spawn_app(b).await;
    let p = plain.create_tenant("acme", 3).await;
    let res = plain.http.post(plain.url("/t/acme/api/v1/auth/dev")).json(&json!({ "telegram_id": p.owner, "first_name": "Mallory" })).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let page = plain.http.get(plain.url("/t/acme/app/")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("data-dev-sign-in"), "not offered by default");
    // An https public address with its secrets set but no TIKETHET_ENV: a
    // stranger giving the owner's id is refused, not signed in as the owner.
    let public = spawn_app_with(b, Options { https_public_url: true, ..Options::default() }).await;
    let o = public.create_tenant("acme", 4).await;
    let res = public.http.post(public.url("/t/acme/api/v1/auth/dev")).json(&json!({ "telegram_id": o.owner, "first_name": "Mallory" })).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "forbidden", "{v}");
    // In production it is refused, and the page does not offer it.
    let prod = spawn_app_with(b, Options { production: true, ..Options::default() }).await;
    prod.create_tenant("acme", 2).await;
    let res = prod.http.post(prod.url("/t/acme/api/v1/auth/dev")).json(&json!({ "telegram_id": t.owner, "first_name": "Mallory" })).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "forbidden", "{v}");
    let page = prod.http.get(prod.url("/t/acme/app/")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("data-dev-sign-in"), "{page}");
}
