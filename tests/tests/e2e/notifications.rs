//! Notifications through the tenant's bot: a new ticket reaches the staff
//! who see every ticket within five seconds, an assignment the assignee, a
//! customer's message the assignee, an @mention in a note the one
//! mentioned, a status change the customer; nobody is told of their own
//! doing, and notes never reach customers.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, Tenant, spawn_app, wait_for};

on_both!(staff_and_customers_hear_of_what_concerns_them_through_the_bot, staff_commands_stats_and_role_follow_the_desks_rules,);

/// A message from a Telegram user with a username of their own.
fn message_from(update_id: i64, user: i64, username: &str, first_name: &str, text: &str) -> Value {
    let mut v = fixtures::message(update_id, user, text);
    v["message"]["from"]["username"] = username.into();
    v["message"]["from"]["first_name"] = first_name.into();
    v["message"]["from"]["last_name"] = Value::Null;
    v
}

/// Waits for a message to `chat` that contains `needle`.
async fn told(app: &TestApp, t: &Tenant, chat: i64, needle: &str, within: Duration) -> String {
    wait_for(within, || async { app.fake.sent_to(&t.token, chat).into_iter().find(|m| m.contains(needle)) })
        .await
        .unwrap_or_else(|| panic!("{chat} was not told {needle:?}; it got {:?}", app.fake.sent_to(&t.token, chat)))
}

async fn staff_and_customers_hear_of_what_concerns_them_through_the_bot(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let (ann, customer) = (901, 801);
    // The owner and Ann (made an admin) opened the Mini App and talked to
    // the bot (which keeps the names and usernames of their last message).
    let owner = app.sign_in(&t, t.owner).await;
    let ann_token = app.sign_in(&t, ann).await;
    app.deliver(&t, &message_from(1, t.owner, "boss_acme", "Olga", "/start")).await;
    app.deliver(&t, &message_from(2, ann, "ann_agent", "Ann", "/start")).await;
    app.wait_processed("acme", 1).await;
    app.wait_processed("acme", 2).await;
    let (_, users) = app.tenant_get("acme", "/users?limit=100", &owner).await;
    let ann_id = users["items"].as_array().unwrap().iter().find(|u| u["telegram_id"] == ann).unwrap()["id"].as_i64().unwrap();
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{ann_id}"), &owner, Some(json!({"role": "admin"}))).await;
    assert_eq!(s, 200, "{body}");

    // A new ticket: both staff within five seconds, with the console's address.
    app.deliver(&t, &message_from(3, customer, "carl_c", "Carl", "My parcel is lost")).await;
    for staff in [t.owner, ann] {
        let said = told(&app, &t, staff, "New ticket #1 from Carl: My parcel is lost", Duration::from_secs(5)).await;
        assert!(said.ends_with("/t/acme/admin/tickets/1"), "the console's page of the ticket: {said}");
    }

    // Assigned by the owner: Ann is told, the owner is not.
    let (s, body) = app.tenant_call(Method::PATCH, "acme", "/tickets/1", &owner, Some(json!({"assignee_id": ann_id}))).await;
    assert_eq!(s, 200, "{body}");
    told(&app, &t, ann, "Ticket #1 is assigned to you by Olga: My parcel is lost", Duration::from_secs(10)).await;

    // The customer writes again: the assignee hears it.
    app.deliver(&t, &message_from(4, customer, "carl_c", "Carl", "Any news? It was a gift.")).await;
    told(&app, &t, ann, "Carl wrote in #1 (My parcel is lost):\nAny news? It was a gift.", Duration::from_secs(10)).await;

    // Ann's note mentions the owner: they are told, the customer is not.
    let (s, body) = app.tenant_post("acme", "/tickets/1/messages", &ann_token, json!({"text": "@boss_acme can we refund this one?", "internal": true})).await;
    assert_eq!(s, 201, "{body}");
    told(&app, &t, t.owner, "mentioned you in a note on #1 (My parcel is lost):\n@boss_acme can we refund this one?", Duration::from_secs(10)).await;

    // Resolved: the customer is told, in words.
    let (s, body) = app.tenant_call(Method::PATCH, "acme", "/tickets/1", &ann_token, Some(json!({"status": "resolved"}))).await;
    assert_eq!(s, 200, "{body}");
    told(&app, &t, customer, "Your ticket #1 (My parcel is lost) is now resolved.", Duration::from_secs(10)).await;

    app.wait_outbox_settled("acme").await;
    assert!(app.fake.sent_to(&t.token, customer).iter().all(|m| !m.contains("refund")), "the note stays inside");
    let to_ann = app.fake.sent_to(&t.token, ann);
    assert!(to_ann.iter().all(|m| !m.contains("mentioned you")), "nobody is told of their own doing: {to_ann:?}");
    let to_owner = app.fake.sent_to(&t.token, t.owner);
    assert!(to_owner.iter().all(|m| !m.contains("assigned to you")), "{to_owner:?}");
}

async fn staff_commands_stats_and_role_follow_the_desks_rules(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let (ann, carl) = (901, 801);
    app.deliver(&t, &message_from(1, t.owner, "boss_acme", "Olga", "/start")).await;
    app.deliver(&t, &message_from(2, ann, "ann_agent", "Ann", "/start")).await;
    app.deliver(&t, &message_from(3, carl, "carl_c", "Carl", "My parcel is lost")).await;
    // Three chats, three lanes: each is waited for.
    for i in 1..=3 {
        app.wait_processed("acme", i).await;
    }

    // A customer's /stats and /role are answered with the help.
    app.deliver(&t, &message_from(4, carl, "carl_c", "Carl", "/role @carl_c admin")).await;
    told(&app, &t, carl, "/help", Duration::from_secs(10)).await;

    // The owner makes Ann a helper; helpers get no /stats.
    app.deliver(&t, &message_from(5, t.owner, "boss_acme", "Olga", "/role @Ann_Agent helper")).await;
    told(&app, &t, t.owner, "@Ann_Agent is now helper.", Duration::from_secs(10)).await;
    app.deliver(&t, &message_from(6, ann, "ann_agent", "Ann", "/stats")).await;
    app.wait_processed("acme", 6).await;
    // Then a moderator, who gets the figures.
    app.deliver(&t, &message_from(7, t.owner, "boss_acme", "Olga", "/role @ann_agent moderator")).await;
    told(&app, &t, t.owner, "@ann_agent is now moderator.", Duration::from_secs(10)).await;
    app.deliver(&t, &message_from(8, ann, "ann_agent", "Ann", "/stats")).await;
    let stats = told(&app, &t, ann, "📊 acme Support now:", Duration::from_secs(10)).await;
    assert!(stats.starts_with("📊 acme Support now: 1 open, 0 in progress, 0 waiting for customers.\nLast 7 days: 1 created, 0 resolved."), "{stats}");
    assert_eq!(app.fake.sent_to(&t.token, ann).iter().filter(|m| m.contains("📊")).count(), 1, "the helper's /stats got no figures");

    // Refusals say why.
    app.deliver(&t, &message_from(9, t.owner, "boss_acme", "Olga", "/role @nobody_here admin")).await;
    told(&app, &t, t.owner, "Not changed: nobody called @nobody_here has written to this bot yet", Duration::from_secs(10)).await;
    app.deliver(&t, &message_from(10, t.owner, "boss_acme", "Olga", "/role @ann_agent emperor")).await;
    told(&app, &t, t.owner, "is not a role", Duration::from_secs(10)).await;
    app.deliver(&t, &message_from(11, ann, "ann_agent", "Ann", "/role @boss_acme user")).await;
    told(&app, &t, ann, "Not changed: only someone above the owner role may change this person", Duration::from_secs(10)).await;
    app.deliver(&t, &message_from(12, ann, "ann_agent", "Ann", "/role @carl_c moderator")).await;
    told(&app, &t, ann, "Not changed: a moderator may grant roles below their own, not moderator", Duration::from_secs(10)).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, users) = app.tenant_get("acme", "/users?limit=100", &owner).await;
    let role = |id: i64| users["items"].as_array().unwrap().iter().find(|u| u["telegram_id"] == id).unwrap()["role"].as_str().unwrap().to_owned();
    assert_eq!((role(ann), role(carl)), ("moderator".to_owned(), "user".to_owned()));
}
