//! A tenant on its own domain: reached without the `/t/{slug}` prefix (Mini
//! App, API), its webhook and Mini App links moved there, one tenant per
//! domain, and nothing of other desks on it. Self-served: a desk's admin
//! asks for a domain in the console, and it is routed (and the proxy's
//! `ask` says yes) only once a TXT record, served by a DNS server the test
//! starts, holds the desk's token; checked again daily (every second
//! here), it stops being routed when the record goes, and the owner is
//! told; the operator can revoke it.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::dns::TestDns;
use tikethet_tests::helpers::{Backend, HTTPS_PUBLIC_URL, OPERATOR_TOKEN, Options, TestApp, csrf_in, init_data, no_redirects, spawn_app_with, wait_for, wait_until};

on_both!(a_tenant_on_its_own_domain_is_reached_without_its_prefix, a_self_served_domain_is_routed_only_once_its_txt_record_proves_it);

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

/// The text of the element with `data-testid="{id}"` (up to its first tag).
fn testid(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!(r#"data-testid="{id}""#))?;
    let rest = &page[at..];
    let start = rest.find('>')? + 1;
    Some(rest[start..].split('<').next().unwrap_or_default().to_owned())
}

async fn ask(app: &TestApp, name: &str) -> (u16, String) {
    let res = app.http.get(app.url(&format!("/tls/ask?domain={name}"))).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn a_self_served_domain_is_routed_only_once_its_txt_record_proves_it(b: Backend) {
    let dns = TestDns::start().await;
    let env: &'static [(&'static str, &'static str)] =
        Box::leak(vec![("TIKETHET_DNS_SERVERS", &*Box::leak(dns.setting().into_boxed_str())), ("TIKETHET_DOMAIN_CHECK_SECS", "1")].into_boxed_slice());
    let app = spawn_app_with(b, Options { https_public_url: true, env, ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let g = app.create_tenant("globex", 2).await;
    app.fake.route_origin(&format!("https://{DOMAIN}"), &app.address);
    let http = no_redirects();
    let cookie = app.console_cookie(&t, t.owner).await;
    let page = async |cookie: &str, slug: &str| {
        let res = http.get(app.url(&format!("/t/{slug}/admin/domain"))).header("cookie", cookie).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    };
    let post = async |cookie: &str, slug: &str, path: &str, form: &[(&str, &str)]| {
        let html = page(cookie, slug).await;
        let csrf = csrf_in(&html);
        let mut f: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(form);
        let res = http.post(app.url(&format!("/t/{slug}/admin/domain{path}"))).header("cookie", cookie).form(&f).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (status, location, res.text().await.unwrap())
    };
    let served_on_domain = async || on_domain(&app, Method::GET, "/", None, None).await;

    let html = page(&cookie, "acme").await;
    assert!(html.contains(r#"data-testid="domain-none""#), "no domain yet: {html}");
    // A name that is not one comes back as typed, with the reason.
    let (s, _, html) = post(&cookie, "acme", "", &[("domain", "https://support.acme.test/x")]).await;
    assert_eq!(s, 400);
    assert!(html.contains("no scheme, port or path") && html.contains(r#"value="https:&#x2f;&#x2f;support.acme.test&#x2f;x""#), "{html}");

    // Asked for: the record to publish; nothing routed yet.
    let (s, to, _) = post(&cookie, "acme", "", &[("domain", "Support.Acme.TEST")]).await;
    assert_eq!((s, to.as_deref()), (303, Some("/t/acme/admin/domain?done=requested")));
    let html = page(&cookie, "acme").await;
    let record = format!("_tikethet.{DOMAIN}");
    assert_eq!(testid(&html, "domain-record-name").as_deref(), Some(record.as_str()), "{html}");
    let value = testid(&html, "domain-record-value").unwrap();
    assert!(value.starts_with("tikethet-verify=") && value.len() == "tikethet-verify=".len() + 32, "{value}");
    assert_eq!(testid(&html, "domain-status").as_deref(), Some("pending"));
    assert_eq!(ask(&app, DOMAIN).await.0, 404, "the proxy gets no certificate for an unproven domain");
    assert_eq!(served_on_domain().await.0, 404, "an unproven domain is not routed");

    // Checked before the record exists, and with a wrong one: the reason, nothing routed.
    let (s, _, html) = post(&cookie, "acme", "/check", &[]).await;
    assert_eq!(s, 200);
    assert!(testid(&html, "domain-error").is_some_and(|e| e.contains(&format!("no TXT record at {record}"))), "{html}");
    assert!(dns.asked(&record) >= 1, "the server asked the DNS server");
    dns.add_txt(&record, "tikethet-verify=somebody-else");
    let (_, _, html) = post(&cookie, "acme", "/check", &[]).await;
    assert!(testid(&html, "domain-error").is_some_and(|e| e.contains("does not hold")), "{html}");
    assert_eq!(ask(&app, DOMAIN).await.0, 404);

    // Another desk may ask for the same name (asking proves nothing), here
    // through the tenant API ...
    let g_admin = app.sign_in(&g, g.owner).await;
    let (s, asked) = app.tenant_call(Method::PUT, "globex", "/domain", &g_admin, Some(json!({ "domain": DOMAIN }))).await;
    assert_eq!(s, 200, "{asked}");
    assert_eq!((asked["routed"].clone(), asked["request"]["status"].clone(), asked["request"]["record_name"].clone()), (Value::Null, json!("pending"), json!(record)));
    assert_ne!(asked["request"]["record_value"], json!(value), "each desk proves with its own token");
    let (s, refused) = app.tenant_call(Method::PUT, "globex", "/domain", &g_admin, Some(json!({ "domain": "https://x.test" }))).await;
    assert_eq!(s, 400, "{refused}");

    // ... and the desk whose token the record holds gets it.
    dns.add_txt(&record, &value);
    let (s, to, _) = post(&cookie, "acme", "/check", &[]).await;
    assert_eq!((s, to.as_deref()), (303, Some("/t/acme/admin/domain?done=verified")));
    assert_eq!(ask(&app, DOMAIN).await, (200, "ok".to_owned()));
    assert_eq!(ask(&app, "desk.example.com").await.0, 200, "the platform's own host");
    assert_eq!(ask(&app, "other.acme.test").await.0, 404);
    let (s, html) = served_on_domain().await;
    assert!(s == 200 && html.contains("data-base=\"\""), "{s}: {html}");
    let rec: Value = app.operator(Method::GET, "/api/platform/v1/tenants/acme", None).await.json().await.unwrap();
    assert_eq!(rec["custom_domain"], DOMAIN);
    assert!(app.fake.webhook(&t.token).unwrap().url.starts_with(&format!("https://{DOMAIN}/tg/r")));
    // Globex's token is not there; were it added, the name is acme's now.
    let (s, checked) = app.tenant_post("globex", "/domain/check", &g_admin, json!({})).await;
    assert_eq!(s, 200);
    assert!(checked["request"]["last_error"].as_str().is_some_and(|e| e.contains("does not hold")) && checked["routed"].is_null(), "{checked}");
    dns.add_txt(&record, asked["request"]["record_value"].as_str().unwrap());
    let (s, taken) = app.tenant_post("globex", "/domain/check", &g_admin, json!({})).await;
    assert_eq!((s, &taken["error"]["code"]), (409, &json!("domain_taken")), "{taken}");
    dns.clear_txt(&record);
    dns.add_txt(&record, &value);

    // The daily check (every second here): the record goes, the owner is
    // told at the first failure, and after three the domain is no longer routed.
    assert_eq!(app.fake.find_sent(&t.token, t.owner, "failed today's check"), None);
    dns.clear_txt(&record);
    let warned = wait_until(Duration::from_secs(30), || app.fake.find_sent(&t.token, t.owner, "failed today's check")).await;
    assert!(warned.as_deref().is_some_and(|w| w.contains(DOMAIN) && w.contains(&record) && w.contains("2 more failed daily checks")), "{warned:?}");
    let removed = wait_until(Duration::from_secs(30), || app.fake.find_sent(&t.token, t.owner, "no longer answers on")).await;
    assert!(removed.is_some(), "the owner is told the domain was removed");
    assert_eq!(ask(&app, DOMAIN).await.0, 404);
    assert_eq!(served_on_domain().await.0, 404);
    assert!(app.fake.webhook(&t.token).unwrap().url.starts_with(&format!("{HTTPS_PUBLIC_URL}/tg/r")), "the webhook came back to the platform's host");
    let html = page(&cookie, "acme").await;
    assert_eq!(testid(&html, "domain-status").as_deref(), Some("removed"), "{html}");
    assert_eq!(app.fake.sent_to(&t.token, t.owner).iter().filter(|m| m.contains("failed today's check")).count(), 1, "told once, not at every failed check");

    // The record back, checked by hand: routed again.
    dns.add_txt(&record, &value);
    let (s, _, _) = post(&cookie, "acme", "/check", &[]).await;
    assert_eq!(s, 303);
    assert_eq!(ask(&app, DOMAIN).await.0, 200);

    // The operator sees it in the dashboard and revokes it.
    let res = http.post(app.url("/operator/login")).form(&[("token", OPERATOR_TOKEN), ("next", "/operator/")]).send().await.unwrap();
    let op = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let dash = http.get(app.url("/operator/")).header("cookie", &op).send().await.unwrap().text().await.unwrap();
    assert!(dash.contains(r#"data-testid="domains""#) && dash.contains(DOMAIN) && dash.contains(r#"data-testid="revoke-acme""#), "{dash}");
    let res = http.post(app.url("/operator/tenants/acme/revoke-domain")).header("cookie", &op).form(&[("csrf", csrf_in(&dash).as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(ask(&app, DOMAIN).await.0, 404);
    let told = wait_until(Duration::from_secs(10), || app.fake.find_sent(&t.token, t.owner, "revoked the domain")).await;
    assert!(told.is_some(), "the owner is told of the revocation");
    // Revoked: not simply asked for again, nor checked back in.
    let (s, _, html) = post(&cookie, "acme", "", &[("domain", DOMAIN)]).await;
    assert_eq!(s, 400);
    assert!(html.contains("revoked"), "{html}");
    let (s, _, _) = post(&cookie, "acme", "/check", &[]).await;
    assert_eq!(s, 400);
    let still = wait_for(Duration::from_secs(3), async || (ask(&app, DOMAIN).await.0 == 200).then_some(())).await;
    assert!(still.is_none(), "a revoked domain stays unrouted");
}
