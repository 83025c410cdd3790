//! Which ticket a customer's message continues: a reply to the bot's
//! message about a ticket goes to that ticket (even when another is newer);
//! a message within the desk's reopening window after a resolution reopens
//! the ticket (counted as a reopening); a later one opens a new ticket.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, Tenant, spawn_app};

on_both!(a_reply_to_the_bots_message_about_a_ticket_goes_to_that_ticket, a_message_in_the_reopening_window_reopens_the_ticket_and_a_later_one_opens_a_new_one,);

/// A customer's message replying to the bot's message `replied` (as
/// Telegram sends it: `reply_to_message` with the bot as its author).
fn reply(update_id: i64, customer: i64, text: &str, replied: i64, replied_text: &str) -> Value {
    let mut v = fixtures::message(update_id, customer, text);
    v["message"]["reply_to_message"] = json!({
        "message_id": replied,
        "date": 1_700_000_000,
        "chat": { "id": customer, "type": "private", "first_name": "Ann" },
        "from": { "id": 700_001, "is_bot": true, "first_name": "acme_bot", "username": "acme_bot" },
        "text": replied_text
    });
    v
}

/// The Telegram id of the bot's last message to `chat` whose text holds `needle`.
fn sent_id(app: &TestApp, t: &Tenant, chat: i64, needle: &str) -> i64 {
    app.fake
        .sends_to(&t.token, chat)
        .into_iter()
        .rev()
        .find(|c| c.ok && c.text().is_some_and(|x| x.contains(needle)))
        .and_then(|c| c.result.and_then(|r| r["message_id"].as_i64()))
        .unwrap_or_else(|| panic!("nothing with {needle:?} was sent to {chat}: {:?}", app.fake.sent_to(&t.token, chat)))
}

async fn texts_of(app: &TestApp, token: &str, ticket: i64) -> Vec<String> {
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{ticket}/messages"), token).await;
    msgs["items"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

async fn a_reply_to_the_bots_message_about_a_ticket_goes_to_that_ticket(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let ann = 851;
    app.deliver(&t, &fixtures::message(1, ann, "My parcel is lost")).await;
    app.wait_processed("acme", 1).await;
    app.wait_outbox_settled("acme").await;
    let opened = sent_id(&app, &t, ann, "#1");
    // A second ticket, newer: plain messages go there.
    let token = app.sign_in(&t, ann).await;
    let (s, second) = app.tenant_post("acme", "/tickets", &token, json!({ "title": "Invoice address", "description": "Please change it" })).await;
    assert_eq!(s, 201, "{second}");
    let second = second["id"].as_i64().unwrap();
    app.deliver(&t, &fixtures::message(2, ann, "It is Baker Street 221b")).await;
    app.wait_processed("acme", 2).await;
    assert_eq!(texts_of(&app, &token, second).await.last().map(String::as_str), Some("It is Baker Street 221b"));

    // A reply to the bot's message about #1 goes to #1.
    app.deliver(&t, &reply(3, ann, "The tracking number is 123", opened, "Ticket #1 is open")).await;
    app.wait_processed("acme", 3).await;
    assert_eq!(texts_of(&app, &token, 1).await, ["My parcel is lost", "The tracking number is 123"]);
    // So does a reply to a staff answer on #1.
    let owner = app.sign_in(&t, t.owner).await;
    let (s, _) = app.tenant_post("acme", "/tickets/1/messages", &owner, json!({ "text": "Which courier?" })).await;
    assert_eq!(s, 201);
    app.wait_outbox_settled("acme").await;
    let answered = sent_id(&app, &t, ann, "Which courier?");
    app.deliver(&t, &reply(4, ann, "DHL", answered, "Which courier?")).await;
    app.wait_processed("acme", 4).await;
    assert_eq!(texts_of(&app, &token, 1).await.last().map(String::as_str), Some("DHL"));
    assert_eq!(texts_of(&app, &token, second).await.len(), 2, "the newer ticket got nothing more");
    // A reply to a bot message that is about no ticket (the welcome) is a
    // plain message.
    app.deliver(&t, &fixtures::message(5, ann, "/start")).await;
    app.wait_processed("acme", 5).await;
    app.wait_outbox_settled("acme").await;
    let welcome = app.fake.sends_to(&t.token, ann).into_iter().rev().find(|c| c.ok).and_then(|c| c.result).and_then(|r| r["message_id"].as_i64()).unwrap();
    app.deliver(&t, &reply(6, ann, "Thanks", welcome, "Welcome")).await;
    app.wait_processed("acme", 6).await;
    let (_, list) = app.tenant_get("acme", "/tickets", &token).await;
    assert_eq!(list["total"], 2, "{list}");
}

async fn a_message_in_the_reopening_window_reopens_the_ticket_and_a_later_one_opens_a_new_one(b: Backend) {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
    use tikethet_runtime::storage::entities::tickets;
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 2).await;
    let owner = app.sign_in(&t, t.owner).await;
    let ben = 861;
    let (_, settings) = app.tenant_get("acme", "/settings/conversations", &owner).await;
    assert_eq!(settings, json!({ "reopen_days": 3 }), "three days unless the desk chooses");
    app.deliver(&t, &fixtures::message(1, ben, "The app crashes")).await;
    app.wait_processed("acme", 1).await;
    let resolve = |id: i64| {
        let (app, owner) = (&app, &owner);
        async move {
            let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{id}"), owner, Some(json!({ "status": "resolved" }))).await;
            assert_eq!(s, 200, "{body}");
        }
    };
    resolve(1).await;

    // Within the window: the same ticket, open again, and counted.
    app.deliver(&t, &fixtures::message(2, ben, "It crashes again")).await;
    app.wait_processed("acme", 2).await;
    let (_, one) = app.tenant_get("acme", "/tickets/1", &owner).await;
    assert_eq!(one["status"], "open", "{one}");
    let (_, list) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(list["total"], 1, "no new ticket: {list}");
    let (_, log) = app.tenant_get("acme", "/audit?action=ticket.reopened", &owner).await;
    assert_eq!(log["items"][0]["detail"], "resolved → open by the customer's message", "{log}");

    // Resolved again, five days ago: past the window, a new ticket.
    resolve(1).await;
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    tickets::Entity::update_many()
        .col_expr(tickets::Column::ResolvedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::days(5)))
        .filter(tickets::Column::Id.eq(1))
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    app.deliver(&t, &fixtures::message(3, ben, "Another question")).await;
    app.wait_processed("acme", 3).await;
    let (_, list) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(list["total"], 2, "{list}");
    let (_, one) = app.tenant_get("acme", "/tickets/1", &owner).await;
    assert_eq!(one["status"], "resolved");

    // A desk that chooses 0 days: every message after a resolution opens a new ticket.
    let (s, set) = app.tenant_call(Method::PUT, "acme", "/settings/conversations", &owner, Some(json!({ "reopen_days": 0 }))).await;
    assert_eq!((s, &set), (200, &json!({ "reopen_days": 0 })));
    assert_eq!(app.tenant_call(Method::PUT, "acme", "/settings/conversations", &owner, Some(json!({ "reopen_days": 91 }))).await.0, 400);
    resolve(2).await;
    app.deliver(&t, &fixtures::message(4, ben, "One more thing")).await;
    app.wait_processed("acme", 4).await;
    let (_, list) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(list["total"], 3, "{list}");
}
