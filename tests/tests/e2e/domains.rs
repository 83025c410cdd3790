//! A tenant on its own domain: reached without the `/t/{slug}` prefix (Mini
//! App, API), its webhook and Mini App links moved there, one tenant per
//! domain, and nothing of other desks on it.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::helpers::{Backend, HTTPS_PUBLIC_URL, Options, TestApp, init_data, spawn_app_with};

on_both!(a_tenant_on_its_own_domain_is_reached_without_its_prefix);

const DOMAIN: &str = "support.acme.test";

async fn on_domain(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, String) {
    let mut r = app.http.request(method, app.url(path)).header("host", DOMAIN);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn a_tenant_on_its_own_domain_is_reached_without_its_prefix(b: Backend) {
    let app = spawn_app_with(b, Options { https_public_url: true, ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    app.create_tenant("globex", 2).await;
    app.fake.route_origin(&format!("https://{DOMAIN}"), &app.address);
    let secret = app.fake.webhook(&t.token).unwrap().secret_token;

    let set = async |slug: &str, domain: Value| app.operator(Method::PATCH, &format!("/api/platform/v1/tenants/{slug}"), Some(json!({ "custom_domain": domain }))).await;
    let res = set("acme", json!("Support.Acme.TEST")).await;
    assert_eq!(res.status(), 200);
    let rec: Value = res.json().await.unwrap();
    assert_eq!(rec["custom_domain"], DOMAIN);
    let hook = app.fake.webhook(&t.token).unwrap();
    assert!(hook.url.starts_with(&format!("https://{DOMAIN}/tg/r")), "{}", hook.url);
    assert_eq!(rec["webhook_url"], hook.url.as_str());
    assert_eq!(hook.secret_token, secret, "the webhook moved with its secret");
    assert_eq!(app.fake.menu_button(&t.token).unwrap()["web_app"]["url"], format!("https://{DOMAIN}/app/"));
    // One tenant per domain; host names only; not the platform's own.
    let res = set("globex", json!(DOMAIN)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "domain_taken");
    for bad in ["https://x.test", "x.test:8443", "localhost", "10.1.2.3", "desk.example.com"] {
        let res = set("globex", json!(bad)).await;
        assert_eq!(res.status(), 400, "{bad}: {}", res.text().await.unwrap());
    }

    // The Mini App at the domain's root, linking without the prefix.
    let (s, html) = on_domain(&app, Method::GET, "/", None, None).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("data-base=\"\"") && html.contains("\"/app/assets/app.js?v="), "{html}");
    assert!(!html.contains("/t/acme"), "{html}");
    let (s, js) = on_domain(&app, Method::GET, "/app/assets/app.js", None, None).await;
    assert!(s == 200 && js.contains("tgWebAppStartParam"), "{s}");
    // Its API without the prefix.
    let init = init_data(&t.token, 93_001, chrono::Utc::now().timestamp());
    let (s, session) = on_domain(&app, Method::POST, "/api/v1/auth/telegram", None, Some(json!({ "init_data": init }))).await;
    assert_eq!(s, 200, "{session}");
    let token: String = serde_json::from_str::<Value>(&session).unwrap()["access_token"].as_str().unwrap().to_owned();
    let (s, me) = on_domain(&app, Method::GET, "/api/v1/auth/me", Some(&token), None).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(serde_json::from_str::<Value>(&me).unwrap()["telegram_id"], 93_001);
    // Other desks are not reachable on this domain.
    let (s, _) = on_domain(&app, Method::GET, "/t/globex/app/", None, None).await;
    assert_eq!(s, 404);

    // Telegram delivers through the domain, and the bot's buttons open it.
    assert_eq!(app.deliver(&t, &tikethet_tests::fixtures::message(1, 93_002, "Hello from the domain")).await, 200);
    app.wait_sent(&t, 93_002, 1).await;
    let sent = app.fake.sends_to(&t.token, 93_002).remove(0);
    let url = sent.params["reply_markup"]["inline_keyboard"][0][0]["web_app"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("https://{DOMAIN}/app/?tgWebAppStartParam=ticket-")), "{url}");

    // Removed: everything goes back to the platform's host.
    let res = set("acme", Value::Null).await;
    assert_eq!(res.status(), 200);
    assert!(app.fake.webhook(&t.token).unwrap().url.starts_with(&format!("{HTTPS_PUBLIC_URL}/tg/r")));
    let (s, _) = on_domain(&app, Method::GET, "/", None, None).await;
    assert_eq!(s, 404, "the domain no longer serves the desk");
    let res = app.http.get(app.url("/t/acme/app/")).send().await.unwrap();
    assert_eq!(res.status(), 200, "the prefixed path always works");
}
