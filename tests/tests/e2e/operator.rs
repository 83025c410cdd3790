//! The operator's dashboard at `/operator/`: signed in with the operator
//! token, a session cookie with CSRF protection after it; a tenant's usage
//! as a chart, suspending and resuming it from the page (headless
//! Chromium, screenshots saved); MRR and its movements from signed Stripe
//! events.

use std::time::Duration;

use fantoccini::{Client, Locator};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tikethet_tests::browser::{browser_sized, save_screenshot};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, OPERATOR_TOKEN, Options, TestApp, csrf_in, no_redirects, spawn_app, spawn_app_with, wait_for};

on_both!(the_dashboard_refuses_without_a_session_a_wrong_token_and_a_form_without_its_csrf_token, mrr_and_its_movements_follow_signed_subscription_events,);

/// Signs in with the token; the session cookie (`name=value`).
async fn sign_in(app: &TestApp, http: &reqwest::Client) -> String {
    let res = http.post(app.url("/operator/login")).form(&[("token", OPERATOR_TOKEN), ("next", "/operator/")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn status_of(app: &TestApp, slug: &str) -> String {
    let t: Value = app.operator(Method::GET, &format!("/api/platform/v1/tenants/{slug}"), None).await.json().await.unwrap();
    t["status"].as_str().unwrap().to_owned()
}

async fn the_dashboard_refuses_without_a_session_a_wrong_token_and_a_form_without_its_csrf_token(b: Backend) {
    let app = spawn_app(b).await;
    app.create_tenant("acme", 1).await;
    let http = no_redirects();

    // Signed out: to the sign-in page, coming back afterwards.
    let res = http.get(app.url("/operator/tenants/acme")).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/operator/login?next=%2Foperator%2Ftenants%2Facme"));
    let res = http.post(app.url("/operator/tenants/acme/suspend")).form(&[("csrf", "x")]).send().await.unwrap();
    assert_eq!(res.status(), 303, "a post without a session goes to sign in");

    // A wrong token: refused, with the reason, and no cookie.
    let res = http.post(app.url("/operator/login")).form(&[("token", "op_guess"), ("next", "/operator/")]).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("set-cookie").is_none());
    assert!(res.text().await.unwrap().contains("That is not the operator token."));

    // The right one: a cookie only our pages get, never readable by scripts.
    let res = http.post(app.url("/operator/login")).form(&[("token", OPERATOR_TOKEN), ("next", "https://evil.example/")]).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/operator/"), "never sent off the dashboard");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in ["tikethet_operator=", "Path=/operator", "HttpOnly", "SameSite=Strict", "Max-Age=43200"] {
        assert!(set.contains(part), "{part} in {set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = http.get(app.url("/operator/tenants/acme")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let page = page.text().await.unwrap();
    let csrf = csrf_in(&page);

    // A form without the token, with another session's, or from another
    // site: refused, and the tenant untouched.
    let other = csrf_in(&http.get(app.url("/operator/")).header("cookie", sign_in(&app, &http).await).send().await.unwrap().text().await.unwrap());
    assert_ne!(other, csrf, "each session has its own token");
    for (form, origin) in [(vec![], None), (vec![("csrf", other.as_str())], None), (vec![("csrf", csrf.as_str())], Some("https://evil.example"))] {
        let mut r = http.post(app.url("/operator/tenants/acme/suspend")).header("cookie", &cookie).form(&form);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        let res = r.send().await.unwrap();
        assert_eq!(res.status(), 403, "{form:?} {origin:?}");
        assert!(res.text().await.unwrap().to_lowercase().contains("nothing was changed"), "the page says so");
        assert_eq!(status_of(&app, "acme").await, "active", "{form:?} {origin:?} changed nothing");
    }

    // With it: done, audited, and told on the page it redirects to.
    let res = http.post(app.url("/operator/tenants/acme/suspend")).header("cookie", &cookie).header("origin", &app.address).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/operator/tenants/acme?done=suspended"));
    assert_eq!(status_of(&app, "acme").await, "suspended");
    let page = http.get(app.url("/operator/tenants/acme?done=suspended")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Suspended. The desk&#x27;s customers") || page.contains("Suspended. The desk's customers"), "the flash");
    assert!(page.contains("<td>dashboard</td><td>suspended</td>"), "audited: {page}");
    assert!(page.contains("<td>api</td><td>provision</td>"), "the API's actions too: {page}");

    // Bad limits: refused with the reason, nothing saved.
    let res = http.post(app.url("/operator/tenants/acme/limits")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("agents", "lots")]).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("neither a whole number nor"));
    let res = http.post(app.url("/operator/tenants/acme/limits")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("agents", "7"), ("tickets_per_month", "unlimited")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let t: Value = app.operator(Method::GET, "/api/platform/v1/tenants/acme", None).await.json().await.unwrap();
    assert_eq!((t["limits"]["agents"].clone(), t["limits"]["tickets_per_month"].clone()), (json!(7), Value::Null), "{t}");

    // Provisioning with a token Telegram refuses: the form comes back with the reason and what was typed.
    let res = http
        .post(app.url("/operator/tenants"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("slug", "beta"), ("name", "Beta desk"), ("bot_token", "999999:AAHunknownunknownunknownunknown"), ("owner_telegram_id", "42"), ("plan", "free")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("Telegram refused the bot token") && page.contains(r#"value="Beta desk""#), "{page}");

    // Signing out ends the session on the server, not only in this browser.
    let res = http.post(app.url("/operator/logout")).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let res = http.get(app.url("/operator/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 303, "the old cookie no longer opens the dashboard");
}

const SECRET: &str = "whsec_operator_0123456789";

fn signed(payload: &str) -> String {
    let t = chrono::Utc::now().timestamp();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn stripe_event(app: &TestApp, id: &str, kind: &str, created: i64, object: Value) {
    let payload = json!({"id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created, "livemode": false, "type": kind, "data": {"object": object}}).to_string();
    let res = app.http.post(app.url("/billing/stripe/webhook")).header("Stripe-Signature", signed(&payload)).header("content-type", "application/json").body(payload).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

fn subscription(status: &str, price: &str, tenant: &str) -> Value {
    json!({"id": format!("sub_{tenant}"), "object": "subscription", "customer": format!("cus_{tenant}"), "status": status,
        "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item", "price": {"id": price, "object": "price"}}]},
        "metadata": {"tenant_id": tenant}})
}

/// The KPI's value and this month's row of the movements table.
async fn figures(app: &TestApp, http: &reqwest::Client, cookie: &str) -> (String, Vec<String>) {
    let page = http.get(app.url("/operator/")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    let kpi = page.split(r#"data-kpi="mrr""#).nth(1).unwrap().split(r#"class="value">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let row = page.split(&format!("<tr><td>{month}</td>")).nth(1).unwrap().split("</tr>").next().unwrap();
    let cells = row.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap().to_owned()).collect();
    (kpi, cells)
}

async fn mrr_and_its_movements_follow_signed_subscription_events(b: Backend) {
    let env: &'static [(&'static str, &'static str)] = &[("TIKETHET_STRIPE_WEBHOOK_SECRET", SECRET)];
    let app = spawn_app_with(b, Options { env, ..Options::default() }).await;
    let a = app.create_tenant_on("acme", 1, "free").await;
    let acme = a.body["id"].as_str().unwrap().to_owned();
    let http = no_redirects();
    let cookie = sign_in(&app, &http).await;
    let plans: Value = app.operator(Method::GET, "/api/platform/v1/plans", None).await.json().await.unwrap();
    let price = |id: &str| -> (String, u64) {
        let p = plans["items"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap();
        (p["stripe_price"].as_str().unwrap().to_owned(), p["monthly_price_cents"].as_u64().unwrap())
    };
    let (starter_price, starter) = price("starter");
    let (pro_price, pro) = price("pro");
    let money = |c: u64| tikethet_billing::revenue::money(c as i64, "usd");
    assert_eq!(figures(&app, &http, &cookie).await.0, "$0.00", "nothing paid yet");

    let now = chrono::Utc::now().timestamp();
    // A trial is not revenue; paying is new MRR; a dearer plan expands it.
    stripe_event(&app, "evt_1", "customer.subscription.created", now, subscription("trialing", &starter_price, &acme)).await;
    assert_eq!(figures(&app, &http, &cookie).await.0, "$0.00", "a trial is not MRR");
    stripe_event(&app, "evt_2", "customer.subscription.updated", now + 1, subscription("active", &starter_price, &acme)).await;
    stripe_event(&app, "evt_3", "customer.subscription.updated", now + 2, subscription("active", &pro_price, &acme)).await;
    let (kpi, row) = figures(&app, &http, &cookie).await;
    assert_eq!(kpi, money(pro));
    // This month's new, won back, expansion, contraction, churn, net, MRR at end.
    assert_eq!(row, [money(starter), money(0), money(pro - starter), money(0), money(0), money(pro), money(pro)]);
    // A replayed event changes nothing; a cancellation is churn.
    stripe_event(&app, "evt_3", "customer.subscription.updated", now + 2, subscription("active", &pro_price, &acme)).await;
    stripe_event(&app, "evt_4", "customer.subscription.deleted", now + 3, subscription("canceled", &pro_price, &acme)).await;
    let (kpi, row) = figures(&app, &http, &cookie).await;
    assert_eq!(kpi, "$0.00");
    assert_eq!(row[0..5], [money(starter), money(0), money(pro - starter), money(0), money(pro)]);
    assert_eq!((row[5].as_str(), row[6].as_str()), ("$0.00", "$0.00"));

    // A failed payment shows on the overview and among the tenant's invoices.
    let invoice = json!({"id": "in_fail_1", "object": "invoice", "customer": format!("cus_{acme}"), "status": "open", "amount_due": pro, "amount_paid": 0, "currency": "usd",
        "created": now, "attempt_count": 1, "next_payment_attempt": now + 86_400, "hosted_invoice_url": "https://invoice.stripe.com/i/acct_test/in_fail_1"});
    stripe_event(&app, "evt_5", "invoice.payment_failed", now + 4, invoice).await;
    let page = http.get(app.url("/operator/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let failed = page.split(r#"data-testid="failed-payments""#).nth(1).unwrap().split("</section>").next().unwrap();
    assert!(failed.contains("acme") && failed.contains(&money(pro)) && failed.contains("attempt 1"), "{failed}");
    let tenant_page = http.get(app.url("/operator/tenants/acme")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(tenant_page.contains("in_fail_1") && tenant_page.contains("payment failed"), "{tenant_page}");
}

/// Clicks `css` and waits for the next page, which must be `page`.
async fn click_to(c: &Client, css: &str, page: &str) {
    c.execute("window.__before = true", vec![]).await.unwrap();
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    on_page(c, page).await;
}

/// Waits until a newly loaded page's `data-page` is `page`.
async fn on_page(c: &Client, page: &str) {
    let ok = wait_for(Duration::from_secs(10), || async {
        let at: Value = c.execute("return (document.readyState === 'complete' && !window.__before && document.body) ? document.body.dataset.page : null", vec![]).await.ok()?;
        (at == json!(page)).then_some(())
    })
    .await;
    if ok.is_none() {
        let text = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap_or_default();
        panic!("not on the {page} page; it shows: {text}");
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_signs_in_sees_a_tenants_usage_chart_and_suspends_and_resumes_it() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant_on("acme", 1, "starter").await;
    app.create_tenant_on("globex", 2, "free").await;
    // Three customers write: three tickets, three messages counted today.
    for (i, customer) in [(1, 811), (2, 812), (3, 813)] {
        app.deliver(&t, &fixtures::message(i, customer, &format!("Help number {i}"))).await;
        app.wait_processed("acme", i).await;
    }
    let (_driver, c) = browser_sized(1280, 1000).await;

    // Signed out, the dashboard asks for the operator token.
    c.goto(&app.url("/operator/tenants/acme")).await.unwrap();
    on_page(&c, "login").await;
    save_screenshot(&c, "operator-sign-in").await;
    c.find(Locator::Css("#token")).await.unwrap().send_keys("not the token").await.unwrap();
    click_to(&c, "[data-testid=sign-in]", "login").await;
    assert_eq!(text_of(&c, "[data-testid=login-error]").await, "That is not the operator token.");
    c.find(Locator::Css("#token")).await.unwrap().send_keys(OPERATOR_TOKEN).await.unwrap();
    // Back where the operator was going.
    click_to(&c, "[data-testid=sign-in]", "tenant").await;

    // The usage chart: today's point holds the three messages and tickets.
    let totals: Value = c
        .execute(
            "const g = s => document.querySelector(`svg[data-chart=usage] g[data-series='${s}']`); return [g('messages').dataset.total, g('tickets').dataset.total, document.querySelectorAll('svg[data-chart=usage] g[data-series=messages] circle').length]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(totals, json!(["3", "3", 90]), "90 days, three messages and tickets");
    let bar = text_of(&c, "[data-limit=tickets_per_month] .figures").await;
    assert_eq!(bar, "3 / 1,000", "the Starter plan's monthly tickets");
    save_screenshot(&c, "operator-tenant").await;

    // Suspend, confirming first.
    c.find(Locator::Css("[data-testid=suspend]")).await.unwrap().click().await.unwrap();
    click_to(&c, "[data-testid=confirm-suspend]", "tenant").await;
    assert_eq!(text_of(&c, "[data-testid=tenant-status]").await, "suspended");
    assert!(text_of(&c, "[data-testid=flash]").await.starts_with("Suspended."));
    assert_eq!(status_of(&app, "acme").await, "suspended");
    // The desk is paused for its customers.
    app.deliver(&t, &fixtures::message(4, 811, "Anyone there?")).await;
    let told = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, 811).into_iter().find(|m| m.contains("support is paused")) }).await;
    assert!(told.is_some(), "the customer is told the desk is paused");
    save_screenshot(&c, "operator-tenant-suspended").await;

    // Resume.
    click_to(&c, "[data-testid=resume]", "tenant").await;
    assert_eq!(text_of(&c, "[data-testid=tenant-status]").await, "active");
    assert_eq!(status_of(&app, "acme").await, "active");
    let audit = text_of(&c, "[data-testid=audit]").await;
    assert!(audit.contains("resumed") && audit.contains("suspended"), "{audit}");

    // The overview: both tenants with their plans and usage, the charts.
    c.goto(&app.url("/operator/")).await.unwrap();
    on_page(&c, "overview").await;
    let rows = text_of(&c, "[data-testid=tenants]").await;
    assert!(rows.contains("acme Support") && rows.contains("Starter") && rows.contains("globex Support") && rows.contains("Free"), "{rows}");
    let across: Value = c.execute("return document.querySelector(`svg[data-chart=usage-all] g[data-series=messages]`).dataset.total", vec![]).await.unwrap();
    assert_eq!(across, json!("3"), "a message to a paused desk is not received, so not counted");
    assert!(c.find(Locator::Css("svg[data-chart=mrr]")).await.is_ok() && c.find(Locator::Css("svg[data-chart=active]")).await.is_ok());
    save_screenshot(&c, "operator-overview").await;

    // On a phone: nothing wider than the screen (wide tables scroll in place).
    c.set_window_size(390, 844).await.unwrap();
    let fits: Value = c.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await.unwrap();
    assert_eq!(fits, json!(true), "the overview fits a phone");
    save_screenshot(&c, "operator-overview-phone").await;
    c.set_window_size(1280, 1000).await.unwrap();

    // Search narrows the list; nothing found says so.
    c.goto(&app.url("/operator/?q=glob")).await.unwrap();
    let rows = text_of(&c, "[data-testid=tenants]").await;
    assert!(rows.contains("globex") && !rows.contains("acme"), "{rows}");
    c.goto(&app.url("/operator/?q=nobody")).await.unwrap();
    assert!(c.find(Locator::Css("[data-testid=tenants]")).await.is_err());
    assert!(text_of(&c, "#tenants .empty").await.starts_with("No tenant matches."));
}
