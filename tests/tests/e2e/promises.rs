//! Promises the README makes that no other test checks: when the sender
//! gives up, the size limit of an update, and
//! tenant isolation under concurrent load on the shared PostgreSQL pool.

use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fake_telegram::Failure;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, spawn_app, wait_for, wait_until};

on_both!(
    sender_gives_up_after_max_attempts_of_server_errors,
    sender_retries_wait_their_time_even_when_new_messages_wake_the_chat,
    an_update_over_one_mebibyte_is_refused_with_413_and_not_stored,
);

/// The sender's `MAX_ATTEMPTS` (private to the runtime).
const MAX_ATTEMPTS: usize = 6;

async fn sender_gives_up_after_max_attempts_of_server_errors(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 4040;
    app.fake.fail(Failure::status("sendMessage", 500, 1_000));
    app.deliver(&t, &fixtures::start(1, customer)).await;
    // Backoff doubles from 1 s: 1 + 2 + 4 + 8 + 16 s before the sixth
    // attempt, and teloxide itself waits 10 s after each 5xx
    // (DELAY_ON_SERVER_ERROR): about 90 s in all.
    let failed = wait_for(Duration::from_secs(150), || async {
        app.outbox("acme").await.into_iter().find(|o| o.status == "failed")
    })
    .await
    .unwrap_or_else(|| {
        let calls = app.fake.sends_to(&t.token, customer);
        panic!("the message was never marked failed; attempts at {:?}", calls.iter().map(|c| c.at - calls[0].at).collect::<Vec<_>>())
    });
    assert_eq!(failed.attempts as usize, MAX_ATTEMPTS, "{failed:#?}");
    assert!(failed.last_error.as_deref().is_some_and(|e| e.contains("Internal Server Error")), "{failed:#?}");
    assert!(failed.telegram_message_id.is_none() && failed.sent_at.is_none(), "{failed:#?}");
    let calls = app.fake.sends_to(&t.token, customer);
    assert_eq!(calls.len(), MAX_ATTEMPTS, "{calls:#?}");
    assert!(calls.iter().all(|c| c.status == 500));
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps.iter().all(|g| *g >= Duration::from_millis(500)), "no backoff: {gaps:?}");
    assert!(gaps.windows(2).all(|w| w[1] >= w[0] + Duration::from_millis(500)), "backoff does not grow: {gaps:?}");
    // Given up means given up: a later message to the chat is the next call.
    app.fake.clear_failures();
    app.deliver(&t, &fixtures::message(2, customer, "still there?")).await;
    let sent = app.wait_sent(&t, customer, 1).await;
    assert!(sent[0].contains("still there?"), "{sent:?}");
    assert_eq!(app.fake.sends_to(&t.token, customer).len(), MAX_ATTEMPTS + 1);
}

/// A message waiting to be retried (after a 500's backoff, or a 429's
/// `retry_after`) keeps waiting when a new message to the same chat wakes
/// its lane: the stored retry time holds, not only the lane's sleep.
async fn sender_retries_wait_their_time_even_when_new_messages_wake_the_chat(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 4242;
    for (n, failure, wait) in [(1, Failure::status("sendMessage", 500, 1), Duration::from_millis(900)), (3, Failure::retry_after("sendMessage", 3, 1), Duration::from_secs(3))] {
        app.fake.fail(failure);
        app.deliver(&t, &fixtures::start(n, customer)).await;
        let refused = wait_until(Duration::from_secs(10), || app.fake.sends_to(&t.token, customer).into_iter().filter(|c| !c.ok).nth(n as usize / 2))
            .await
            .expect("the first try was refused");
        // The customer sends /start again at once: its welcome queues
        // behind the refused one, and the chat's lane is woken.
        app.deliver(&t, &fixtures::start(n + 1, customer)).await;
        app.wait_processed("acme", n + 1).await;
        let sent = app.wait_sent(&t, customer, n as usize + 1).await;
        let calls = app.fake.sends_to(&t.token, customer);
        let retry = calls.iter().find(|c| c.ok && c.at > refused.at).unwrap_or_else(|| panic!("{calls:#?}"));
        assert!(retry.at - refused.at >= wait, "retried {:?} after the refusal, before its time ({wait:?}): {sent:?}", retry.at - refused.at);
        assert_eq!(retry.text(), refused.text(), "the refused message goes first");
    }
}

async fn an_update_over_one_mebibyte_is_refused_with_413_and_not_stored(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let secret = app.fake.webhook(&t.token).unwrap().secret_token.unwrap();
    let huge = fixtures::message(1, 77, &"x".repeat(1024 * 1024)).to_string();
    assert!(huge.len() > 1024 * 1024);
    let wh = app.fake.webhook(&t.token).unwrap();
    let res = app
        .http
        .post(&wh.url)
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", &secret)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    // An update of exactly 1 MiB (padded with JSON whitespace) is one like
    // any other; a byte more is refused.
    let mut fits = fixtures::message(2, 77, "a message at the limit").to_string();
    fits.push_str(&" ".repeat(1024 * 1024 - fits.len()));
    assert_eq!(fits.len(), 1024 * 1024);
    assert_eq!(app.post_webhook(&t, Some(&secret), &format!("{fits} ")).await, 413);
    assert_eq!(app.post_webhook(&t, Some(&secret), &fits).await, 200);
    assert_eq!(app.wait_processed("acme", 2).await.status, "done");
    let inbox = app.inbox("acme").await;
    assert_eq!(inbox.iter().map(|r| r.update_id).collect::<Vec<_>>(), [Some(2)], "the refused update was stored");
}

/// Many tenants written and read at once through the shared pool, with the
/// same customer ids in each: every tenant sees only its own rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tenants_stay_isolated_under_concurrent_load() {
    let app = spawn_app(Backend::Postgres).await;
    app.fake.rate_limits(false);
    let mut tenants = Vec::new();
    for n in 0..6u32 {
        tenants.push(app.create_tenant(&format!("desk-{n}"), n + 1).await);
    }
    let customers: Vec<i64> = (0..5).map(|i| 7_000 + i).collect();
    // Every tenant's customers write at once.
    let writes = tenants.iter().flat_map(|t| {
        customers.iter().enumerate().map(move |(i, c)| (t, i, *c))
    });
    futures::future::join_all(writes.map(|(t, i, c)| {
        let app = &app;
        async move { app.deliver(t, &fixtures::message(i as i64 + 1, c, &format!("from {} customer {c}", t.slug))).await }
    }))
    .await;
    // Every tenant reads (and a customer of each writes through the API) at once.
    let checks = tenants.iter().map(|t| {
        let (app, customers) = (&app, &customers);
        async move {
            for i in 0..customers.len() {
                app.wait_processed(&t.slug, i as i64 + 1).await;
            }
            let cust = app.sign_in(t, customers[0]).await;
            let (s, created) = app.tenant_post(&t.slug, "/tickets", &cust, json!({"title": format!("api {}", t.slug), "description": "x"})).await;
            assert_eq!(s, 201, "{created}");
            let owner = app.sign_in(t, t.owner).await;
            let (s, list) = app.tenant_get(&t.slug, "/tickets?limit=100", &owner).await;
            assert_eq!(s, 200, "{list}");
            let titles: Vec<String> = list["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_owned()).collect();
            assert_eq!(titles.len(), customers.len() + 1, "{}: {titles:?}", t.slug);
            for title in &titles {
                let own = title.ends_with(&format!("from {} customer", t.slug)) || title.contains(&format!("from {} customer ", t.slug)) || title == &format!("api {}", t.slug);
                assert!(own, "{} sees {title:?}", t.slug);
            }
            let inbox = app.inbox(&t.slug).await;
            assert_eq!(inbox.len(), customers.len(), "{}", t.slug);
            assert!(inbox.iter().all(|r| r.payload.contains(&format!("from {} customer", t.slug))), "{}: {inbox:#?}", t.slug);
            // A customer's own list holds only their tickets in this desk.
            let (_, mine) = app.tenant_get(&t.slug, "/tickets", &cust).await;
            let mine: Vec<&str> = mine["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
            assert_eq!(mine.len(), 2, "{}: {mine:?}", t.slug);
            assert!(mine.iter().all(|m| m.contains(&t.slug)), "{}: {mine:?}", t.slug);
        }
    });
    futures::future::join_all(checks).await;
}
