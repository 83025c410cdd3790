//! Macros through the API: written by admins (checked: placeholders, a
//! macro that does nothing, a taken name, a team the desk lacks), applied
//! by staff in one transaction by the desk's rules (a helper may answer and
//! tag, not change; a refused status change sends nothing); and the
//! queue's saved views, shared by the desk.

use reqwest::Method;
use serde_json::json;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, csrf_in, no_redirects, spawn_app};

on_both!(macros_apply_in_one_transaction_by_the_desks_rules_and_views_are_shared);

async fn macros_apply_in_one_transaction_by_the_desks_rules_and_views_are_shared(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = 801;
    app.deliver(&t, &fixtures::message(1, customer, "Where is my refund?")).await;
    app.wait_processed("acme", 1).await;
    let before = app.wait_sent(&t, customer, 1).await.len();
    let helper = app.sign_in(&t, 8_001).await;
    let (_, h) = app.tenant_get("acme", "/auth/me", &helper).await;
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/users/{}", h["id"]), &owner, Some(json!({ "role": "helper" }))).await.0, 200);
    assert_eq!(app.tenant_call(Method::PATCH, "acme", "/tickets/1", &owner, Some(json!({ "assignee_id": h["id"] }))).await.0, 200);

    // Checked when kept.
    let post = async |body: serde_json::Value| app.tenant_post("acme", "/macros", &owner, body).await;
    let (s, bad) = post(json!({ "name": "Bad", "reply": "Hi {{ name }}" })).await;
    assert!(s == 400 && bad["error"]["message"].as_str().unwrap().contains("not a placeholder"), "{bad}");
    assert_eq!(post(json!({ "name": "Nothing" })).await.0, 400);
    assert_eq!(post(json!({ "name": "Team", "team_id": 999 })).await.0, 400);
    assert_eq!(app.tenant_post("acme", "/macros", &helper, json!({ "name": "Mine", "tags": ["x"] })).await.0, 403);
    let (s, solved) = post(json!({ "name": "Solved", "reply": "Hi {{ customer }}, done by {{ agent }} on #{{ number }}.", "status": "resolved", "tags": ["Solved", "refund"] })).await;
    assert_eq!(s, 201, "{solved}");
    assert_eq!(solved["tags"], json!(["solved", "refund"]), "{solved}");
    assert_eq!(post(json!({ "name": "Solved", "tags": ["x"] })).await.0, 409);
    let (_, reopen) = post(json!({ "name": "Reopen", "reply": "Looking again.", "status": "in_progress", "tags": ["again"] })).await;
    let (_, note) = post(json!({ "name": "Noted", "reply": "We have it, {{ customer }}.", "tags": ["seen"] })).await;
    let (s, list) = app.tenant_get("acme", "/macros", &helper).await;
    assert_eq!((s, list["items"].as_array().map(Vec::len)), (200, Some(3)), "{list}");

    // A helper may answer and tag (their ticket), not change it.
    let (s, body) = app.tenant_post("acme", &format!("/tickets/1/macros/{}", solved["id"]), &helper, json!({})).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = app.tenant_post("acme", &format!("/tickets/1/macros/{}", note["id"]), &helper, json!({})).await;
    assert_eq!((s, &body["tags"]), (200, &json!(["seen"])), "{body}");
    let sent = app.wait_sent(&t, customer, before + 1).await;
    assert!(sent[before].contains("We have it, Test Firstname."), "{sent:?}");

    // The owner resolves with one: answer, status and tags together.
    let (s, applied) = app.tenant_post("acme", &format!("/tickets/1/macros/{}", solved["id"]), &owner, json!({})).await;
    assert_eq!(s, 200, "{applied}");
    assert_eq!((&applied["ticket"]["status"], &applied["tags"]), (&json!("resolved"), &json!(["refund", "seen", "solved"])), "{applied}");
    let sent = app.wait_sent(&t, customer, before + 2).await;
    assert!(sent[before + 1].contains("Hi Test Firstname, done by Owner on #1."), "{sent:?}");

    // A ticket with all the tags it may carry: the macro's tag is refused,
    // and so the whole macro, its answer and status included.
    for i in 0..17 {
        assert_eq!(app.tenant_post("acme", "/tickets/1/tags", &owner, json!({ "tag": format!("t{i}") })).await.0, 200);
    }
    let (_, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    let count = msgs["items"].as_array().unwrap().len();
    let (s, body) = app.tenant_post("acme", &format!("/tickets/1/macros/{}", reopen["id"]), &owner, json!({})).await;
    assert_eq!(s, 409, "{body}");
    let (_, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), count, "nothing written: {msgs}");
    assert!(!app.fake.sent_to(&t.token, customer).iter().any(|m| m.contains("Looking again")));
    let (_, ticket) = app.tenant_get("acme", "/tickets/1", &owner).await;
    assert_eq!(ticket["status"], "resolved", "{ticket}");

    // Replaced and deleted by admins; each change in the log.
    let (s, changed) = app.tenant_call(Method::PUT, "acme", &format!("/macros/{}", note["id"]), &owner, Some(json!({ "name": "Noted", "tags": ["seen", "queued"] }))).await;
    assert_eq!((s, &changed["reply"]), (200, &serde_json::Value::Null), "a PUT replaces every field: {changed}");
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/macros/{}", reopen["id"]), &owner, None).await.0, 204);
    let (_, log) = app.tenant_get("acme", "/audit?action=macro.", &owner).await;
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "macro.applied").count(), 2, "{actions:?}");
    for a in ["macro.created", "macro.changed", "macro.deleted"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }

    // Views: saved for the desk (only the queue's filters kept), a name
    // once; only its author or an admin deletes one.
    let (s, view) = app.tenant_post("acme", "/views", &helper, json!({ "name": "Refunds", "query": "?status=open&tag=refund&cursor=abc" })).await;
    assert_eq!((s, &view["query"]), (201, &json!("status=open&tag=refund")), "{view}");
    assert_eq!(app.tenant_post("acme", "/views", &owner, json!({ "name": "Refunds", "query": "" })).await.0, 409);
    let (_, mine) = app.tenant_post("acme", "/views", &owner, json!({ "name": "Everything", "query": "status=all" })).await;
    let (_, views) = app.tenant_get("acme", "/views", &helper).await;
    assert_eq!(views["items"].as_array().map(Vec::len), Some(2), "{views}");
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/views/{}", mine["id"]), &helper, None).await.0, 403);
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/views/{}", view["id"]), &owner, None).await.0, 204);
    // The console's Macros page: written there too, a refusal shown on it.
    let http = no_redirects();
    let cookie = app.console_cookie(&t, t.owner).await;
    let page = http.get(app.url("/t/acme/admin/macros")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-macro="Solved""#) && page.contains(r#"data-testid="new-macro""#), "{page}");
    let form = |name: &'static str, reply: &'static str| vec![("csrf", csrf_in(&page)), ("name", name.into()), ("reply", reply.into()), ("status", "resolved".into()), ("priority", String::new()), ("tags", "thanks, Done".into())];
    let res = http.post(app.url("/t/acme/admin/macros")).header("cookie", &cookie).form(&form("Thanks", "Hi {{ who }}")).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not a placeholder"));
    let res = http.post(app.url("/t/acme/admin/macros")).header("cookie", &cookie).form(&form("Thanks", "Thanks, {{ customer }}!")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/t/acme/admin/macros?done=macro");
    let (_, list) = app.tenant_get("acme", "/macros", &owner).await;
    let thanks = list["items"].as_array().unwrap().iter().find(|m| m["name"] == "Thanks").cloned().expect("kept");
    assert_eq!((&thanks["tags"], &thanks["status"], &thanks["priority"]), (&json!(["thanks", "done"]), &json!("resolved"), &serde_json::Value::Null), "{thanks}");
    let ticket_page = http.get(app.url("/t/acme/admin/tickets/1")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(ticket_page.contains(r#"data-testid="macro-select""#) && ticket_page.contains(">Thanks<"), "{ticket_page}");
    let helper_cookie = app.console_cookie(&t, 8_001).await;
    let helper_page = http.get(app.url("/t/acme/admin/tickets/1")).header("cookie", &helper_cookie).send().await.unwrap().text().await.unwrap();
    assert!(helper_page.contains(">Noted<") && !helper_page.contains(">Thanks<"), "a helper is offered only macros that do not change the ticket: {helper_page}");

    let customer_token = app.sign_in(&t, customer).await;
    assert_eq!(app.tenant_get("acme", "/views", &customer_token).await.0, 403);
    assert_eq!(app.tenant_get("acme", "/macros", &customer_token).await.0, 403);
}
