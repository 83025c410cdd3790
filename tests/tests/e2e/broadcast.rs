//! `/broadcast`: admins only, confirmed before it goes, each customer's
//! copy sent once, progress on request and a report at the end. The run of
//! 5,000 with a `kill -9` halfway is in `process.rs`.

use std::time::Duration;

use serde_json::Value;
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, Tenant, spawn_app, wait_for};

on_both!(a_broadcast_is_confirmed_then_sent_once_to_each_customer_and_reported,);

/// Waits for a message to `chat` that contains `needle`.
async fn told(app: &TestApp, t: &Tenant, chat: i64, needle: &str, within: Duration) -> String {
    wait_for(within, || async { app.fake.sent_to(&t.token, chat).into_iter().find(|m| m.contains(needle)) })
        .await
        .unwrap_or_else(|| panic!("{chat} was not told {needle:?}; it got {:?}", app.fake.sent_to(&t.token, chat)))
}

/// The callback data of the buttons under the last message to `chat`
/// that contains `needle`, as Telegram would show them.
pub fn buttons_under(fake: &FakeTelegram, token: &str, chat: i64, needle: &str) -> Vec<(String, String)> {
    let call = fake.sends_to(token, chat).into_iter().filter(|c| c.ok && c.text().is_some_and(|t| t.contains(needle))).last().expect("the message");
    let markup: Value = match &call.params["reply_markup"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        v => v.clone(),
    };
    markup["inline_keyboard"]
        .as_array()
        .expect("an inline keyboard")
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .map(|b| (b["text"].as_str().unwrap().to_owned(), b["callback_data"].as_str().unwrap().to_owned()))
        .collect()
}

async fn a_broadcast_is_confirmed_then_sent_once_to_each_customer_and_reported(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customers = [801, 802, 803];
    let mut update = 0;
    let mut next = || {
        update += 1;
        update
    };
    for who in customers.iter().chain([&t.owner]) {
        let id = next();
        app.deliver(&t, &fixtures::start(id, *who)).await;
        app.wait_processed("acme", id).await;
    }
    // 803 blocked the bot after its welcome; the desk learns it when the
    // copy is refused.
    app.wait_outbox_settled("acme").await;
    app.fake.block(&t.token, 803);

    // Customers get the help; an admin without text, how to use it.
    app.deliver(&t, &fixtures::message(next(), 801, "/broadcast Free pizza for all")).await;
    told(&app, &t, 801, "/help", Duration::from_secs(10)).await;
    app.deliver(&t, &fixtures::message(next(), t.owner, "/broadcast")).await;
    told(&app, &t, t.owner, "Write /broadcast followed by the message", Duration::from_secs(10)).await;

    // A draft, cancelled: nothing goes.
    app.deliver(&t, &fixtures::message(next(), t.owner, "/broadcast Closed on Monday")).await;
    told(&app, &t, t.owner, "Send this to 3 customers?\n\nClosed on Monday", Duration::from_secs(10)).await;
    let buttons = buttons_under(&app.fake, &t.token, t.owner, "Closed on Monday");
    assert_eq!(buttons.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(), ["📣 Send to 3", "Cancel"]);
    app.deliver(&t, &fixtures::button_press(next(), t.owner, &buttons[1].1, "Closed on Monday")).await;
    told(&app, &t, t.owner, "Broadcast cancelled; nothing was sent.", Duration::from_secs(10)).await;

    // A second draft, confirmed.
    app.deliver(&t, &fixtures::message(next(), t.owner, "/broadcast We are open on Sunday.")).await;
    told(&app, &t, t.owner, "Send this to 3 customers?\n\nWe are open on Sunday.", Duration::from_secs(10)).await;
    let send = buttons_under(&app.fake, &t.token, t.owner, "We are open on Sunday.")[0].1.clone();
    // Only its author's press counts: a customer's does nothing.
    let stranger = next();
    app.deliver(&t, &fixtures::button_press(stranger, 801, &send, "We are open on Sunday.")).await;
    app.wait_processed("acme", stranger).await;
    app.deliver(&t, &fixtures::button_press(next(), t.owner, &send, "We are open on Sunday.")).await;
    told(&app, &t, t.owner, "Broadcast #2 is sending to 3 customers", Duration::from_secs(10)).await;
    // A second press of the same button queues nothing more.
    let again = next();
    app.deliver(&t, &fixtures::button_press(again, t.owner, &send, "We are open on Sunday.")).await;
    app.wait_processed("acme", again).await;

    let report = told(&app, &t, t.owner, "📣 Broadcast #2 finished", Duration::from_secs(30)).await;
    assert_eq!(report, "📣 Broadcast #2 finished: 2 of 3 delivered.\n1 not delivered (blocked the bot, deleted their account, or stopped).");
    for who in [801, 802] {
        let got: Vec<String> = app.fake.sent_to(&t.token, who).into_iter().filter(|m| m.contains("Sunday") || m.contains("Monday") || m.contains("pizza")).collect();
        assert_eq!(got, ["We are open on Sunday."], "{who}");
    }
    assert!(app.fake.sent_to(&t.token, 803).iter().all(|m| !m.contains("Sunday")));
    let copies: Vec<_> = app.outbox("acme").await.into_iter().filter(|o| o.broadcast_id.is_some()).collect();
    assert_eq!(copies.len(), 3, "one copy per customer, pressed twice or not: {copies:?}");
    let mut states: Vec<&str> = copies.iter().map(|o| o.status.as_str()).collect();
    states.sort();
    assert_eq!(states, ["failed", "sent", "sent"]);

    // Nothing under way any more.
    app.deliver(&t, &fixtures::message(next(), t.owner, "/broadcast stop")).await;
    told(&app, &t, t.owner, "No broadcast is sending.", Duration::from_secs(10)).await;
}
