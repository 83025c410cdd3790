//! Customers: a page per customer (tickets, ratings, notes, attributes),
//! the list searched, and staff reaching out: a conversation opened only
//! with someone who started the bot and has not blocked it, refused with
//! the reason otherwise; and staff writing on a resolved ticket.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, csrf_in, no_redirects, spawn_app, wait_for};

on_both!(staff_reach_customers_who_started_the_bot_and_keep_notes_and_attributes_about_them);

async fn staff_reach_customers_who_started_the_bot_and_keep_notes_and_attributes_about_them(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    // Carl wrote to the bot; Mia only opened the Mini App; Ben wrote, then
    // blocked the bot.
    app.deliver(&t, &fixtures::message(1, 801, "Where is my parcel?")).await;
    app.deliver(&t, &fixtures::message(2, 803, "Hello")).await;
    app.wait_processed("acme", 2).await;
    let opened = app.wait_sent(&t, 801, 1).await.len();
    let _mia = app.sign_in(&t, 802).await;
    let (_, users) = app.tenant_get("acme", "/users?role=user", &owner).await;
    let id_of = |tg: i64| users["items"].as_array().unwrap().iter().find(|u| u["telegram_id"] == tg).unwrap_or_else(|| panic!("{tg} in {users}"))["id"].as_i64().unwrap();
    let (carl, mia, ben) = (id_of(801), id_of(802), id_of(803));
    let (_, c) = app.tenant_get("acme", &format!("/users/{carl}"), &owner).await;
    assert!(c["bot_started_at"].is_string() && c["bot_blocked_at"].is_null(), "{c}");

    // Opening a conversation: with Carl; not with Mia (never started the
    // bot) nor, once Telegram said so, with Ben.
    let reach = async |who: i64, text: &str| app.tenant_post("acme", &format!("/users/{who}/tickets"), &owner, json!({ "title": "Your parcel", "text": text })).await;
    let (s, ticket) = reach(carl, "Your parcel left the warehouse today.").await;
    assert_eq!(s, 201, "{ticket}");
    let (_, me) = app.tenant_get("acme", "/auth/me", &owner).await;
    assert_eq!((&ticket["customer_id"], &ticket["assignee_id"], &ticket["status"]), (&json!(carl), &me["id"], &json!("waiting_response")), "{ticket}");
    let sent = app.wait_sent(&t, 801, opened + 1).await;
    assert!(sent[opened].contains("Your parcel left the warehouse today."), "{sent:?}");
    let (s, refused) = reach(mia, "Hi").await;
    assert_eq!(s, 409, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("has not started a chat with the bot"), "{refused}");
    app.fake.block(&t.token, 803);
    let (s, first) = reach(ben, "Are you there?").await;
    assert_eq!(s, 201, "the desk does not know yet: {first}");
    let known = wait_for(Duration::from_secs(10), || async {
        let (_, u) = app.tenant_get("acme", &format!("/users/{ben}"), &owner).await;
        u["bot_blocked_at"].is_string().then_some(u)
    })
    .await;
    assert!(known.is_some(), "Telegram's refusal is noted on the person");
    let (s, refused) = reach(ben, "Again?").await;
    assert!(s == 409 && refused["error"]["message"].as_str().unwrap().contains("blocked the bot"), "{refused}");
    // A customer only: staff are not reached this way.
    let (s, _) = app.tenant_post("acme", &format!("/users/{}/tickets", me["id"]), &owner, json!({ "title": "x", "text": "y" })).await;
    assert_eq!(s, 400);

    // Staff write on a resolved ticket: it reaches the customer.
    let tid = ticket["id"].as_i64().unwrap();
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{tid}"), &owner, Some(json!({ "status": "resolved" }))).await.0, 200);
    let (s, m) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &owner, json!({ "text": "One more thing: it arrives Friday." })).await;
    assert_eq!(s, 201, "{m}");
    let said = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, 801).into_iter().find(|m| m.contains("it arrives Friday")) }).await;
    assert!(said.is_some(), "{:?}", app.fake.sent_to(&t.token, 801));

    // Notes and attributes (moderators and up).
    let (s, note) = app.tenant_post("acme", &format!("/users/{carl}/notes"), &owner, json!({ "text": "Prefers mornings." })).await;
    assert_eq!(s, 201, "{note}");
    let (_, notes) = app.tenant_get("acme", &format!("/users/{carl}/notes"), &owner).await;
    assert_eq!(notes["items"][0]["text"], "Prefers mornings.", "{notes}");
    let (s, u) = app.tenant_call(Method::PUT, "acme", &format!("/users/{carl}/attributes"), &owner, Some(json!({ "attributes": { "plan": "gold", "order": "A-1042" } }))).await;
    assert_eq!((s, &u["attributes"]), (200, &json!({ "order": "A-1042", "plan": "gold" })), "{u}");
    assert_eq!(app.tenant_call(Method::PUT, "acme", &format!("/users/{carl}/attributes"), &owner, Some(json!({ "attributes": { "Bad Name": "x" } }))).await.0, 400);
    let customer_token = app.sign_in(&t, 802).await;
    assert_eq!(app.tenant_get("acme", &format!("/users/{carl}/notes"), &customer_token).await.0, 403);

    // The console: the list searched, the page, a note, attributes, and
    // Mia's page saying why she cannot be written to.
    let http = no_redirects();
    let cookie = app.console_cookie(&t, t.owner).await;
    let get = async |path: &str| http.get(app.url(&format!("/t/acme/admin{path}"))).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let list = get("/customers?q=Test").await;
    assert!(list.contains(&format!("/customers/{carl}\"")), "{list}");
    let none = get("/customers?q=zzzz").await;
    assert!(none.contains("No customer matches."), "{none}");
    let page = get(&format!("/customers/{carl}")).await;
    assert!(page.contains("Your parcel") && page.contains("Prefers mornings.") && page.contains("plan=gold") && page.contains(r#"data-testid="reach-out""#), "{page}");
    let post = async |path: &str, form: &[(&str, &str)]| {
        let mut f = vec![("csrf", csrf_in(&page))];
        f.extend(form.iter().map(|(k, v)| (*k, v.to_string())));
        let res = http.post(app.url(&format!("/t/acme/admin{path}"))).header("cookie", &cookie).form(&f).send().await.unwrap();
        (res.status().as_u16(), res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()), res.text().await.unwrap())
    };
    let (s, to, _) = post(&format!("/customers/{carl}/notes"), &[("text", "Called back at 9.")]).await;
    assert_eq!((s, to), (303, Some(format!("/t/acme/admin/customers/{carl}?done=noted"))));
    let (s, _, body) = post(&format!("/customers/{carl}/attributes"), &[("attributes", "no equals")]).await;
    assert!(s == 400 && body.contains("is not name=value"), "{body}");
    let (s, _, _) = post(&format!("/customers/{carl}/attributes"), &[("attributes", "plan=silver\ntier=2")]).await;
    assert_eq!(s, 303);
    let (_, u) = app.tenant_get("acme", &format!("/users/{carl}"), &owner).await;
    assert_eq!(u["attributes"], json!({ "plan": "silver", "tier": "2" }), "{u}");
    let (s, to, _) = post(&format!("/customers/{carl}/reach"), &[("title", "Survey"), ("text", "How did we do?")]).await;
    assert_eq!(s, 303, "{to:?}");
    assert!(to.unwrap().contains("/tickets/"), "on to the new ticket");
    let mia_page = get(&format!("/customers/{mia}")).await;
    assert!(mia_page.contains(r#"data-testid="unreachable""#) && !mia_page.contains(r#"data-testid="reach-out""#), "{mia_page}");
    let ticket_page = get(&format!("/tickets/{tid}")).await;
    assert!(ticket_page.contains(&format!(r#"admin/customers/{carl}" data-testid="customer-link""#)), "linked from the ticket: {ticket_page}");

    let (_, log) = app.tenant_get("acme", "/audit?action=customer.", &owner).await;
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"customer.noted") && actions.contains(&"customer.attributes"), "{actions:?}");
    let (_, log) = app.tenant_get("acme", "/audit?action=ticket.opened_by_staff", &owner).await;
    assert_eq!(log["items"].as_array().map(Vec::len), Some(3), "Carl twice, Ben once: {log}");
}
