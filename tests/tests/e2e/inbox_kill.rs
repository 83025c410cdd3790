//! Updates acknowledged but not yet processed when the process is killed
//! with SIGKILL: the real binary (`tikethet serve`, as `process` runs it)
//! answers 200 to a customer's messages while their chat's lane is held,
//! the rows are seen waiting in the inbox, the process is killed and
//! started again, and every update is processed exactly once, in order.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, bot_token, drop_pg_schemas, init_data, postgres_url, random_suffix, wait_for};
use tikethet_tests::nodes;

async fn queues(http: &reqwest::Client, base: &str, op: &str) -> Option<Value> {
    http.get(format!("{base}/api/platform/v1/tenants/acme/queues")).bearer_auth(op).send().await.ok()?.json().await.ok()
}

async fn acknowledged_updates_are_processed_once_in_order_after_kill_9(backend: Backend) {
    let fake = FakeTelegram::start().await.unwrap();
    fake.allow_insecure_webhooks(true);
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("tt_{}", random_suffix());
    let op = format!("operator_token_{}_inbox", random_suffix());
    let mut env = vec![
        ("TIKETHET_TELEGRAM_API_URL", fake.url.clone()),
        ("TIKETHET_OPERATOR_TOKEN", op.clone()),
        ("TIKETHET_MASTER_KEY", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned()),
        ("TIKETHET_JWT_SECRET", format!("inbox-{}-0123456789abcdef0123456789", random_suffix())),
    ];
    if backend == Backend::Postgres {
        env.push(("TIKETHET_DATABASE_URL", postgres_url()));
        env.push(("TIKETHET_DATABASE_SCHEMA", schema.clone()));
    }
    let exe = Path::new(env!("CARGO_BIN_EXE_tikethet-under-test"));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut server = nodes::spawn(exe, dir.path(), "node", &env).unwrap();
    nodes::ready(&http, &mut server).await.unwrap();

    let token = bot_token(1);
    fake.add_bot(&token, "acme_bot");
    let owner_tg = 9_100_001;
    // The owner has the bot open, so its notices of new tickets are sent.
    fake.start_chat(&token, owner_tg);
    let res = http
        .post(format!("{}/api/platform/v1/tenants", server.base))
        .bearer_auth(&op)
        .json(&json!({ "slug": "acme", "name": "Acme", "bot_token": token, "owner_telegram_id": owner_tg, "plan": "business" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let webhook = fake.webhook(&token).expect("the bot's webhook is set");
    let path = webhook.url.split_once("/tg/").map(|(_, r)| format!("/tg/{r}")).expect("a webhook route");
    let secret = webhook.secret_token.clone().expect("a webhook secret");
    // Straight to the node (its port changes with the restart).
    let post = |base: String, update: Value| {
        let (http, path, secret) = (http.clone(), path.clone(), secret.clone());
        async move { http.post(format!("{base}{path}")).header("X-Telegram-Bot-Api-Secret-Token", secret).json(&update).send().await.unwrap().status().as_u16() }
    };

    // Telegram holds the answer to a button press: the press's row is done,
    // and the chat's lane waits in that call, so the customer's next
    // messages are acknowledged but stay in the inbox.
    let customer = 4_242;
    fake.start_chat(&token, customer);
    fake.slow_down("answerCallbackQuery", Duration::from_secs(60));
    assert_eq!(post(server.base.clone(), fixtures::button_press(1, customer, "later", "Pick one")).await, 200);
    let texts = ["first", "second", "third", "fourth", "fifth"];
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(post(server.base.clone(), fixtures::message(2 + i as i64, customer, text)).await, 200, "acknowledged");
    }
    let waiting = wait_for(Duration::from_secs(10), || async { queues(&http, &server.base, &op).await.filter(|q| q["inbox_pending"] == 5) }).await;
    assert!(waiting.is_some(), "the five messages wait in the inbox: {:?}", queues(&http, &server.base, &op).await);
    assert!(fake.sent_to(&token, customer).is_empty(), "nothing of them was answered before the kill");
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    fake.slow_down("answerCallbackQuery", Duration::ZERO);

    let mut server = nodes::spawn(exe, dir.path(), "node", &env).unwrap();
    nodes::ready(&http, &mut server).await.unwrap();
    let base = server.base.clone();
    let owner: Value =
        http.post(format!("{base}/t/acme/api/v1/auth/telegram")).json(&json!({ "init_data": init_data(&token, owner_tg, chrono::Utc::now().timestamp()) })).send().await.unwrap().json().await.unwrap();
    let owner = owner["access_token"].as_str().expect("the owner signs in").to_owned();
    // Every update is processed after the restart (on PostgreSQL the dead
    // process's claim on the chat is taken over once its heartbeat stops).
    let drained = wait_for(Duration::from_secs(20), || async { queues(&http, &base, &op).await.filter(|q| q["inbox_pending"] == 0 && q["outbox_pending"] == 0) }).await;
    assert!(drained.is_some(), "every acknowledged update processed after the restart: {:?}", queues(&http, &base, &op).await);
    let list: Value = http.get(format!("{base}/t/acme/api/v1/tickets?limit=100")).bearer_auth(&owner).send().await.unwrap().json().await.unwrap();
    let tickets = list["items"].as_array().expect("a ticket list");
    assert_eq!(tickets.len(), 1, "one ticket: {list}");
    let m: Value = http.get(format!("{base}/t/acme/api/v1/tickets/{}/messages?limit=100", tickets[0]["id"])).bearer_auth(&owner).send().await.unwrap().json().await.unwrap();
    let got: Vec<&str> = m["items"].as_array().expect("messages").iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(got, texts, "each message once, in update_id order");
    let sent = fake.sent_to(&token, customer);
    assert_eq!(sent.len(), 1, "the new ticket's answer, once: {sent:?}");
    let q = queues(&http, &base, &op).await.expect("the queues");
    assert_eq!((q["inbox_failed"].as_u64(), q["outbox_failed"].as_u64()), (Some(0), Some(0)), "{q}");
    drop(server);
    if backend == Backend::Postgres {
        drop_pg_schemas(&schema).await;
    }
}

on_both!(acknowledged_updates_are_processed_once_in_order_after_kill_9);
