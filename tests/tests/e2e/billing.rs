//! Stripe webhooks: signatures checked as Stripe's documentation gives them
//! (computed here with `hmac`, apart from the server's code), each event
//! applied once, events out of order handled by the state they carry, and
//! a subscription's state driving its tenant: the plan it buys, a grace
//! period when unpaid, suspension after it, resumption when paid again.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tikethet_runtime::storage::entities::inbox;
use tikethet_tests::fixtures;
use tikethet_tests::fake_stripe::FakeStripe;
use tikethet_tests::helpers::{Backend, Options, TestApp, spawn_app, spawn_app_with, wait_for};

on_both!(
    signed_stripe_events_apply_once_in_the_order_of_their_state_and_drive_the_tenant,
    a_checkout_through_stripe_lifts_the_limit_and_usage_is_reported_exactly_once,
    a_plan_change_is_previewed_then_charged_as_shown_on_the_one_subscription_and_cancelling_can_be_taken_back,
);

const SECRET: &str = "whsec_e2e_0123456789abcdef";

/// A plan catalogue whose Free plan allows one ticket a month.
const PLANS: &str = r#"
[[plan]]
id = "free"
name = "Free"
monthly_price_cents = 0
currency = "usd"
[plan.limits]
tickets_per_month = 1

[[plan]]
id = "pro"
name = "Pro"
monthly_price_cents = 4900
currency = "usd"
stripe_price = "price_e2e_pro"
"#;

fn header(payload: &str, t: i64, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({"id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created, "livemode": false, "pending_webhooks": 1, "type": kind, "data": {"object": object}}).to_string()
}

fn subscription(status: &str, tenant: &str) -> Value {
    json!({
        "id": "sub_e2e", "object": "subscription", "customer": "cus_e2e", "status": status,
        "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item", "price": {"id": "price_e2e_pro", "object": "price", "recurring": {"interval": "month"}}}]},
        "metadata": {"tenant_id": tenant}
    })
}

async fn post(app: &TestApp, payload: &str, signature: Option<String>) -> (u16, Value) {
    let mut r = app.http.post(app.url("/billing/stripe/webhook")).header("content-type", "application/json; charset=utf-8").body(payload.to_owned());
    if let Some(s) = signature {
        r = r.header("Stripe-Signature", s);
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn billing(app: &TestApp) -> Value {
    let res = app.operator(Method::GET, "/api/platform/v1/tenants/acme/billing", None).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn tenant(app: &TestApp) -> Value {
    app.operator(Method::GET, "/api/platform/v1/tenants/acme", None).await.json().await.unwrap()
}

async fn signed_stripe_events_apply_once_in_the_order_of_their_state_and_drive_the_tenant(b: Backend) {
    let plans = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(plans.path(), PLANS).unwrap();
    let plans_path: &'static str = Box::leak(plans.path().display().to_string().into_boxed_str());
    let env: &'static [(&'static str, &'static str)] = Box::leak(Box::new([("TIKETHET_STRIPE_WEBHOOK_SECRET", SECRET), ("TIKETHET_PLANS_FILE", plans_path)]));
    let app = spawn_app_with(b, Options { env, ..Options::default() }).await;
    let t = app.create_tenant_on("acme", 1, "free").await;
    let tenant_id = t.body["id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();

    // Free allows one ticket: the second customer's message is kept.
    app.deliver(&t, &fixtures::message(1, 701, "first")).await;
    assert_eq!(app.wait_processed("acme", 1).await.status, inbox::DONE);
    app.deliver(&t, &fixtures::message(2, 702, "second, over the limit")).await;
    assert_eq!(app.wait_processed("acme", 2).await.status, inbox::OVER_LIMIT);

    // Refused: no header, another secret, a timestamp over 300 s old, a
    // tampered body. Nothing of them is recorded.
    let checkout = event("evt_checkout", "checkout.session.completed", now, json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription", "client_reference_id": tenant_id, "customer": "cus_e2e", "subscription": "sub_e2e"}));
    for (sig, body) in [
        (None, checkout.clone()),
        (Some(header(&checkout, now, "whsec_someone_else")), checkout.clone()),
        (Some(header(&checkout, now - 301, SECRET)), checkout.clone()),
        (Some(header(&checkout, now, SECRET)), checkout.replace("cus_e2e", "cus_evil")),
    ] {
        let (s, body) = post(&app, &body, sig).await;
        assert_eq!((s, body["error"]["code"].clone()), (400, json!("invalid_signature")), "{body}");
    }
    assert_eq!(billing(&app).await["events"], json!([]), "a refused event is not recorded");

    let (s, body) = post(&app, &checkout, Some(header(&checkout, now, SECRET))).await;
    assert_eq!((s, body["outcome"].clone()), (200, json!("customer linked")), "{body}");

    // `updated` (active, Pro) arrives before `created` (incomplete), as
    // Stripe allows; the older one changes nothing.
    let updated = event("evt_updated", "customer.subscription.updated", now + 2, subscription("active", &tenant_id));
    let created = event("evt_created", "customer.subscription.created", now + 1, subscription("incomplete", &tenant_id));
    let (s, body) = post(&app, &updated, Some(header(&updated, now, SECRET))).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(&app, &created, Some(header(&created, now, SECRET))).await;
    assert_eq!((s, body["outcome"].clone()), (200, json!("stale: a newer state is applied")), "{body}");
    // Stripe retries: the same event ten times is applied once.
    for _ in 0..10 {
        let (s, body) = post(&app, &updated, Some(header(&updated, chrono::Utc::now().timestamp(), SECRET))).await;
        assert_eq!((s, body["duplicate"].clone()), (200, json!(true)), "{body}");
    }
    let bill = billing(&app).await;
    assert_eq!((bill["plan"].clone(), bill["subscription_status"].clone(), bill["stripe_customer_id"].clone()), (json!("pro"), json!("active"), json!("cus_e2e")), "{bill}");
    let kinds: Vec<&str> = bill["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["evt_updated", "evt_created", "evt_checkout"], "each once, newest first: {bill}");

    // Pro lifts the ticket limit: the kept message becomes a ticket.
    let owner = app.sign_in(&t, t.owner).await;
    let opened = wait_for(Duration::from_secs(20), || async {
        let (_, list) = app.tenant_get("acme", "/tickets?limit=10", &owner).await;
        let titles: Vec<String> = list["items"].as_array()?.iter().map(|i| i["title"].as_str().unwrap_or_default().to_owned()).collect();
        titles.iter().any(|x| x == "second, over the limit").then_some(titles)
    })
    .await
    .expect("the kept message became a ticket on the Pro plan");
    assert_eq!(opened.len(), 2);

    // Unpaid: the desk runs through the grace period, then is suspended;
    // paying again resumes it.
    let past_due = event("evt_past_due", "customer.subscription.updated", now + 3, subscription("past_due", &tenant_id));
    let (s, body) = post(&app, &past_due, Some(header(&past_due, now, SECRET))).await;
    assert_eq!(s, 200, "{body}");
    let bill = billing(&app).await;
    assert_eq!(bill["subscription_status"], "past_due");
    assert!(bill["unpaid_since"].is_string() && bill["grace_ends_at"].is_string(), "{bill}");
    assert_eq!(tenant(&app).await["status"], "active", "in its grace period the desk runs");
    let cookie = app.console_cookie(&t, t.owner).await;
    let console = app.http.get(app.url("/t/acme/admin/")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    assert!(console.contains(r#"data-testid="billing-banner">Payment is overdue: the subscription is past due since"#), "the console's banner: {console}");
    // Eight days pass.
    let control = tikethet_tests::helpers::connect_control(b, &app.data_dir(), app.pg_schema().unwrap_or_default()).await.unwrap();
    {
        use sea_orm::{EntityTrait as _, sea_query::Expr};
        use tikethet_platform::control::billing::accounts;
        let back = chrono::Utc::now() - chrono::Duration::days(8);
        accounts::Entity::update_many().col_expr(accounts::Column::UnpaidSince, Expr::value(back)).exec(&control).await.unwrap();
    }
    let suspended = wait_for(Duration::from_secs(20), || async { Some(tenant(&app).await).filter(|t| t["status"] == "suspended") }).await;
    assert!(suspended.is_some(), "not suspended after the grace period: {}", billing(&app).await);
    assert_eq!(billing(&app).await["suspended_by_billing"], true);
    let paid = event("evt_paid", "customer.subscription.updated", now + 4, subscription("active", &tenant_id));
    let (s, body) = post(&app, &paid, Some(header(&paid, now, SECRET))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(tenant(&app).await["status"], "active", "paying again resumes the desk");
    let bill = billing(&app).await;
    assert_eq!((bill["suspended_by_billing"].clone(), bill["unpaid_since"].clone()), (json!(false), Value::Null), "{bill}");
    control.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_secret_billing_is_offline_and_says_so() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = event("evt_1", "invoice.paid", chrono::Utc::now().timestamp(), json!({"id": "in_1", "object": "invoice"}));
    let (s, res) = post(&app, &body, Some(header(&body, chrono::Utc::now().timestamp(), SECRET))).await;
    assert_eq!((s, res["error"]["code"].clone()), (404, json!("billing_offline")), "{res}");
}

/// The desk's own count of a meter this month, from its usage API.
async fn desk_count(app: &TestApp, owner: &str, limit: &str) -> u64 {
    let (s, usage) = app.tenant_get("acme", "/usage", owner).await;
    assert_eq!(s, 200, "{usage}");
    usage["usage"].as_array().unwrap().iter().find(|l| l["limit"] == limit).unwrap()["used"].as_u64().unwrap()
}

async fn a_checkout_through_stripe_lifts_the_limit_and_usage_is_reported_exactly_once(b: Backend) {
    let stripe = FakeStripe::start().await.unwrap();
    let plans = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(plans.path(), PLANS).unwrap();
    let env = stripe.server_env(plans.path(), &[("TIKETHET_USAGE_REPORT_SECS", "1")]);
    let app = spawn_app_with(b, Options { env, ..Options::default() }).await;
    stripe.set_webhook(&app.url("/billing/stripe/webhook"));
    let t = app.create_tenant_on("acme", 1, "free").await;
    let tenant_id = t.body["id"].as_str().unwrap().to_owned();
    app.deliver(&t, &fixtures::message(1, 801, "first")).await;
    assert_eq!(app.wait_processed("acme", 1).await.status, inbox::DONE);
    app.deliver(&t, &fixtures::message(2, 802, "over the Free plan")).await;
    assert_eq!(app.wait_processed("acme", 2).await.status, inbox::OVER_LIMIT);

    // Only the owner buys, and only a plan that is sold.
    let owner = app.sign_in(&t, t.owner).await;
    let customer = app.sign_in(&t, 801).await;
    let (s, body) = app.tenant_post("acme", "/billing/checkout", &customer, json!({"plan": "pro"})).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = app.tenant_post("acme", "/billing/checkout", &owner, json!({"plan": "free"})).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("plan_not_for_sale")), "{body}");
    let (s, body) = app.tenant_post("acme", "/billing/portal", &owner, json!({})).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("no_subscription")), "{body}");
    let (s, checkout) = app.tenant_post("acme", "/billing/checkout", &owner, json!({"plan": "pro"})).await;
    assert_eq!(s, 200, "{checkout}");
    assert!(checkout["url"].as_str().unwrap().starts_with(&format!("{}pay/cs_", stripe.url)), "{checkout}");
    let session = stripe.session(checkout["id"].as_str().unwrap()).unwrap();
    assert_eq!((session["client_reference_id"].clone(), session["mode"].clone()), (json!(tenant_id), json!("subscription")), "{session}");
    let customers = stripe.customers();
    assert_eq!(customers.len(), 1);
    assert_eq!((customers[0]["metadata"]["tenant_id"].clone(), session["customer"].clone()), (json!(tenant_id), customers[0]["id"].clone()));
    // A second checkout reuses the customer.
    let (s, _) = app.tenant_post("acme", "/billing/checkout", &owner, json!({"plan": "pro"})).await;
    assert_eq!(s, 200);
    assert_eq!(stripe.customers().len(), 1, "one Stripe customer per tenant");

    // The owner pays: Stripe's signed webhooks move the desk to Pro, and
    // the message kept over the Free plan becomes a ticket.
    let sub_id = stripe.complete_checkout(checkout["id"].as_str().unwrap(), "active").await.unwrap();
    assert_eq!(tenant(&app).await["plan"], "pro");
    // Two events of one second, the older view arriving last: the desk asks
    // Stripe, whose subscription is past due.
    let second = chrono::Utc::now().timestamp() + 5;
    let past_due = stripe.set_subscription_status(&sub_id, "past_due").unwrap();
    let mut older_view = past_due.clone();
    older_view["status"] = json!("active");
    stripe.send_event_at("customer.subscription.updated", past_due, second).await.unwrap();
    stripe.send_event_at("customer.subscription.updated", older_view, second).await.unwrap();
    assert_eq!(billing(&app).await["subscription_status"], "past_due", "{}", billing(&app).await);
    let active = stripe.set_subscription_status(&sub_id, "active").unwrap();
    stripe.send_event_at("customer.subscription.updated", active, second + 1).await.unwrap();
    assert_eq!(billing(&app).await["subscription_status"], "active");
    let opened = wait_for(Duration::from_secs(20), || async {
        let (_, list) = app.tenant_get("acme", "/tickets?limit=10", &owner).await;
        (list["items"].as_array()?.len() == 2).then_some(())
    })
    .await;
    assert!(opened.is_some(), "the kept message did not become a ticket");
    let (s, portal) = app.tenant_post("acme", "/billing/portal", &owner, json!({})).await;
    assert_eq!(s, 200, "{portal}");
    assert!(portal["url"].as_str().unwrap().contains("/portal/bps_"), "{portal}");

    // Usage reaches Stripe exactly: its totals equal the desk's counters,
    // also across Stripe failing for a while (the reporter resumes).
    let cus = customers[0]["id"].as_str().unwrap().to_owned();
    let reported = |stripe: &FakeStripe| stripe.meter_totals().get(&("tikethet_messages".to_owned(), cus.clone())).copied().unwrap_or(0);
    let want = desk_count(&app, &owner, "messages_per_month").await;
    assert_eq!(want, 2);
    assert!(wait_for(Duration::from_secs(20), || async { (reported(&stripe) == want).then_some(()) }).await.is_some(), "reported {} of {want}", reported(&stripe));
    still_reported_once_after_two_passes(&app, &stripe, &reported, want).await;
    stripe.fail_next(3);
    for (n, text) in [(3, "more"), (4, "and more"), (5, "still more")] {
        app.deliver(&t, &fixtures::message(n, 801, text)).await;
        app.wait_processed("acme", n).await;
    }
    let want = desk_count(&app, &owner, "messages_per_month").await;
    assert_eq!(want, 5);
    assert!(wait_for(Duration::from_secs(20), || async { (reported(&stripe) == want).then_some(()) }).await.is_some(), "reported {} of {want}", reported(&stripe));
    still_reported_once_after_two_passes(&app, &stripe, &reported, want).await;
    // Every write carried an idempotency key; a report is never doubled.
    let calls = stripe.calls();
    assert!(calls.iter().filter(|c| c.method == "POST").all(|c| c.idempotency_key.is_some()), "{calls:#?}");
    assert!(calls.iter().any(|c| c.status == 500), "Stripe's failures were met");
}

/// Whether a usage report pass that reported everything ended after
/// `since`, within 20 s. `tikethet_usage_report_age_seconds` is the time
/// since the last such pass in whole seconds: an age of `a` read after
/// `asked` means it ended later than `asked - (a + 1) s`.
async fn a_full_report_pass_after(app: &TestApp, since: std::time::Instant) -> bool {
    wait_for(Duration::from_secs(20), || async {
        let asked = std::time::Instant::now();
        let age = app.metric("tikethet_usage_report_age_seconds").await;
        (age >= 0 && Duration::from_secs(age as u64 + 1) <= asked - since).then_some(())
    })
    .await
    .is_some()
}

/// Stripe's total equals `want` at one moment; it must stay so. Waits for a
/// pass that ended after that moment and then for one that began after it
/// (passes run one after another), then checks that the totals did not move
/// and that nothing more was sent: each unit was reported once, not once
/// and then again.
async fn still_reported_once_after_two_passes(app: &TestApp, stripe: &FakeStripe, reported: &impl Fn(&FakeStripe) -> u64, want: u64) {
    let sends = |stripe: &FakeStripe| stripe.calls().iter().filter(|c| c.method == "POST" && c.path.ends_with("/billing/meter_events")).count();
    let sent = sends(stripe);
    for pass in ["a pass that ended after the totals matched", "a pass that began after they matched"] {
        let ended = a_full_report_pass_after(app, std::time::Instant::now()).await;
        assert!(ended, "{pass} did not end in full within 20 s; Stripe's total is now {} of {want}", reported(stripe));
    }
    assert_eq!(reported(stripe), want, "Stripe's total after two more report passes");
    assert_eq!(sends(stripe), sent, "meter events sent again after everything was reported: {:#?}", stripe.calls());
}

/// Two plans for sale, so that a desk can move between them.
const TWO_PLANS: &str = r#"
[[plan]]
id = "free"
name = "Free"
monthly_price_cents = 0
currency = "usd"

[[plan]]
id = "starter"
name = "Starter"
monthly_price_cents = 1900
currency = "usd"
stripe_price = "price_e2e_starter"

[[plan]]
id = "pro"
name = "Pro"
monthly_price_cents = 4900
currency = "usd"
stripe_price = "price_e2e_pro"
"#;

async fn a_plan_change_is_previewed_then_charged_as_shown_on_the_one_subscription_and_cancelling_can_be_taken_back(b: Backend) {
    let stripe = FakeStripe::start().await.unwrap();
    stripe.set_price("price_e2e_starter", 1900);
    stripe.set_price("price_e2e_pro", 4900);
    let plans = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(plans.path(), TWO_PLANS).unwrap();
    let env = stripe.server_env(plans.path(), &[]);
    let app = spawn_app_with(b, Options { env, ..Options::default() }).await;
    stripe.set_webhook(&app.url("/billing/stripe/webhook"));
    let t = app.create_tenant_on("acme", 1, "free").await;
    let owner = app.sign_in(&t, t.owner).await;

    // Nothing to change before a subscription.
    let (s, body) = app.tenant_post("acme", "/billing/preview", &owner, json!({"plan": "pro"})).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("no_subscription")), "{body}");
    let (s, checkout) = app.tenant_post("acme", "/billing/checkout", &owner, json!({"plan": "starter"})).await;
    assert_eq!(s, 200, "{checkout}");
    stripe.complete_checkout(checkout["id"].as_str().unwrap(), "active").await.unwrap();
    assert_eq!(tenant(&app).await["plan"], "starter");
    let customer = stripe.customers()[0]["id"].as_str().unwrap().to_owned();

    // A second Checkout would make a second subscription: refused.
    let (s, body) = app.tenant_post("acme", "/billing/checkout", &owner, json!({"plan": "pro"})).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("already_subscribed")), "{body}");

    // The billing page's facts.
    let (s, bill) = app.tenant_get("acme", "/billing", &owner).await;
    assert_eq!(s, 200, "{bill}");
    assert_eq!((bill["plan"].clone(), bill["subscription"]["status"].clone(), bill["subscription"]["plan"].clone()), (json!("starter"), json!("active"), json!("starter")), "{bill}");
    assert_eq!((bill["subscription"]["cancel_at_period_end"].clone(), bill["next_invoice"]["amount_cents"].clone()), (json!(false), json!(1900)), "{bill}");
    let current: Vec<&str> = bill["plans"].as_array().unwrap().iter().filter(|p| p["current"] == true).map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(current, ["starter"], "{bill}");
    assert!(bill["usage"].as_array().unwrap().iter().any(|l| l["limit"] == "tickets_per_month"), "{bill}");

    // Preview, then the change charged as shown, on the same subscription.
    let (s, preview) = app.tenant_post("acme", "/billing/preview", &owner, json!({"plan": "pro"})).await;
    assert_eq!(s, 200, "{preview}");
    let due = preview["amount_due_cents"].as_i64().unwrap();
    assert!((2_990..=3_000).contains(&due), "the rest of a just-started month, 49 less 19 dollars: {preview}");
    let (s, body) = app.tenant_post("acme", "/billing/plan", &owner, json!({"plan": "pro", "proration_date": 1_000})).await;
    assert_eq!((s, body["error"]["code"].clone()), (400, json!("invalid_request")), "a stale preview: {body}");
    let (s, changed) = app.tenant_post("acme", "/billing/plan", &owner, json!({"plan": "pro", "proration_date": preview["proration_date"]})).await;
    assert_eq!((s, changed["plan"].clone()), (200, json!("pro")), "{changed}");
    let moved = wait_for(Duration::from_secs(20), || async { Some(tenant(&app).await).filter(|t| t["plan"] == "pro") }).await;
    assert!(moved.is_some(), "the desk follows Stripe's subscription.updated to Pro");
    assert_eq!(stripe.subscriptions_of(&customer).len(), 1, "one subscription, never a second");
    let invoices = stripe.invoices();
    assert_eq!((invoices.len(), invoices[0]["total"].as_i64()), (1, preview["total_cents"].as_i64()), "charged what the preview showed: {invoices:?}");
    let listed = wait_for(Duration::from_secs(20), || async {
        let (_, bill) = app.tenant_get("acme", "/billing", &owner).await;
        bill["invoices"].as_array().and_then(|i| i.iter().find(|i| i["id"] == invoices[0]["id"]).cloned())
    })
    .await
    .expect("the invoice shows on the billing page");
    assert!(listed["url"].as_str().is_some_and(|u| u.contains("/invoice/")), "{listed}");
    let (s, body) = app.tenant_post("acme", "/billing/preview", &owner, json!({"plan": "pro"})).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("same_plan")), "{body}");
    // Nobody but the owner (here, one of the desk's customers) cancels.
    let admin = 5_000_777;
    app.fake.start_chat(&t.token, admin);
    let admin_token = app.sign_in(&t, admin).await;
    let (s, _) = app.tenant_post("acme", "/billing/cancel", &admin_token, json!({})).await;
    assert_eq!(s, 403);

    // Cancel at the period's end, then take it back.
    let (s, cancelled) = app.tenant_post("acme", "/billing/cancel", &owner, json!({})).await;
    assert_eq!((s, cancelled["cancel_at_period_end"].clone()), (200, json!(true)), "{cancelled}");
    let (_, bill) = app.tenant_get("acme", "/billing", &owner).await;
    assert_eq!((bill["subscription"]["cancel_at_period_end"].clone(), bill["next_invoice"].clone()), (json!(true), Value::Null), "{bill}");
    let (s, resumed) = app.tenant_post("acme", "/billing/resume", &owner, json!({})).await;
    assert_eq!((s, resumed["cancel_at_period_end"].clone()), (200, json!(false)), "{resumed}");
    assert_eq!(stripe.subscriptions_of(&customer).len(), 1);
    // The owner's billing changes are in the desk's audit log.
    let (_, log) = app.tenant_get("acme", "/audit?action=billing.", &owner).await;
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["billing.resumed", "billing.cancelled", "billing.plan"], "{log}");
    assert!(log["items"][2]["detail"].as_str().unwrap().ends_with("→ pro (prorated, on the same subscription)"), "{log}");
    drop(app);

    // Without Stripe keys the page says so and nothing can be bought.
    let app = spawn_app(b).await;
    let t = app.create_tenant_on("acme", 1, "free").await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, bill) = app.tenant_get("acme", "/billing", &owner).await;
    assert_eq!((s, bill["offline"].clone(), bill["subscription"].clone()), (200, json!(true), Value::Null), "{bill}");
    let (s, body) = app.tenant_post("acme", "/billing/preview", &owner, json!({"plan": "pro"})).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("billing_offline")), "{body}");
}
