//! Plans and their limits: the catalogue, the operator's overrides, usage
//! shown to the desk, and each limit enforced: a clear 402 in the API, and
//! a customer's message that is never lost (kept over the ticket limit, and
//! made a ticket once the limit lifts).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_runtime::storage::entities::inbox;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, Tenant, spawn_app, wait_for};

on_both!(
    a_message_over_the_monthly_ticket_limit_is_kept_and_becomes_a_ticket_once_the_plan_lifts_it,
    limits_are_checked_shown_and_enforced_for_agents_and_staff_replies,
);

async fn patch(app: &TestApp, slug: &str, body: Value) -> (u16, Value) {
    let res = app.operator(Method::PATCH, &format!("/api/platform/v1/tenants/{slug}"), Some(body)).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn titles(app: &TestApp, t: &Tenant, owner: &str) -> Vec<String> {
    let (s, list) = app.tenant_get(&t.slug, "/tickets?limit=100", owner).await;
    assert_eq!(s, 200, "{list}");
    list["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_owned()).collect()
}

fn line<'a>(usage: &'a Value, limit: &str) -> &'a Value {
    usage["usage"].as_array().unwrap().iter().find(|l| l["limit"] == limit).unwrap_or_else(|| panic!("no {limit} in {usage}"))
}

async fn a_message_over_the_monthly_ticket_limit_is_kept_and_becomes_a_ticket_once_the_plan_lifts_it(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant_on("acme", 1, "free").await;
    assert_eq!(t.body["plan"], "free", "{}", t.body);
    let (s, rec) = patch(&app, "acme", json!({"limits": {"tickets_per_month": 2}})).await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!((rec["limits"]["tickets_per_month"].clone(), rec["limits_overridden"].clone()), (json!(2), json!(["tickets_per_month"])), "{rec}");
    assert_eq!(rec["limits"]["agents"], 2, "the Free plan's other limits stay: {rec}");

    for (update, customer) in [(1, 501), (2, 502)] {
        app.deliver(&t, &fixtures::message(update, customer, &format!("ticket from {customer}"))).await;
        assert_eq!(app.wait_processed("acme", update).await.status, inbox::DONE);
    }
    // The third ticket of the month: kept, and the customer told politely.
    app.deliver(&t, &fixtures::message(3, 503, "my printer is on fire")).await;
    let row = app.wait_processed("acme", 3).await;
    assert_eq!(row.status, inbox::OVER_LIMIT, "{row:#?}");
    let told = app.wait_sent(&t, 503, 1).await;
    assert!(told[0].contains("your message is saved"), "{told:?}");
    let owner = app.sign_in(&t, t.owner).await;
    assert_eq!(titles(&app, &t, &owner).await.len(), 2);

    // The API refuses a new ticket with the reason; usage says why.
    let customer = app.sign_in(&t, 504).await;
    let (s, body) = app.tenant_post("acme", "/tickets", &customer, json!({"title": "via the app", "description": "x"})).await;
    assert_eq!(s, 402, "{body}");
    assert_eq!(body["error"]["code"], "plan_limit_reached", "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("Free plan allows 2 tickets a month"), "{msg}");
    let (s, usage) = app.tenant_get("acme", "/usage", &owner).await;
    assert_eq!(s, 200, "{usage}");
    assert_eq!((usage["plan"].clone(), usage["plan_name"].clone()), (json!("free"), json!("Free")), "{usage}");
    assert_eq!(line(&usage, "tickets_per_month"), &json!({"limit": "tickets_per_month", "used": 2, "allowed": 2}));
    assert_eq!(line(&usage, "messages_per_month")["used"], 2, "one message per ticket: {usage}");
    assert_eq!(line(&usage, "agents"), &json!({"limit": "agents", "used": 1, "allowed": 2}), "the owner signed in");
    let (s, _) = app.tenant_get("acme", "/usage", &customer).await;
    assert_eq!(s, 403, "a customer does not see the desk's usage");

    // A plan that allows more: the kept message becomes the third ticket,
    // in its customer's chat, without telling them again that it waits.
    let (s, rec) = patch(&app, "acme", json!({"plan": "pro", "limits": {}})).await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!((rec["plan"].clone(), rec["limits"]["tickets_per_month"].clone(), rec["limits_overridden"].clone()), (json!("pro"), json!(5000), json!([])));
    let opened = wait_for(Duration::from_secs(20), || async {
        let t3 = titles(&app, &t, &owner).await;
        t3.iter().any(|x| x == "my printer is on fire").then_some(t3)
    })
    .await
    .expect("the kept message became a ticket once the limit lifted");
    assert_eq!(opened.len(), 3, "{opened:?}");
    let sent = app.wait_sent(&t, 503, 2).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("Ticket #3 is open"), "{sent:?}");
    assert_eq!(app.inbox("acme").await.iter().find(|r| r.update_id == Some(3)).unwrap().status, inbox::DONE);
    let (s, body) = app.tenant_post("acme", "/tickets", &customer, json!({"title": "via the app", "description": "x"})).await;
    assert_eq!(s, 201, "{body}");
}

async fn limits_are_checked_shown_and_enforced_for_agents_and_staff_replies(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.operator(Method::GET, "/api/platform/v1/plans", None).await;
    assert_eq!(res.status(), 200);
    let plans: Value = res.json().await.unwrap();
    let ids: Vec<&str> = plans["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["free", "starter", "pro", "business"]);
    assert_eq!(plans["items"][0]["limits"]["tickets_per_month"], 100, "{plans}");
    assert_eq!(plans["items"][3]["limits"]["agents"], Value::Null, "Business: unlimited agents");

    // A plan that is not in the catalogue is refused before anything is made.
    let res = app
        .operator(
            Method::POST,
            "/api/platform/v1/tenants",
            Some(json!({"slug": "gold", "name": "Gold", "bot_token": tikethet_tests::helpers::bot_token(9), "owner_telegram_id": 1, "plan": "gold"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("free, starter, pro, business"), "{body}");
    assert_eq!(app.operator(Method::GET, "/api/platform/v1/tenants/gold", None).await.status(), 404);

    let t = app.create_tenant_on("acme", 1, "free").await;
    for bad in [json!({"seats": 3}), json!({"agents": -1}), json!({"agents": "3"}), json!([1])] {
        let (s, body) = patch(&app, "acme", json!({ "limits": bad })).await;
        assert_eq!(s, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    }
    let (s, body) = patch(&app, "acme", json!({"plan": "gold"})).await;
    assert_eq!((s, body["error"]["code"].clone()), (400, json!("invalid_request")), "{body}");

    // One agent (the owner) and two messages a month.
    let (s, rec) = patch(&app, "acme", json!({"limits": {"agents": 1, "messages_per_month": 2}})).await;
    assert_eq!(s, 200, "{rec}");
    let owner = app.sign_in(&t, t.owner).await;
    app.deliver(&t, &fixtures::message(1, 601, "help")).await;
    assert_eq!(app.wait_processed("acme", 1).await.status, inbox::DONE);
    let (_, me) = app.tenant_get("acme", "/tickets?limit=1", &owner).await;
    let ticket = me["items"][0]["id"].as_i64().unwrap();
    let (_, customers) = app.tenant_get("acme", "/users?role=user", &owner).await;
    let customer_id = customers["items"][0]["id"].as_i64().unwrap();
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{customer_id}"), &owner, Some(json!({"role": "helper"}))).await;
    assert_eq!(s, 402, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("allows 1 agents"), "{body}");
    let (_, person) = app.tenant_get("acme", &format!("/users/{customer_id}"), &owner).await;
    assert_eq!(person["role"], "user", "the refused grant changed nothing: {person}");

    // The staff reply is the second message of the month; the third is
    // refused, but a customer's message is still kept, and so is a note.
    let reply = |text: &str, internal: bool| json!({ "text": text, "internal": internal });
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{ticket}/messages"), &owner, reply("on it", false)).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{ticket}/messages"), &owner, reply("one more", false)).await;
    assert_eq!(s, 402, "{body}");
    assert_eq!(body["error"]["code"], "plan_limit_reached");
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{ticket}/messages"), &owner, reply("a note", true)).await;
    assert_eq!(s, 201, "notes are not metered: {body}");
    app.deliver(&t, &fixtures::message(2, 601, "still broken")).await;
    assert_eq!(app.wait_processed("acme", 2).await.status, inbox::DONE);
    let (_, messages) = app.tenant_get("acme", &format!("/tickets/{ticket}/messages"), &owner).await;
    let texts: Vec<&str> = messages["items"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["help", "on it", "a note", "still broken"], "{messages}");
    let (_, usage) = app.tenant_get("acme", "/usage", &owner).await;
    assert_eq!(line(&usage, "messages_per_month"), &json!({"limit": "messages_per_month", "used": 3, "allowed": 2}), "the customer's message counts, over the limit");
}
