//! Edits and deletions both ways: a customer's edit in Telegram updates the
//! desk's copy (the text before kept, "edited" shown); a staff member's
//! edit reaches the customer's chat with `editMessageText` and a deletion
//! with `deleteMessage`, within Telegram's 48 hours, with a clear refusal
//! past them.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, Tenant, spawn_app, wait_until};

on_both!(a_customers_edit_in_telegram_updates_the_desks_copy_and_keeps_the_text_before, a_staff_edit_and_deletion_reach_the_customers_chat,);

/// The customer's edit of their message `message_id`, as Telegram sends it.
fn edited(update_id: i64, customer: i64, message_id: i64, text: &str) -> Value {
    let mut v = fixtures::message(update_id, customer, text);
    let mut m = v["message"].take();
    m["message_id"] = message_id.into();
    m["edit_date"] = 1_700_000_600.into();
    json!({ "update_id": update_id, "edited_message": m })
}

async fn a_customers_edit_in_telegram_updates_the_desks_copy_and_keeps_the_text_before(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let ann = 871;
    // The fixture's message_id is the update's id.
    app.deliver(&t, &fixtures::message(11, ann, "My order 1042 is late")).await;
    app.wait_processed("acme", 11).await;
    app.deliver(&t, &edited(12, ann, 11, "My order 1043 is late")).await;
    let row = app.wait_processed("acme", 12).await;
    assert_eq!(row.status, "done", "{:?}", row.error);
    let owner = app.sign_in(&t, t.owner).await;
    let (_, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    let m = &msgs["items"][0];
    assert_eq!(m["text"], "My order 1043 is late", "{msgs}");
    assert!(m["edited_at"].is_string(), "{m}");
    assert_eq!(m["revisions"].as_array().unwrap().iter().map(|r| r["text"].clone()).collect::<Vec<_>>(), [json!("My order 1042 is late")]);
    // Searched by its new words.
    let (_, hits) = app.tenant_get("acme", "/tickets?q=1043", &owner).await;
    assert_eq!(hits["total"], 1, "{hits}");
    // An edit of a message the desk never kept changes nothing.
    app.deliver(&t, &edited(13, ann, 999, "something else")).await;
    assert_eq!(app.wait_processed("acme", 13).await.status, "ignored");
    let (_, log) = app.tenant_get("acme", "/audit?action=message.edited", &owner).await;
    assert_eq!(log["items"].as_array().map(Vec::len), Some(1), "{log}");
    assert!(log["items"][0]["detail"].as_str().unwrap().contains("by the customer in Telegram"), "{log}");
    // Staff see it as edited on the ticket page, with the text before.
    let cookie = app.console_cookie(&t, t.owner).await;
    let page = app.http.get(app.url("/t/acme/admin/tickets/1")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-testid="edited""#) && page.contains("My order 1042 is late"), "the page shows the edit");
}

/// The Telegram id of the bot's message to `chat` whose text holds `needle`.
fn sent_id(app: &TestApp, t: &Tenant, chat: i64, needle: &str) -> i64 {
    app.fake
        .sends_to(&t.token, chat)
        .into_iter()
        .find(|c| c.ok && c.text().is_some_and(|x| x.contains(needle)))
        .and_then(|c| c.result.and_then(|r| r["message_id"].as_i64()))
        .unwrap_or_else(|| panic!("nothing with {needle:?} was sent to {chat}"))
}

async fn a_staff_edit_and_deletion_reach_the_customers_chat(b: Backend) {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
    use tikethet_runtime::storage::entities::outbox;
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 2).await;
    let ben = 881;
    app.deliver(&t, &fixtures::message(1, ben, "Where is my refund?")).await;
    app.wait_processed("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, m) = app.tenant_post("acme", "/tickets/1/messages", &owner, json!({ "text": "Your refund is on its way" })).await;
    assert_eq!(s, 201, "{m}");
    let mid = m["id"].as_i64().unwrap();
    app.wait_outbox_settled("acme").await;
    let sent = sent_id(&app, &t, ben, "Your refund is on its way");

    // Edited in the desk: edited in the customer's chat, rendered as sent.
    let (s, e) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/1/messages/{mid}"), &owner, Some(json!({ "text": "Your refund was sent today" }))).await;
    assert_eq!(s, 200, "{e}");
    let shown = wait_until(Duration::from_secs(10), || {
        app.fake.message_in(&t.token, ben, sent).and_then(|m| m["text"].as_str().map(str::to_owned)).filter(|x| x.contains("sent today"))
    })
    .await
    .expect("the customer's chat shows the edit");
    assert!(shown.contains("#1") && !shown.contains("on its way"), "{shown}");
    let edits = app.fake.calls(Some("editMessageText"));
    assert_eq!((edits.len(), edits[0].ok, edits[0].params["message_id"].as_i64()), (1, true, Some(sent)));

    // Deleted in the desk: gone from the customer's chat.
    let (s, d) = app.tenant_call(Method::DELETE, "acme", &format!("/tickets/1/messages/{mid}"), &owner, None).await;
    assert_eq!((s, d["deleted"].as_bool()), (200, Some(true)), "{d}");
    let gone = wait_until(Duration::from_secs(10), || app.fake.message_in(&t.token, ben, sent).is_none().then_some(())).await;
    assert!(gone.is_some(), "the answer is still in the customer's chat");

    // An answer sent three days ago: Telegram no longer lets the bot delete
    // it, which is said before anything changes.
    let (_, old) = app.tenant_post("acme", "/tickets/1/messages", &owner, json!({ "text": "Anything else?" })).await;
    let old_id = old["id"].as_i64().unwrap();
    app.wait_outbox_settled("acme").await;
    let old_sent = sent_id(&app, &t, ben, "Anything else?");
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    outbox::Entity::update_many()
        .col_expr(outbox::Column::SentAt, sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::days(3)))
        .filter(outbox::Column::MessageId.eq(old_id))
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let (s, e) = app.tenant_call(Method::DELETE, "acme", &format!("/tickets/1/messages/{old_id}"), &owner, None).await;
    assert_eq!(s, 409, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("48 hours"), "{e}");
    let (_, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    assert!(msgs["items"].as_array().unwrap().iter().any(|m| m["id"] == old_id && m["deleted"] == false), "nothing changed: {msgs}");
    let (s, d) = app.tenant_call(Method::DELETE, "acme", &format!("/tickets/1/messages/{old_id}?desk_only=true"), &owner, None).await;
    assert_eq!((s, d["deleted"].as_bool()), (200, Some(true)), "{d}");
    app.wait_outbox_settled("acme").await;
    assert!(app.fake.message_in(&t.token, ben, old_sent).is_some(), "the customer's chat keeps it");
    assert_eq!(app.fake.calls(Some("deleteMessage")).len(), 1, "only the first answer was deleted in Telegram");
}
