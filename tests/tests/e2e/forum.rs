//! The staff group: a forum supergroup linked with `/staffgroup`, where each
//! ticket gets a topic (`createForumTopic`), the customer's messages appear
//! in it (`message_thread_id`), their photos and documents too, and a staff
//! member's message in the topic goes back to the customer; the topic's
//! name shows the ticket's status, it closes and reopens with the ticket,
//! and `/resolve` and `/assign @username` work in it.

use std::time::Duration;

use serde_json::Value;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, Tenant, spawn_app, wait_for, wait_until};

on_both!(a_ticket_gets_a_forum_topic_and_a_reply_written_there_reaches_the_customer, a_topic_shows_its_tickets_status_and_takes_resolve_and_assign,);

const GROUP: i64 = -1_001_234_567_890;
const PNG: &[u8] = include_bytes!("../../fixtures/screenshot.png");
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn from(mut v: Value, username: &str, first_name: &str) -> Value {
    v["message"]["from"]["username"] = username.into();
    v["message"]["from"]["first_name"] = first_name.into();
    v["message"]["from"]["last_name"] = Value::Null;
    v
}

/// Waits for a message to `chat` that contains `needle`.
async fn told(app: &TestApp, t: &Tenant, chat: i64, needle: &str) -> String {
    wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, chat).into_iter().find(|m| m.contains(needle)) })
        .await
        .unwrap_or_else(|| panic!("{chat} was not told {needle:?}; it got {:?}", app.fake.sent_to(&t.token, chat)))
}

/// Waits for the topic `thread` to hold `n` posts.
async fn topic_posts(app: &TestApp, t: &Tenant, thread: i64, n: usize) -> Vec<String> {
    wait_until(Duration::from_secs(10), || Some(app.fake.sent_to_topic(&t.token, GROUP, thread)).filter(|p| p.len() >= n))
        .await
        .unwrap_or_else(|| panic!("topic {thread} did not get {n} posts: {:?}", app.fake.sent_to_topic(&t.token, GROUP, thread)))
}

async fn a_ticket_gets_a_forum_topic_and_a_reply_written_there_reaches_the_customer(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let (carl, stranger) = (801, 802);
    app.fake.add_forum(&t.token, GROUP);
    app.deliver(&t, &from(fixtures::message(1, t.owner, "/start"), "boss_acme", "Olga")).await;
    app.deliver(&t, &from(fixtures::message(2, carl, "/start"), "carl_c", "Carl")).await;
    for i in 1..=2 {
        app.wait_processed("acme", i).await;
    }

    // Linking is for admins, and only a group with topics will do.
    app.deliver(&t, &from(fixtures::group_message(3, GROUP, carl, "/staffgroup", true), "carl_c", "Carl")).await;
    told(&app, &t, GROUP, "Only the desk's admins and owner can link a staff group.").await;
    let plain = -1_009_999;
    app.deliver(&t, &from(fixtures::group_message(4, plain, t.owner, "/staffgroup@acme_bot", false), "boss_acme", "Olga")).await;
    told(&app, &t, plain, "Turn on topics for this group first").await;
    app.deliver(&t, &from(fixtures::group_message(5, GROUP, t.owner, "/staffgroup", true), "boss_acme", "Olga")).await;
    told(&app, &t, GROUP, "This group is now the staff room of acme Support").await;
    assert!(app.fake.topics(&t.token, GROUP).is_empty(), "no topic before a ticket");

    // A new ticket: its topic is made, and opens with the customer's words.
    app.deliver(&t, &from(fixtures::message(6, carl, "My parcel is lost"), "carl_c", "Carl")).await;
    let topics = wait_until(Duration::from_secs(10), || Some(app.fake.topics(&t.token, GROUP)).filter(|t| !t.is_empty())).await.expect("a topic for ticket #1");
    let (thread, name) = topics[0].clone();
    assert_eq!(name, "#1 My parcel is lost");
    let posts = topic_posts(&app, &t, thread, 1).await;
    assert!(posts[0].starts_with("🆕 #1 My parcel is lost\nFrom Carl (@carl_c):\nMy parcel is lost"), "{posts:?}");
    // Made once, before its first post, with the topic's thread on every post.
    let made = app.fake.calls(Some("createForumTopic"));
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].at <= app.fake.sends_to(&t.token, GROUP).iter().find(|c| c.thread_id() == Some(thread)).unwrap().at);

    // The customer writes again: into the same topic.
    app.deliver(&t, &from(fixtures::message(7, carl, "It was a gift."), "carl_c", "Carl")).await;
    let posts = topic_posts(&app, &t, thread, 2).await;
    assert_eq!(posts[1], "💬 Carl:\nIt was a gift.");

    // The owner answers in the topic: the customer gets it, the ticket waits for them.
    app.deliver(&t, &from(fixtures::topic_message(8, GROUP, thread, t.owner, "Found it: it ships tomorrow."), "boss_acme", "Olga")).await;
    told(&app, &t, carl, "💬 #1: Found it: it ships tomorrow.").await;
    // A note in the topic stays with staff; a stranger in the group is not staff.
    app.deliver(&t, &from(fixtures::topic_message(9, GROUP, thread, t.owner, "/note check the warehouse@acme first"), "boss_acme", "Olga")).await;
    app.deliver(&t, &from(fixtures::topic_message(10, GROUP, thread, stranger, "I am not staff"), "eve_x", "Eve")).await;
    app.wait_processed("acme", 9).await;
    let stranger_row = app.wait_processed("acme", 10).await;
    assert_eq!(stranger_row.status, "ignored");
    let owner = app.sign_in(&t, t.owner).await;
    let (s, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    assert_eq!(s, 200, "{msgs}");
    let msgs: Vec<(String, bool, String)> = msgs["items"]
        .as_array()
        .unwrap_or_else(|| msgs.as_array().expect("messages"))
        .iter()
        .map(|m| (m["text"].as_str().unwrap().to_owned(), m["internal"].as_bool().unwrap(), m["author_role"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let texts: Vec<&str> = msgs.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(texts, ["My parcel is lost", "It was a gift.", "Found it: it ships tomorrow.", "check the warehouse@acme first"], "{msgs:?}");
    assert!(!msgs[2].1 && msgs[3].1, "the reply is public, the note internal: {msgs:?}");
    let (_, ticket) = app.tenant_get("acme", "/tickets/1", &owner).await;
    assert_eq!(ticket["status"], "waiting_response", "{ticket}");

    // A reply from the console or the API is copied into the topic.
    let (s, body) = app.tenant_post("acme", "/tickets/1/messages", &owner, serde_json::json!({"text": "Tracking number: 42."})).await;
    assert_eq!(s, 201, "{body}");
    told(&app, &t, carl, "Tracking number: 42.").await;
    let posts = topic_posts(&app, &t, thread, 3).await;
    // (Signing in to the API as the test does names the owner "Owner".)
    assert_eq!(posts[2], "↩️ Owner answered:\nTracking number: 42.");

    // Someone deletes the topic: the next message opens a new one.
    app.fake.delete_topic(&t.token, GROUP, thread);
    app.deliver(&t, &from(fixtures::message(11, carl, "Thanks!"), "carl_c", "Carl")).await;
    let topics = wait_until(Duration::from_secs(15), || Some(app.fake.topics(&t.token, GROUP)).filter(|t| !t.is_empty())).await.expect("a new topic");
    let (again, name) = topics[0].clone();
    assert!(again != thread && name == "#1 My parcel is lost", "{topics:?}");
    assert_eq!(topic_posts(&app, &t, again, 1).await, ["💬 Carl:\nThanks!"]);

    // A photo with a caption: the words, then the photo, in the topic; a
    // document alone: just the document.
    let (photo, unique) = app.fake.add_file(&t.token, "box.png", PNG, true);
    app.deliver(&t, &from(fixtures::photo(14, carl, &photo, &unique, PNG.len(), Some("Here is the box")), "carl_c", "Carl")).await;
    let (doc, doc_unique) = app.fake.add_file(&t.token, "receipt.pdf", PDF, false);
    app.deliver(&t, &from(fixtures::document(15, carl, &doc, &doc_unique, "receipt.pdf", "application/pdf", PDF.len()), "carl_c", "Carl")).await;
    let in_topic = |method: &str| app.fake.calls(Some(method)).into_iter().filter(|c| c.ok && c.chat_id() == Some(GROUP) && c.thread_id() == Some(again)).count();
    let both = wait_until(Duration::from_secs(15), || (in_topic("sendPhoto") == 1 && in_topic("sendDocument") == 1).then_some(())).await;
    assert!(both.is_some(), "the files did not reach the topic: {:?}", app.fake.calls(None).iter().map(|c| (c.method.clone(), c.ok)).collect::<Vec<_>>());
    assert_eq!(topic_posts(&app, &t, again, 2).await, ["💬 Carl:\nThanks!", "💬 Carl:\nHere is the box"], "no empty post for the document");
    let (photo_at, words_at) = (
        app.fake.calls(Some("sendPhoto")).into_iter().find(|c| c.chat_id() == Some(GROUP)).unwrap().at,
        app.fake.sends_to(&t.token, GROUP).into_iter().find(|c| c.text() == Some("💬 Carl:\nHere is the box")).unwrap().at,
    );
    assert!(words_at <= photo_at, "the words come before the photo");

    app.wait_outbox_settled("acme").await;
    let to_carl = app.fake.sent_to(&t.token, carl);
    assert!(to_carl.iter().all(|m| !m.contains("warehouse") && !m.contains("not staff")), "staff talk stays in the group: {to_carl:?}");

    // Unlinked: new tickets stay out of the group.
    app.deliver(&t, &from(fixtures::group_message(12, GROUP, t.owner, "/staffgroup off", true), "boss_acme", "Olga")).await;
    told(&app, &t, GROUP, "This group no longer receives tickets.").await;
    app.deliver(&t, &from(fixtures::message(13, 803, "Another question"), "dina_d", "Dina")).await;
    app.wait_processed("acme", 13).await;
    app.wait_outbox_settled("acme").await;
    assert_eq!(app.fake.calls(Some("createForumTopic")).len(), 2, "no topic for a ticket after unlinking");
}

async fn a_topic_shows_its_tickets_status_and_takes_resolve_and_assign(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 2).await;
    let carl = 811;
    app.fake.add_forum(&t.token, GROUP);
    app.deliver(&t, &from(fixtures::message(1, t.owner, "/start"), "boss_acme", "Olga")).await;
    app.deliver(&t, &from(fixtures::group_message(2, GROUP, t.owner, "/staffgroup", true), "boss_acme", "Olga")).await;
    told(&app, &t, GROUP, "This group is now the staff room").await;
    app.deliver(&t, &from(fixtures::message(3, carl, "My parcel is lost"), "carl_c", "Carl")).await;
    let topics = wait_until(Duration::from_secs(15), || Some(app.fake.topics(&t.token, GROUP)).filter(|t| !t.is_empty())).await.expect("a topic");
    let thread = topics[0].0;
    topic_posts(&app, &t, thread, 1).await;
    let in_topic = |update: i64, text: &str| from(fixtures::topic_message(update, GROUP, thread, t.owner, text), "boss_acme", "Olga");

    // /assign: to a staff member by username; anyone else is refused there.
    app.deliver(&t, &in_topic(4, "/assign @nobody_here")).await;
    app.deliver(&t, &in_topic(5, "/assign @boss_acme")).await;
    let posts = topic_posts(&app, &t, thread, 3).await;
    assert_eq!(posts[1..], ["⚠️ Not done: @nobody_here is not a staff member of this desk", "👤 Olga gave the ticket to Olga."], "{posts:?}");
    let owner = app.sign_in(&t, t.owner).await;
    let (_, me) = app.tenant_get("acme", "/auth/me", &owner).await;
    let (_, one) = app.tenant_get("acme", "/tickets/1", &owner).await;
    assert_eq!(one["assignee_id"], me["id"], "{one}");

    // /resolve: resolved as from the console, the customer told; the topic
    // is renamed with the status and closed.
    app.deliver(&t, &in_topic(6, "/resolve")).await;
    topic_posts(&app, &t, thread, 4).await;
    let (_, one) = app.tenant_get("acme", "/tickets/1", &owner).await;
    assert_eq!(one["status"], "resolved");
    told(&app, &t, carl, "#1").await;
    let closed = wait_until(Duration::from_secs(15), || {
        let name = app.fake.topics(&t.token, GROUP).into_iter().find(|(id, _)| *id == thread)?.1;
        (name == "✅ #1 My parcel is lost" && app.fake.topic_closed(&t.token, GROUP, thread)).then_some(())
    })
    .await;
    assert!(closed.is_some(), "the topic: {:?}, closed: {}", app.fake.topics(&t.token, GROUP), app.fake.topic_closed(&t.token, GROUP, thread));

    // The customer writes again (within the reopening window): the ticket
    // and its topic open again, under its plain name.
    app.deliver(&t, &from(fixtures::message(7, carl, "It is still not here"), "carl_c", "Carl")).await;
    let reopened = wait_until(Duration::from_secs(15), || {
        let name = app.fake.topics(&t.token, GROUP).into_iter().find(|(id, _)| *id == thread)?.1;
        (name == "#1 My parcel is lost" && !app.fake.topic_closed(&t.token, GROUP, thread)).then_some(())
    })
    .await;
    assert!(reopened.is_some(), "the topic: {:?}, closed: {}", app.fake.topics(&t.token, GROUP), app.fake.topic_closed(&t.token, GROUP, thread));
    let (_, one) = app.tenant_get("acme", "/tickets/1", &owner).await;
    assert_eq!(one["status"], "open");
}
