//! What the product must do now that the Telegram stand-in is as strict as
//! Telegram (<https://core.telegram.org/bots/api>). These tests describe
//! behaviour the product is being changed to have; some fail until it does.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fake_telegram::{Failure, MAX_TEXT_CHARS};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, bot_token, spawn_app, wait_until};

on_both!(
    a_reply_longer_than_telegram_allows_arrives_in_parts_in_order,
    a_customer_who_blocked_the_bot_fails_the_message_once_with_telegrams_reason,
    provisioning_refused_by_set_webhook_is_422_and_leaves_no_tenant,
);

/// Posts a staff reply on ticket 1 and returns every text the customer got
/// for it, once all the desk's messages are settled.
async fn reply_and_collect(app: &TestApp, t: &tikethet_tests::helpers::Tenant, owner: &str, customer: i64, text: &str) -> Vec<String> {
    let before = app.fake.sent_to(&t.token, customer).len();
    let (s, m) = app.tenant_post(&t.slug, "/tickets/1/messages", owner, json!({ "text": text })).await;
    assert_eq!(s, 201, "{m}");
    app.wait_outbox_settled(&t.slug).await;
    app.fake.sent_to(&t.token, customer)[before..].to_vec()
}

async fn a_reply_longer_than_telegram_allows_arrives_in_parts_in_order(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = 3131;
    app.deliver(&t, &fixtures::message(1, customer, "Please explain everything")).await;
    app.wait_sent(&t, customer, 1).await;
    // The desk's template around a staff reply ("#1 …"), learnt from a short one.
    let short = reply_and_collect(&app, &t, &owner, customer, "MARKER").await;
    assert_eq!(short.len(), 1, "{short:?}");
    let (prefix, suffix) = short[0].split_once("MARKER").unwrap();
    assert!(prefix.contains("#1"), "{short:?}");

    // One character over the limit with the template (a reply that fits
    // alone), and the longest reply the API takes (4,096 characters; longer
    // texts are split the same way, see the runtime's unit tests).
    let template = prefix.chars().count() + suffix.chars().count();
    let words = |n: usize| {
        let mut s = String::new();
        let mut i = 0;
        while s.chars().count() < n {
            s.push_str(if i % 13 == 12 { "détails\n" } else { "réponse " });
            i += 1;
        }
        s.chars().take(n).collect::<String>()
    };
    for (len, min_parts) in [(MAX_TEXT_CHARS - template + 1, 2), (MAX_TEXT_CHARS, 2)] {
        // The desk trims a reply's ends; end on a letter so nothing is lost.
        let mut text = words(len);
        if text.ends_with(char::is_whitespace) {
            text.pop();
            text.push('x');
        }
        let whole = format!("{prefix}{text}{suffix}");
        assert!(whole.chars().count() > MAX_TEXT_CHARS);
        let parts = reply_and_collect(&app, &t, &owner, customer, &text).await;
        assert!(parts.len() >= min_parts, "{len} characters in {} part(s)", parts.len());
        for p in &parts {
            let n = p.chars().count();
            assert!((1..=MAX_TEXT_CHARS).contains(&n), "a part of {n} characters");
        }
        assert_eq!(parts.concat(), whole, "the parts, in order, are the whole reply");
    }
    let refused: Vec<_> = app.fake.sends_to(&t.token, customer).into_iter().filter(|c| !c.ok).map(|c| c.description).collect();
    assert!(refused.is_empty(), "Telegram refused: {refused:?}");
}

async fn a_customer_who_blocked_the_bot_fails_the_message_once_with_telegrams_reason(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = 4141;
    app.deliver(&t, &fixtures::message(1, customer, "My order is late")).await;
    app.wait_sent(&t, customer, 1).await;
    app.fake.block(&t.token, customer);
    let (s, m) = app.tenant_post("acme", "/tickets/1/messages", &owner, json!({ "text": "It ships today." })).await;
    assert_eq!(s, 201, "{m}");
    // Failed is final: once the row says so, no attempt can follow.
    let out = app.wait_outbox_settled("acme").await;
    let row = out.iter().find(|o| o.text.contains("It ships today.")).unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(row.status, "failed", "{row:#?}");
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("Forbidden: bot was blocked by the user")), "{row:#?}");
    assert_eq!(row.attempts, 1, "{row:#?}");
    let attempts: Vec<_> = app.fake.sends_to(&t.token, customer).into_iter().filter(|c| c.text().is_some_and(|x| x.contains("It ships today."))).collect();
    assert_eq!(attempts.len(), 1, "a block is not retried: {attempts:#?}");
    assert_eq!(attempts[0].status, 403);

    // Everything queued for a blocked chat fails with the first refusal.
    // The customer writes again (so the bot may write to them), and two
    // answers queue up while Telegram paces the first (a 429 of 1 s).
    app.fake.unblock(&t.token, customer);
    app.deliver(&t, &fixtures::message(2, customer, "Any news?")).await;
    assert_eq!(app.wait_processed("acme", 2).await.status, "done");
    app.fake.fail(Failure::retry_after("sendMessage", 1, 1));
    let (s, m) = app.tenant_post("acme", "/tickets/1/messages", &owner, json!({ "text": "First answer." })).await;
    assert_eq!(s, 201, "{m}");
    wait_until(Duration::from_secs(10), || app.fake.sends_to(&t.token, customer).into_iter().find(|c| c.status == 429)).await.expect("the first answer met the 429");
    let (s, m) = app.tenant_post("acme", "/tickets/1/messages", &owner, json!({ "text": "Second answer." })).await;
    assert_eq!(s, 201, "{m}");
    app.fake.block(&t.token, customer);
    let out = app.wait_outbox_settled("acme").await;
    for text in ["First answer.", "Second answer."] {
        let row = out.iter().find(|o| o.text.contains(text)).unwrap_or_else(|| panic!("{out:#?}"));
        assert_eq!(row.status, "failed", "{row:#?}");
        assert!(row.last_error.as_deref().is_some_and(|e| e.contains("bot was blocked")), "{row:#?}");
    }
    let tried: Vec<u16> = app.fake.sends_to(&t.token, customer).into_iter().filter(|c| c.text().is_some_and(|x| x.contains("answer."))).map(|c| c.status).collect();
    assert_eq!(tried, [429, 403], "the second answer was never tried");
    let metrics = app.http.get(app.url("/metrics")).bearer_auth(tikethet_tests::helpers::OPERATOR_TOKEN).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "tikethet_messages_failed_total 3"), "three messages given up on: {metrics}");
}

async fn provisioning_refused_by_set_webhook_is_422_and_leaves_no_tenant(b: Backend) {
    let app = spawn_app(b).await;
    // As Telegram: the test server's http://127.0.0.1 webhook is refused.
    app.fake.allow_insecure_webhooks(false);
    let token = bot_token(1);
    app.fake.add_bot(&token, "ghost_bot");
    let res = app
        .operator(Method::POST, "/api/platform/v1/tenants", Some(json!({"slug": "ghost", "name": "Ghost", "bot_token": token, "owner_telegram_id": 1})))
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "webhook_refused", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("HTTPS url must be provided for webhook"), "Telegram's reason is passed on: {body}");
    assert!(!message.contains(&token), "the token leaked: {body}");
    assert_eq!(app.operator(Method::GET, "/api/platform/v1/tenants/ghost", None).await.status(), 404);
    let list: Value = app.operator(Method::GET, "/api/platform/v1/tenants", None).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]), "{list}");
    assert!(app.fake.webhook(&token).is_none());
    // Nothing left behind: the slug and the bot are free for a retry.
    app.fake.allow_insecure_webhooks(true);
    let t = app.create_tenant("ghost", 2).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, tickets) = app.tenant_get("ghost", "/tickets", &owner).await;
    assert_eq!((s, tickets["items"].clone()), (200, json!([])));
}

/// No more than 30 sends by one bot in any one-second window, counted from
/// the stand-in's arrival times (Telegram's pacing off, so only the
/// product's own limiter spaces them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_30_sends_per_second_per_bot() {
    let app = spawn_app(Backend::Sqlite).await;
    app.fake.rate_limits(false);
    let t = app.create_tenant("acme", 1).await;
    let customers: Vec<i64> = (0..90).map(|i| 100_000 + i).collect();
    let deliveries = customers.iter().enumerate().map(|(i, c)| {
        let (app, t) = (&app, &t);
        async move { app.deliver(t, &fixtures::start(i as i64 + 1, *c)).await }
    });
    futures::future::join_all(deliveries).await;
    let all = tikethet_tests::helpers::wait_until(Duration::from_secs(30), || {
        let calls: Vec<_> = app.fake.calls(Some("sendMessage")).into_iter().filter(|c| c.token == t.token).collect();
        (calls.len() >= customers.len()).then_some(calls)
    })
    .await
    .expect("every customer welcomed");
    let mut at: Vec<_> = all.iter().map(|c| c.at).collect();
    at.sort();
    let worst = (0..at.len()).map(|i| at[i..].iter().take_while(|a| **a - at[i] < Duration::from_secs(1)).count()).max().unwrap();
    assert!(worst <= 30, "{worst} sends within one second by one bot");
}

