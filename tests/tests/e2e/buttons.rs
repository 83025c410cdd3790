//! Inline buttons and plugin contract versions side by side: a component
//! built against 1.0.0 keeps working beside a 1.1.0 one on one desk, and a
//! pressed button reaches the 1.1.0 plugin, is answered, and its reply
//! reaches the chat.

use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, spawn_app, wait_until};

on_both!(
    plugins_of_contracts_1_0_0_and_1_1_0_work_side_by_side_and_buttons_reach_the_newer,
    concurrent_uploads_of_one_plugin_never_fail_with_500_and_the_count_is_capped,
);

async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    super::plugins::upload(app, "acme", token, name, bytes).await
}

async fn configure(app: &TestApp, token: &str, name: &str, config: Value) {
    let res = app.http.patch(app.url(&format!("/t/acme/api/v1/plugins/{name}"))).bearer_auth(token).json(&json!({ "config": config })).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

fn keyword_reply_1_1_0() -> Vec<u8> {
    let path = tikethet_plugins::build::build_bundled("keyword-reply").unwrap_or_else(|e| panic!("building keyword-reply: {e:#}"));
    std::fs::read(path).unwrap()
}

async fn plugins_of_contracts_1_0_0_and_1_1_0_work_side_by_side_and_buttons_reach_the_newer(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, old) = upload(&app, &owner, "faq-old", tikethet_plugins::frozen_keyword_reply_1_0_0().to_vec()).await;
    assert_eq!((s, old["version"].as_str()), (200, Some("1.0.0")), "{old}");
    let (s, new) = upload(&app, &owner, "faq", keyword_reply_1_1_0()).await;
    assert_eq!((s, new["version"].as_str()), (200, Some("1.1.0")), "{new}");
    configure(&app, &owner, "faq-old", json!({"rules": [{"keywords": ["refund"], "answer": "Refunds take 5 days."}]})).await;
    configure(
        &app,
        &owner,
        "faq",
        json!({
            "rules": [{"keywords": ["delivery"], "answer": "Where is it going?", "buttons": [{"text": "Track my parcel", "data": "track"}]}],
            "button_answers": [{"data": "track", "answer": "Your parcel is on its way."}]
        }),
    )
    .await;
    let customer = 515_151;
    // The 1.0.0 component answers its keyword.
    app.deliver(&t, &fixtures::message(1, customer, "I want a refund")).await;
    let sent = app.wait_sent(&t, customer, 2).await;
    assert!(sent.contains(&"Refunds take 5 days.".to_owned()), "{sent:?}");
    // The 1.1.0 one answers with a button.
    app.deliver(&t, &fixtures::message(2, customer, "delivery question")).await;
    let sent = app.wait_sent(&t, customer, 3).await;
    assert_eq!(sent[2], "Where is it going?", "{sent:?}");
    let call = app
        .fake
        .calls(Some("sendMessage"))
        .into_iter()
        .find(|c| c.params["text"] == "Where is it going?")
        .expect("the reply was sent");
    let markup = match &call.params["reply_markup"] {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap(),
        v => v.clone(),
    };
    assert_eq!(markup["inline_keyboard"][0][0]["callback_data"], "track", "{markup}");
    assert_eq!(markup["inline_keyboard"][0][0]["text"], "Track my parcel", "{markup}");

    // The customer presses it.
    assert_eq!(app.deliver(&t, &fixtures::button_press(3, customer, "track", "Where is it going?")).await, 200);
    let sent = app.wait_sent(&t, customer, 4).await;
    assert_eq!(sent[3], "Your parcel is on its way.", "{sent:?}");
    // Every press is answered, with its id.
    let answered = wait_until(Duration::from_secs(10), || {
        app.fake.calls(Some("answerCallbackQuery")).into_iter().find(|c| c.params["callback_query_id"] == format!("{}3", 4_382_000_000_000_i64))
    })
    .await;
    assert!(answered.is_some(), "answerCallbackQuery: {:?}", app.fake.calls(Some("answerCallbackQuery")));
    // A press no plugin knows is answered too, and sends nothing.
    assert_eq!(app.deliver(&t, &fixtures::button_press(4, customer, "nobody-knows", "x")).await, 200);
    let answered = wait_until(Duration::from_secs(10), || {
        app.fake.calls(Some("answerCallbackQuery")).into_iter().find(|c| c.params["callback_query_id"] == format!("{}4", 4_382_000_000_000_i64))
    })
    .await;
    assert!(answered.is_some());
    app.deliver(&t, &fixtures::message(5, customer, "marker")).await;
    wait_until(Duration::from_secs(10), || {
        let s = app.fake.sent_to(&t.token, customer);
        (s.len() >= 4 && app.state.runtime.metrics().updates_processed.load(std::sync::atomic::Ordering::Relaxed) >= 5).then_some(())
    })
    .await
    .expect("all five updates processed");
    assert_eq!(app.fake.sent_to(&t.token, customer).len(), 4, "the unknown press and the plain marker sent nothing new");
}

async fn concurrent_uploads_of_one_plugin_never_fail_with_500_and_the_count_is_capped(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let bytes = tikethet_plugins::frozen_keyword_reply_1_0_0().to_vec();
    let uploads = (0..4).map(|_| upload(&app, &owner, "faq", bytes.clone()));
    let results = futures::future::join_all(uploads).await;
    for (s, body) in &results {
        assert!(*s == 200 || *s == 409, "{s}: {body}");
        if *s == 409 {
            assert_eq!(body["error"]["code"], "conflict", "{body}");
        }
    }
    assert!(results.iter().any(|(s, _)| *s == 200));
    let res = app.http.get(app.url("/t/acme/api/v1/plugins")).bearer_auth(&owner).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    // Up to the cap, then a clear refusal.
    let cap = tikethet_plugins::limits::MAX_PLUGINS_PER_TENANT;
    for i in 1..cap {
        let (s, body) = upload(&app, &owner, &format!("p{i}"), bytes.clone()).await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, body) = upload(&app, &owner, "one-too-many", bytes.clone()).await;
    assert_eq!(s, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&cap.to_string()), "{body}");
    // Replacing an existing one is still fine at the cap.
    assert_eq!(upload(&app, &owner, "faq", bytes).await.0, 200);
}
