//! Generated input where schemathesis cannot reach: arbitrary bodies at the
//! webhook (with the right secret, so they get past the door) and arbitrary
//! initData at sign-in. Nothing may answer 5xx, nothing may be processed
//! twice, and the server must still work afterwards.

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Limits, Options, spawn_app_with};

on_both!(arbitrary_webhook_bodies_and_init_data_never_get_a_server_error);

/// Bodies that look more or less like updates: random JSON around real
/// update shapes, and raw bytes.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let json_leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    let json = json_leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("(update_id|message|text|chat|from|id|callback_query|data|date|[a-z_]{1,10})", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    let shaped = (any::<i64>(), any::<i64>(), ".{0,300}", json.clone()).prop_map(|(u, chat, text, extra)| {
        let mut v = fixtures::message(u, chat, &text);
        v["message"]["entities"] = extra;
        serde_json::to_vec(&v).unwrap()
    });
    prop_oneof![json.prop_map(|v| serde_json::to_vec(&v).unwrap()), shaped, prop::collection::vec(any::<u8>(), 0..512)]
}

async fn arbitrary_webhook_bodies_and_init_data_never_get_a_server_error(b: Backend) {
    // Rate limits off: every one of the 100 sign-ins must reach the handler.
    let app = spawn_app_with(b, Options { limits: Limits::Off, ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let secret = app.fake.webhook(&t.token).unwrap().secret_token.unwrap();
    let wh = app.fake.webhook(&t.token).unwrap().url;
    let mut runner = TestRunner::new_with_rng(Config { cases: 150, ..Config::default() }, proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha));
    let strategy = bodies();
    for _ in 0..150 {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        let res = app
            .http
            .post(&wh)
            .header("content-type", "application/json")
            .header("X-Telegram-Bot-Api-Secret-Token", &secret)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "webhook body {:?}", String::from_utf8_lossy(&body));
    }
    let init_strategy = prop_oneof![
        ".{0,200}",
        "(auth_date|user|hash|query_id)=[%a-zA-Z0-9{}\":,]{0,60}(&(auth_date|user|hash)=[%a-zA-Z0-9{}\":,]{0,60}){0,4}",
    ];
    for _ in 0..100 {
        let init: String = init_strategy.new_tree(&mut runner).unwrap().current();
        let res = app.http.post(app.url("/t/acme/api/v1/auth/telegram")).json(&json!({ "init_data": init })).send().await.unwrap();
        let s = res.status().as_u16();
        assert!(s == 400 || s == 401, "init_data {init:?}: {s} {}", res.text().await.unwrap());
    }
    // Still alive, and still working: a real message is answered.
    assert_eq!(app.deliver(&t, &fixtures::message(424_242, 4_242, "still there?")).await, 200);
    let sent = app.wait_sent(&t, 4_242, 1).await;
    assert!(sent[0].contains("still there?"), "{sent:?}");
    let res = app.operator(reqwest::Method::GET, "/api/platform/v1/tenants/acme/queues", None).await;
    let q: serde_json::Value = res.json().await.unwrap();
    assert_eq!(q["inbox_pending"], 0, "{q}");
}
