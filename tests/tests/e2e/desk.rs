//! The desk's API: the ticket list (filters, search, sorting, keyset pages,
//! counters), ticket and message changes with their rules, categories,
//! people and roles, statistics, and every route checked for every role and
//! against a token of another tenant.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::helpers::{Backend, Tenant, TestApp, spawn_app};

on_both!(
    the_list_filters_searches_sorts_and_pages_with_counters,
    status_follows_the_lifecycle_and_customers_may_only_close,
    categories_are_managed_by_admins_and_customers_see_active_ones,
    roles_are_granted_only_from_above_and_blocked_people_are_refused,
    messages_are_edited_and_deleted_by_their_rules,
    every_route_answers_each_role_as_documented_and_refuses_other_tenants,
);

/// A desk with its five roles signed in: `[user, helper, moderator, admin, owner]`.
struct Desk {
    t: Tenant,
    tokens: Vec<String>,
    ids: Vec<i64>,
}

const PNG: &[u8] = include_bytes!("../../fixtures/screenshot.png");

const ROLES: [&str; 5] = ["user", "helper", "moderator", "admin", "owner"];

async fn desk(app: &TestApp, slug: &str, n: u32) -> Desk {
    let t = app.create_tenant(slug, n).await;
    let owner = app.sign_in(&t, t.owner).await;
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for (i, role) in ROLES.iter().enumerate() {
        let (token, id) = if *role == "owner" {
            (owner.clone(), me(app, slug, &owner).await)
        } else {
            let token = app.sign_in(&t, 5_000 + i as i64).await;
            let id = me(app, slug, &token).await;
            if *role != "user" {
                let (s, body) = app.tenant_call(Method::PATCH, slug, &format!("/users/{id}"), &owner, Some(json!({ "role": role }))).await;
                assert_eq!((s, body["role"].as_str()), (200, Some(*role)), "{body}");
            }
            (token, id)
        };
        tokens.push(token);
        ids.push(id);
    }
    Desk { t, tokens, ids }
}

async fn me(app: &TestApp, slug: &str, token: &str) -> i64 {
    let (s, body) = app.tenant_get(slug, "/auth/me", token).await;
    assert_eq!(s, 200, "{body}");
    body["id"].as_i64().unwrap()
}

async fn open_ticket(app: &TestApp, slug: &str, token: &str, title: &str, priority: &str) -> Value {
    let (s, body) = app.tenant_post(slug, "/tickets", token, json!({ "title": title, "description": format!("About {title}"), "priority": priority })).await;
    assert_eq!(s, 201, "{body}");
    body
}

/// The desk's counters as staff see them unfiltered (kept by the database
/// on every write) equal the tickets counted by status: the sum of the
/// counters of each priority, which are counted from the tickets.
pub(crate) async fn kept_counts_match_a_count(app: &TestApp, slug: &str, staff: &str) {
    let (s, whole) = app.tenant_get(slug, "/tickets", staff).await;
    assert_eq!(s, 200, "{whole}");
    let mut counted = std::collections::BTreeMap::<String, u64>::new();
    for p in ["low", "normal", "high", "critical"] {
        let (s, page) = app.tenant_get(slug, &format!("/tickets?priority={p}"), staff).await;
        assert_eq!(s, 200, "{page}");
        for (status, n) in page["counts"].as_object().unwrap() {
            *counted.entry(status.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    let kept: std::collections::BTreeMap<String, u64> = whole["counts"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
    assert_eq!(kept, counted, "the kept counters against the tickets counted");
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap_or_else(|| panic!("{page}")).iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

async fn the_list_filters_searches_sorts_and_pages_with_counters(b: Backend) {
    let app = spawn_app(b).await;
    let d = desk(&app, "acme", 1).await;
    let (customer, moderator, owner) = (&d.tokens[0], &d.tokens[2], &d.tokens[4]);
    let other = app.sign_in(&d.t, 9_999).await;
    let a = open_ticket(&app, "acme", customer, "Refund for order 1234", "high").await;
    let b2 = open_ticket(&app, "acme", customer, "Доставка: заказ задерживается", "low").await;
    let c = open_ticket(&app, "acme", customer, "Password reset", "critical").await;
    let o = open_ticket(&app, "acme", &other, "Someone else's refund", "normal").await;
    let id = |v: &Value| v["id"].as_i64().unwrap();
    // A staff answer in one ticket: its words are searchable, and its status moves.
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{}/messages", id(&c)), owner, json!({ "text": "Try the recovery link" })).await;
    assert_eq!(s, 201);
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{}/messages", id(&c)), owner, json!({ "text": "secretword in a note", "internal": true })).await;
    assert_eq!(s, 201);

    // Customers see their own, newest update first, with counters and the last message.
    let (s, page) = app.tenant_get("acme", "/tickets", customer).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(ids(&page), vec![id(&c), id(&b2), id(&a)], "{page}");
    assert_eq!(page["total"], 3);
    assert_eq!(page["counts"], json!({"open": 2, "in_progress": 0, "waiting_response": 1, "resolved": 0, "closed": 0}));
    assert_eq!(page["items"][0]["last_message"]["text"], "Try the recovery link", "internal notes never preview");
    assert_eq!(page["items"][0]["number"], page["items"][0]["id"]);
    assert_eq!(page["next_cursor"], Value::Null);

    // Staff see all; a status filter changes the total, not the counters.
    let (_, page) = app.tenant_get("acme", "/tickets?status=open", moderator).await;
    assert_eq!(ids(&page), vec![id(&o), id(&b2), id(&a)]);
    assert_eq!(page["total"], 3);
    assert_eq!(page["counts"]["waiting_response"], 1);
    let (_, page) = app.tenant_get("acme", "/tickets?status=open,waiting_response&priority=critical", moderator).await;
    assert_eq!(ids(&page), vec![id(&c)]);

    // Search: title words as prefixes, any language, and public messages; never notes.
    // Words are found by their stems too: "заказы" finds "заказ", "orders" "order".
    for (q, want) in [
        ("refu", vec![id(&o), id(&a)]),
        ("доставка", vec![id(&b2)]),
        ("заказы", vec![id(&b2)]),
        ("orders", vec![id(&a)]),
        ("RECOVERY", vec![id(&c)]),
        ("secretword", vec![]),
        ("refund 1234", vec![id(&a)]),
    ] {
        let (s, page) = app.tenant_get("acme", &format!("/tickets?q={}&sort=-created_at", urlencode(q)), moderator).await;
        assert_eq!((s, ids(&page)), (200, want.clone()), "q={q}: {page}");
        let (_, page) = app.tenant_get("acme", &format!("/tickets?q={}", urlencode(q)), customer).await;
        let own: Vec<i64> = want.into_iter().filter(|t| *t != id(&o)).collect();
        let mut got = ids(&page);
        got.sort();
        let mut own = own;
        own.sort();
        assert_eq!(got, own, "a customer's search stays in their tickets: q={q}");
    }
    // Sorting by priority, both ways.
    let (_, page) = app.tenant_get("acme", "/tickets?sort=-priority", moderator).await;
    assert_eq!(ids(&page), vec![id(&c), id(&a), id(&o), id(&b2)]);
    let (_, page) = app.tenant_get("acme", "/tickets?sort=priority", moderator).await;
    assert_eq!(ids(&page), vec![id(&b2), id(&o), id(&a), id(&c)]);
    // Created between.
    let created = |v: &Value| v["created_at"].as_str().unwrap().to_owned();
    let (_, page) = app.tenant_get("acme", &format!("/tickets?sort=created_at&created_from={}&created_to={}", urlencode(&created(&b2)), urlencode(&created(&o))), moderator).await;
    assert_eq!(ids(&page), vec![id(&b2), id(&c)]);

    // Keyset pages: two at a time, every ticket once, in order, for each sort.
    for sort in ["-updated_at", "updated_at", "-created_at", "created_at", "-priority", "priority"] {
        let (_, all) = app.tenant_get("acme", &format!("/tickets?sort={sort}"), moderator).await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/tickets?sort={sort}&limit=2&cursor={c}"),
                None => format!("/tickets?sort={sort}&limit=2"),
            };
            let (s, page) = app.tenant_get("acme", &path, moderator).await;
            assert_eq!(s, 200, "{page}");
            assert_eq!(page["total"], 4);
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, ids(&all), "sort {sort}");
        // A cursor of one sort is refused by another.
        let (_, first) = app.tenant_get("acme", &format!("/tickets?sort={sort}&limit=1"), moderator).await;
        let c = first["next_cursor"].as_str().unwrap();
        let other_sort = if sort == "created_at" { "priority" } else { "created_at" };
        let (s, body) = app.tenant_get("acme", &format!("/tickets?sort={other_sort}&cursor={c}"), moderator).await;
        assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{body}");
    }
    // Assignee filters.
    let helper_id = d.ids[1];
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{}", id(&a)), owner, Some(json!({ "assignee_id": helper_id }))).await;
    assert_eq!(s, 200);
    let (_, page) = app.tenant_get("acme", &format!("/tickets?assignee={helper_id}"), moderator).await;
    assert_eq!(ids(&page), vec![id(&a)]);
    let (_, page) = app.tenant_get("acme", "/tickets?assignee=none&sort=created_at", moderator).await;
    assert_eq!(ids(&page), vec![id(&b2), id(&c), id(&o)]);
    let (_, page) = app.tenant_get("acme", "/tickets?assignee=me", &d.tokens[1]).await;
    assert_eq!(ids(&page), vec![id(&a)]);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn status_follows_the_lifecycle_and_customers_may_only_close(b: Backend) {
    let app = spawn_app(b).await;
    let d = desk(&app, "acme", 1).await;
    let (customer, helper, moderator) = (&d.tokens[0], &d.tokens[1], &d.tokens[2]);
    let t = open_ticket(&app, "acme", customer, "Broken", "normal").await;
    let path = format!("/tickets/{}", t["id"]);
    let patch = |token: &str, body: Value| app.tenant_call(Method::PATCH, "acme", &path, token, Some(body));
    // Staff move it along.
    for status in ["in_progress", "waiting_response", "resolved"] {
        let (s, body) = patch(moderator, json!({ "status": status })).await;
        assert_eq!((s, body["status"].as_str()), (200, Some(status)), "{body}");
    }
    let (_, body) = app.tenant_get("acme", &path, moderator).await;
    assert!(body["resolved_at"].is_string(), "{body}");
    // A resolved ticket cannot go back to work without reopening.
    let (s, body) = patch(moderator, json!({ "status": "in_progress" })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    // A helper may not change status even when it is assigned to them.
    let (s, _) = patch(moderator, json!({ "assignee_id": d.ids[1] })).await;
    assert_eq!(s, 200);
    let (s, body) = patch(helper, json!({ "status": "closed" })).await;
    assert_eq!(s, 403, "{body}");
    // The customer writing again reopens it.
    let (s, _) = app.tenant_post("acme", &format!("{path}/messages"), customer, json!({ "text": "Still broken" })).await;
    assert_eq!(s, 201);
    let (_, body) = app.tenant_get("acme", &path, customer).await;
    assert_eq!((body["status"].as_str(), &body["resolved_at"]), (Some("open"), &Value::Null), "{body}");
    // The customer may re-prioritise and close, nothing else.
    let (s, body) = patch(customer, json!({ "priority": "critical" })).await;
    assert_eq!((s, body["priority"].as_str()), (200, Some("critical")), "{body}");
    for forbidden in [json!({ "status": "resolved" }), json!({ "title": "Mine now" }), json!({ "assignee_id": d.ids[1] }), json!({ "category_id": null })] {
        let (s, body) = patch(customer, forbidden.clone()).await;
        assert_eq!(s, 403, "{forbidden}: {body}");
    }
    let (s, body) = patch(customer, json!({ "status": "closed" })).await;
    assert_eq!((s, body["status"].as_str()), (200, Some("closed")), "{body}");
    assert!(body["closed_at"].is_string());
    // Closed: only reopening.
    let (s, _) = patch(moderator, json!({ "status": "waiting_response" })).await;
    assert_eq!(s, 409);
    let (s, body) = patch(moderator, json!({ "status": "open" })).await;
    assert_eq!((s, body["status"].as_str(), &body["closed_at"]), (200, Some("open"), &Value::Null), "{body}");
    // Bad input is a 400 naming the field; an empty change too; unknown assignees and categories.
    for (bad, field) in [(json!({}), "body"), (json!({ "assignee_id": d.ids[0] }), "assignee_id"), (json!({ "category_id": 999 }), "category_id"), (json!({ "status": "done" }), "status")] {
        let (s, body) = patch(moderator, bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(field), "{bad}: {body}");
    }
    // Someone else's ticket does not exist for a customer.
    let other = app.sign_in(&d.t, 7_777).await;
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &path, &other, Some(json!({ "status": "closed" }))).await;
    assert_eq!(s, 404);
    // After all those moves the desk's kept counters still match its tickets.
    kept_counts_match_a_count(&app, "acme", moderator).await;
}

async fn categories_are_managed_by_admins_and_customers_see_active_ones(b: Backend) {
    let app = spawn_app(b).await;
    let d = desk(&app, "acme", 1).await;
    let (customer, moderator, admin) = (&d.tokens[0], &d.tokens[2], &d.tokens[3]);
    let (s, billing) = app.tenant_post("acme", "/categories", admin, json!({ "name": " Billing ", "icon": "💳", "color": "#AA00FF", "position": 2 })).await;
    assert_eq!(s, 201, "{billing}");
    assert_eq!((billing["name"].as_str(), billing["color"].as_str(), billing["active"].as_bool()), (Some("Billing"), Some("#aa00ff"), Some(true)));
    let (s, old) = app.tenant_post("acme", "/categories", admin, json!({ "name": "Legacy", "position": 1, "active": false })).await;
    assert_eq!(s, 201);
    let (s, tech) = app.tenant_post("acme", "/categories", admin, json!({ "name": "Tech", "icon": "🛠", "position": 1 })).await;
    assert_eq!(s, 201);
    // Taken names are 409; bad fields 400; non-admins 403.
    let (s, body) = app.tenant_post("acme", "/categories", admin, json!({ "name": "Billing" })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    for bad in [json!({ "name": "x", "color": "red" }), json!({ "name": "x", "icon": "a b" }), json!({ "icon": "💳" }), json!({ "name": "" })] {
        let (s, body) = app.tenant_post("acme", "/categories", admin, bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    let (s, _) = app.tenant_post("acme", "/categories", moderator, json!({ "name": "Mine" })).await;
    assert_eq!(s, 403);
    // Ordered by position; customers see active ones only.
    let names = |v: &Value| v["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let (_, staff_view) = app.tenant_get("acme", "/categories", moderator).await;
    assert_eq!(names(&staff_view), vec!["Legacy", "Tech", "Billing"]);
    let (_, customer_view) = app.tenant_get("acme", "/categories", customer).await;
    assert_eq!(names(&customer_view), vec!["Tech", "Billing"]);
    // A ticket in a category; filtering by it; deleting the category keeps the ticket.
    let t = open_ticket(&app, "acme", customer, "Invoice", "normal").await;
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{}", t["id"]), moderator, Some(json!({ "category_id": billing["id"] }))).await;
    assert_eq!((s, &body["category_id"]), (200, &billing["id"]), "{body}");
    let (_, page) = app.tenant_get("acme", &format!("/tickets?category={}", billing["id"]), moderator).await;
    assert_eq!(ids(&page), vec![t["id"].as_i64().unwrap()]);
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/categories/{}", old["id"]), admin, Some(json!({ "active": true, "icon": "📦", "color": null }))).await;
    assert_eq!((s, body["active"].as_bool(), body["icon"].as_str()), (200, Some(true), Some("📦")), "{body}");
    let (s, _) = app.tenant_call(Method::DELETE, "acme", &format!("/categories/{}", billing["id"]), admin, None).await;
    assert_eq!(s, 204);
    let (_, body) = app.tenant_get("acme", &format!("/tickets/{}", t["id"]), customer).await;
    assert_eq!(body["category_id"], Value::Null, "{body}");
    let (s, _) = app.tenant_call(Method::DELETE, "acme", &format!("/categories/{}", billing["id"]), admin, None).await;
    assert_eq!(s, 404);
    let _ = tech;
}

async fn roles_are_granted_only_from_above_and_blocked_people_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let d = desk(&app, "acme", 1).await;
    let (customer, helper, moderator, admin, owner) = (&d.tokens[0], &d.tokens[1], &d.tokens[2], &d.tokens[3], &d.tokens[4]);
    let [customer_id, helper_id, moderator_id, admin_id, owner_id] = [d.ids[0], d.ids[1], d.ids[2], d.ids[3], d.ids[4]];
    let set = |token: &str, id: i64, body: Value| app.tenant_call(Method::PATCH, "acme", &format!("/users/{id}"), token, Some(body));
    // Granted from above, below the granter's own role.
    assert_eq!(set(moderator, customer_id, json!({ "role": "helper" })).await.0, 200);
    assert_eq!(set(moderator, customer_id, json!({ "role": "moderator" })).await.0, 403);
    assert_eq!(set(moderator, moderator_id, json!({ "role": "user" })).await.0, 403, "not oneself");
    assert_eq!(set(admin, moderator_id, json!({ "role": "admin" })).await.0, 403);
    assert_eq!(set(admin, admin_id, json!({ "role": "user" })).await.0, 403);
    assert_eq!(set(owner, admin_id, json!({ "role": "owner" })).await.0, 403, "the owner role follows the owner account");
    assert_eq!(set(helper, customer_id, json!({ "role": "user" })).await.0, 403);
    assert_eq!(set(owner, customer_id, json!({ "role": "user" })).await.0, 200);
    assert_eq!(set(owner, helper_id, json!({ "role": "admin" })).await.0, 200);
    assert_eq!(set(owner, helper_id, json!({ "role": "helper" })).await.0, 200);
    assert_eq!(set(admin, owner_id, json!({ "blocked": true })).await.0, 403);
    // Lists: filter by role, staff, name.
    let (s, page) = app.tenant_get("acme", "/users?staff=true", moderator).await;
    assert_eq!(s, 200, "{page}");
    let roles: Vec<&str> = page["items"].as_array().unwrap().iter().map(|u| u["role"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["owner", "helper", "moderator", "admin"]);
    let (_, page) = app.tenant_get("acme", "/users?role=user", moderator).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = app.tenant_get("acme", "/users?limit=2", moderator).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let after = page["next_after"].as_i64().unwrap();
    let (_, rest) = app.tenant_get("acme", &format!("/users?limit=2&after={after}"), moderator).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next_after"].as_i64().is_some(), true);
    // A blocked customer is refused everywhere at once, and unblocked works again.
    let (s, body) = set(moderator, customer_id, json!({ "blocked": true })).await;
    assert_eq!((s, body["blocked"].as_bool()), (200, Some(true)), "{body}");
    let (s, body) = app.tenant_get("acme", "/tickets", customer).await;
    assert_eq!((s, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert_eq!(set(moderator, customer_id, json!({ "blocked": false })).await.0, 200);
    assert_eq!(app.tenant_get("acme", "/tickets", customer).await.0, 200);
    assert_eq!(set(moderator, 999_999, json!({ "blocked": true })).await.0, 404);
    assert_eq!(set(moderator, customer_id, json!({})).await.0, 400);
}

async fn messages_are_edited_and_deleted_by_their_rules(b: Backend) {
    let app = spawn_app(b).await;
    let d = desk(&app, "acme", 1).await;
    let (customer, helper, moderator) = (&d.tokens[0], &d.tokens[1], &d.tokens[2]);
    let t = open_ticket(&app, "acme", customer, "Typo", "normal").await;
    let base = format!("/tickets/{}/messages", t["id"]);
    let (_, m) = app.tenant_post("acme", &base, customer, json!({ "text": "teh text" })).await;
    let mid = m["id"].as_i64().unwrap();
    let (_, note) = app.tenant_post("acme", &base, moderator, json!({ "text": "a staff note", "internal": true })).await;
    let edit = |token: &str, id: i64, text: &str| app.tenant_call(Method::PATCH, "acme", &format!("{base}/{id}"), token, Some(json!({ "text": text })));
    let delete = |token: &str, id: i64| app.tenant_call(Method::DELETE, "acme", &format!("{base}/{id}"), token, None);
    let (s, body) = edit(customer, mid, "the text").await;
    assert_eq!((s, body["text"].as_str(), body["edited_at"].is_string()), (200, Some("the text"), true), "{body}");
    assert_eq!(edit(moderator, mid, "not mine").await.0, 403, "only the author edits");
    assert_eq!(edit(customer, note["id"].as_i64().unwrap(), "x").await.0, 404, "a note does not exist for a customer");
    assert_eq!(delete(customer, note["id"].as_i64().unwrap()).await.0, 404);
    // The helper is not assigned: the ticket itself does not exist for them.
    assert_eq!(delete(helper, mid).await.0, 404);
    let (s, body) = delete(moderator, mid).await;
    assert_eq!((s, body["deleted"].as_bool(), body["text"].as_str()), (200, Some(true), Some("")), "{body}");
    assert_eq!(edit(customer, mid, "again").await.0, 409);
    // The conversation keeps its place; search no longer finds the words.
    let (_, list) = app.tenant_get("acme", &base, customer).await;
    let kept = list["items"].as_array().unwrap().iter().find(|m| m["id"] == mid).expect("the deleted message keeps its place");
    assert_eq!(kept["deleted"], true);
    let (_, page) = app.tenant_get("acme", "/tickets?q=the%20text", moderator).await;
    assert_eq!(ids(&page), Vec::<i64>::new(), "{page}");
    let (_, page) = app.tenant_get("acme", "/tickets?q=typo", moderator).await;
    assert_eq!(ids(&page), vec![t["id"].as_i64().unwrap()]);
}

/// One route of the tenant API, and what each role gets from it.
struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    /// A raw `application/octet-stream` body instead of JSON.
    bytes: Option<Vec<u8>>,
    /// A `multipart/form-data` body with this file as `file`.
    file: Option<&'static [u8]>,
    /// Statuses for `[user, helper, moderator, admin, owner]`.
    want: [u16; 5],
}

fn route(method: Method, path: impl Into<String>, body: Option<Value>, want: [u16; 5]) -> Route {
    Route { method, path: path.into(), body, bytes: None, file: None, want }
}

async fn every_route_answers_each_role_as_documented_and_refuses_other_tenants(b: Backend) {
    // Domain checks ask a DNS server of the test's, which knows no records.
    let dns = tikethet_tests::dns::TestDns::start().await;
    let env: &'static [(&'static str, &'static str)] = Box::leak(vec![("TIKETHET_DNS_SERVERS", &*Box::leak(dns.setting().into_boxed_str()))].into_boxed_slice());
    // Request limits off: the matrix makes a few hundred writes from one
    // address in seconds, more than the per-address burst (limits.rs tests those).
    let app = tikethet_tests::helpers::spawn_app_with(b, tikethet_tests::helpers::Options { env, limits: tikethet_tests::helpers::Limits::Off, ..Default::default() }).await;
    let d = desk(&app, "acme", 1).await;
    let other = desk(&app, "globex", 2).await;
    let (customer, owner) = (&d.tokens[0], &d.tokens[4]);
    // The customer's ticket, assigned to the helper.
    let t = open_ticket(&app, "acme", customer, "Matrix", "normal").await;
    let tid = t["id"].as_i64().unwrap();
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{tid}"), owner, Some(json!({ "assignee_id": d.ids[1] }))).await;
    assert_eq!(s, 200);
    let (_, cat) = app.tenant_post("acme", "/categories", owner, json!({ "name": "Matrix" })).await;
    let cid = cat["id"].as_i64().unwrap();
    let customer_id = d.ids[0];
    let (_, m) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), customer, json!({ "text": "mine" })).await;
    let mid = m["id"].as_i64().unwrap();
    // A file the customer sent in the ticket.
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("a.png"));
    let res = app.http.post(app.url("/t/acme/api/v1/uploads")).bearer_auth(customer).multipart(form).send().await.unwrap();
    let up: Value = res.json().await.unwrap();
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), customer, json!({ "text": "see", "attachment_ids": [up["id"]] })).await;
    assert_eq!(s, 201);
    let aid = up["id"].as_i64().unwrap();
    let (s, canned) = app.tenant_post("acme", "/canned", owner, json!({ "shortcut": "hello", "text": "Hello! How can we help?" })).await;
    assert_eq!(s, 201, "{canned}");
    let kid = canned["id"].as_i64().unwrap();
    let (s, team) = app.tenant_post("acme", "/teams", owner, json!({ "name": "Matrix" })).await;
    assert_eq!(s, 201, "{team}");
    let tmid = team["id"].as_i64().unwrap();
    let helper_id = d.ids[1];
    let (s, mac) = app.tenant_post("acme", "/macros", owner, json!({ "name": "Matrix", "tags": ["matrix-macro"] })).await;
    assert_eq!(s, 201, "{mac}");
    let mcid = mac["id"].as_i64().unwrap();
    // API keys of the owner: one with every scope, and for each scope one
    // with all the others; and one the matrix revokes.
    use tikethet_runtime::auth::keys::KeyScope;
    let make_key = async |scopes: Vec<&str>| {
        let (s, k) = app.tenant_post("acme", "/api-keys", owner, json!({ "name": "Matrix", "scopes": scopes })).await;
        assert_eq!(s, 201, "{k}");
        (k["token"].as_str().unwrap().to_owned(), k["key"]["id"].as_i64().unwrap())
    };
    let (full_key, _) = make_key(KeyScope::ALL.iter().map(|k| k.as_str()).collect()).await;
    let mut keys_without = Vec::new();
    for lacking in KeyScope::ALL {
        let (token, _) = make_key(KeyScope::ALL.iter().filter(|k| **k != lacking).map(|k| k.as_str()).collect()).await;
        keys_without.push((lacking, token));
    }
    let (_, victim_key) = make_key(vec!["tickets:read"]).await;

    let all = [200; 5];
    let staff_from_moderator = [403, 403, 200, 200, 200];
    let admins = [403, 403, 403, 200, 200];
    let routes = vec![
        route(Method::GET, "/auth/me", None, all),
        // Staff say whether they are away.
        route(Method::PATCH, "/auth/me", Some(json!({ "away": false })), [403, 200, 200, 200, 200]),
        route(Method::GET, "/teams", None, [403, 200, 200, 200, 200]),
        route(Method::GET, "/macros", None, [403, 200, 200, 200, 200]),
        route(Method::POST, "/macros", Some(json!({ "name": "Per role", "tags": ["x"] })), [403, 403, 403, 201, 409]),
        route(Method::PUT, format!("/macros/{mcid}"), Some(json!({ "name": "Matrix", "tags": ["matrix-macro"] })), admins),
        // Tags only: every staff member who sees the ticket (the helper's is assigned).
        route(Method::POST, format!("/tickets/{tid}/macros/{mcid}"), None, [403, 200, 200, 200, 200]),
        route(Method::GET, "/views", None, [403, 200, 200, 200, 200]),
        // A name once: the helper's is the desk's, the others are refused.
        route(Method::POST, "/views", Some(json!({ "name": "Per role", "query": "status=open" })), [403, 201, 409, 409, 409]),
        route(Method::POST, "/teams", Some(json!({ "name": "Per role" })), [403, 403, 403, 201, 409]),
        route(Method::GET, format!("/teams/{tmid}"), None, [403, 200, 200, 200, 200]),
        route(Method::PATCH, format!("/teams/{tmid}"), Some(json!({ "rule": "round_robin" })), admins),
        // Adding a member twice changes nothing.
        route(Method::PUT, format!("/teams/{tmid}/members/{helper_id}"), None, admins),
        route(Method::DELETE, format!("/teams/{tmid}/members/{helper_id}"), None, [403, 403, 403, 200, 404]),
        route(Method::GET, "/tickets", None, all),
        route(Method::POST, "/tickets", Some(json!({ "title": "New", "description": "New one" })), [201; 5]),
        route(Method::GET, format!("/tickets/{tid}"), None, all),
        route(Method::PATCH, format!("/tickets/{tid}"), Some(json!({ "priority": "high" })), [200, 403, 200, 200, 200]),
        route(Method::GET, format!("/tickets/{tid}/messages"), None, all),
        route(Method::POST, format!("/tickets/{tid}/messages"), Some(json!({ "text": "hi" })), [201; 5]),
        route(Method::GET, format!("/tickets/{tid}/tags"), None, all),
        // Staff tag; tagging again changes nothing.
        route(Method::POST, format!("/tickets/{tid}/tags"), Some(json!({ "tag": "Matrix" })), [403, 200, 200, 200, 200]),
        route(Method::GET, "/tags", None, [403, 200, 200, 200, 200]),
        // Onto itself: nothing moves.
        route(Method::PATCH, "/tags/matrix", Some(json!({ "name": "matrix" })), admins),
        // The helper removes it; after that it is gone for the rest.
        route(Method::DELETE, format!("/tickets/{tid}/tags/matrix"), None, [403, 200, 404, 404, 404]),
        // Into itself: refused as such (409) to those allowed to merge.
        route(Method::POST, format!("/tickets/{tid}/merge"), Some(json!({ "into": tid })), [403, 403, 409, 409, 409]),
        route(Method::PATCH, format!("/tickets/{tid}/messages/{mid}"), Some(json!({ "text": "edited" })), [200, 403, 403, 403, 403]),
        route(Method::GET, "/categories", None, all),
        route(Method::POST, "/categories", Some(json!({ "name": "Per role" })), [403, 403, 403, 201, 409]),
        route(Method::PATCH, format!("/categories/{cid}"), Some(json!({ "position": 3 })), admins),
        route(Method::GET, "/users", None, staff_from_moderator),
        route(Method::GET, format!("/users/{customer_id}/notes"), None, staff_from_moderator),
        route(Method::POST, format!("/users/{customer_id}/notes"), Some(json!({ "text": "Per role" })), [403, 403, 201, 201, 201]),
        route(Method::PUT, format!("/users/{customer_id}/attributes"), Some(json!({ "attributes": { "plan": "gold" } })), staff_from_moderator),
        // This customer signed in to the Mini App but never wrote to the
        // bot: refused, with the reason, to every staff member.
        route(Method::POST, format!("/users/{customer_id}/tickets"), Some(json!({ "title": "Hello", "text": "Hi there" })), [403, 409, 409, 409, 409]),
        route(Method::GET, format!("/users/{customer_id}"), None, staff_from_moderator),
        route(Method::PATCH, format!("/users/{customer_id}"), Some(json!({ "blocked": false })), [403, 403, 200, 200, 200]),
        route(Method::GET, "/stats", None, staff_from_moderator),
        route(Method::GET, "/usage", None, admins),
        route(Method::GET, "/settings/sla", None, admins),
        route(Method::PUT, "/settings/sla", Some(json!({ "targets": {}, "business_hours": null })), admins),
        route(Method::GET, "/settings/conversations", None, admins),
        route(Method::PUT, "/settings/conversations", Some(json!({ "reopen_days": 3 })), admins),
        route(Method::GET, "/canned", None, [403, 200, 200, 200, 200]),
        route(Method::POST, "/canned", Some(json!({ "shortcut": "per-role", "text": "Per role" })), [403, 403, 403, 201, 409]),
        route(Method::PATCH, format!("/canned/{kid}"), Some(json!({ "text": "Hi!" })), admins),
        // Staff only: a one-time console sign-in link.
        route(Method::POST, "/console/link", None, [403, 200, 200, 200, 200]),
        // The owner's alone; this server runs without Stripe keys.
        route(Method::POST, "/billing/checkout", Some(json!({ "plan": "pro" })), [403, 403, 403, 403, 409]),
        route(Method::POST, "/billing/portal", None, [403, 403, 403, 403, 409]),
        // Billing is offline here (no Stripe keys): the owner is let in and told so.
        route(Method::GET, "/billing", None, [403, 403, 403, 200, 200]),
        route(Method::POST, "/billing/preview", Some(json!({ "plan": "pro" })), [403, 403, 403, 403, 409]),
        route(Method::POST, "/billing/plan", Some(json!({ "plan": "pro", "proration_date": chrono::Utc::now().timestamp() })), [403, 403, 403, 403, 409]),
        route(Method::POST, "/billing/cancel", None, [403, 403, 403, 403, 409]),
        route(Method::POST, "/billing/resume", None, [403, 403, 403, 403, 409]),
        route(Method::GET, "/audit", None, admins),
        route(Method::GET, "/domain", None, admins),
        // Asking again for the same name keeps its token: 200 both times.
        route(Method::PUT, "/domain", Some(json!({ "domain": "per-role.example.test" })), admins),
        // Not proven (no record): 200, with the reason in `last_error`.
        route(Method::POST, "/domain/check", None, admins),
        route(Method::GET, "/theme", None, all),
        route(Method::PUT, "/theme", Some(json!({ "accent_color": "#336699" })), admins),
        route(Method::GET, "/bot-texts", None, admins),
        route(Method::PUT, "/bot-texts", Some(json!({ "texts": { "en": { "help": "Ask away, {{ desk }}" } } })), admins),
        route(Method::GET, "/languages", None, [403, 200, 200, 200, 200]),
        route(Method::PUT, "/languages", Some(json!({ "default_language": "uk" })), admins),
        Route { file: Some(PNG), ..route(Method::POST, "/uploads", None, [201; 5]) },
        route(Method::GET, format!("/attachments/{aid}"), None, all),
        route(Method::GET, "/plugins", None, admins),
        route(Method::PATCH, "/plugins/none", Some(json!({ "enabled": true })), [403, 403, 403, 404, 404]),
        route(Method::GET, "/plugins/none/failures", None, [403, 403, 403, 404, 404]),
        route(Method::DELETE, "/plugins/none", None, [403, 403, 403, 404, 404]),
        // Not a component: refused after the role check.
        Route { bytes: Some(b"not wasm".to_vec()), ..route(Method::PUT, "/plugins/none", None, [403, 403, 403, 400, 400]) },
        // Destructive ones last.
        route(Method::DELETE, format!("/tickets/{tid}/messages/{mid}"), None, [200, 403, 200, 200, 200]),
        route(Method::DELETE, format!("/categories/{cid}"), None, [403, 403, 403, 204, 404]),
        route(Method::DELETE, format!("/canned/{kid}"), None, [403, 403, 403, 204, 404]),
        route(Method::DELETE, "/domain", None, [403, 403, 403, 204, 204]),
        route(Method::DELETE, format!("/teams/{tmid}"), None, [403, 403, 403, 204, 404]),
        route(Method::DELETE, format!("/macros/{mcid}"), None, [403, 403, 403, 204, 404]),
        // The helper's own view (the desk's first): theirs to delete.
        route(Method::DELETE, "/views/1", None, [403, 204, 404, 404, 404]),
        route(Method::GET, "/api-keys", None, admins),
        route(Method::POST, "/api-keys", Some(json!({ "name": "Per role", "scopes": ["tickets:read"] })), [403, 403, 403, 201, 201]),
        // Revoking again changes nothing.
        route(Method::DELETE, format!("/api-keys/{victim_key}"), None, admins),
    ];
    let mut failures = Vec::new();
    let call = |r: &Route, token: Option<&str>| {
        let mut req = app.http.request(r.method.clone(), app.url(&format!("/t/acme/api/v1{}", r.path)));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = &r.body {
            req = req.json(b);
        }
        if let Some(b) = &r.bytes {
            req = req.header("content-type", "application/octet-stream").body(b.clone());
        }
        if let Some(f) = r.file {
            req = req.multipart(reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(f.to_vec()).file_name("f.png")));
        }
        async move {
            let res = req.send().await.unwrap();
            let s = res.status().as_u16();
            (s, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for r in &routes {
        // The helper first for the message deletion: once deleted, it stays deleted.
        let order: Vec<usize> = if r.method == Method::DELETE && r.path.contains("/messages/") { vec![1, 0, 2, 3, 4] } else { (0..5).collect() };
        for i in order {
            let (s, body) = call(r, Some(&d.tokens[i])).await;
            if s != r.want[i] {
                failures.push(format!("{} {} as {}: {s} (want {}): {body}", r.method, r.path, ROLES[i], r.want[i]));
            }
            if s >= 400 && body["error"]["code"].as_str().is_none() {
                failures.push(format!("{} {} as {}: {s} without the error shape: {body}", r.method, r.path, ROLES[i]));
            }
        }
        // A key without the scope the route needs is refused at the door
        // (nothing done); reads with a key of every scope answer as its
        // maker, the owner, does.
        use tikethet_platform::http::api::keys::{Need, needs};
        let full_path = format!("/t/acme/api/v1{}", r.path);
        let need = needs(&r.method, &full_path);
        let lacking = match need {
            Need::Scope(scope) => keys_without.iter().find(|(k, _)| *k == scope).map(|(_, t)| t.as_str()),
            Need::Never => Some(full_key.as_str()),
            Need::Any => None,
        };
        if let Some(token) = lacking {
            let (s, body) = call(r, Some(token)).await;
            let code = body["error"]["code"].as_str().unwrap_or_default();
            if s != 403 || !["insufficient_scope", "key_not_allowed"].contains(&code) {
                failures.push(format!("{} {} with a key lacking {need:?}: {s}: {body}", r.method, r.path));
            }
        }
        if r.method == Method::GET && need != Need::Never {
            let (s, body) = call(r, Some(&full_key)).await;
            if s != r.want[4] {
                failures.push(format!("{} {} with a key of every scope: {s} (want {}, as the owner): {body}", r.method, r.path, r.want[4]));
            }
        }
        // Every role of another tenant, and no token at all: 401, nothing done.
        for token in &other.tokens {
            let (s, body) = call(r, Some(token)).await;
            if s != 401 {
                failures.push(format!("{} {} with another tenant's token: {s}: {body}", r.method, r.path));
            }
        }
        let (s, _) = call(r, None).await;
        if s != 401 {
            failures.push(format!("{} {} without a token: {s}", r.method, r.path));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Another tenant's tokens changed nothing here.
    let (_, page) = app.tenant_get("acme", "/tickets", owner).await;
    assert_eq!(page["total"], 6, "the five role tickets and the matrix ticket: {page}");
    let (_, page) = app.tenant_get("globex", "/tickets", &other.tokens[4]).await;
    assert_eq!(page["total"], 0, "{page}");
    // Every tenant API route of the document is in the matrix.
    let spec: Value = app.http.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut documented: Vec<String> = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        let Some(rest) = path.strip_prefix("/t/{slug}/api/v1") else { continue };
        if rest.starts_with("/auth/") && rest != "/auth/me" {
            continue; // sign-in, refresh and logout take no bearer
        }
        for method in ops.as_object().unwrap().keys() {
            documented.push(format!("{} {rest}", method.to_uppercase()));
        }
    }
    let covered: Vec<String> = routes
        .iter()
        .map(|r| {
            let generic = r.path.replace(&format!("/tickets/{tid}/messages/{mid}"), "/tickets/{id}/messages/{message_id}").replace(&format!("/tickets/{tid}"), "/tickets/{id}").replace(&format!("/categories/{cid}"), "/categories/{id}").replace(&format!("/users/{customer_id}"), "/users/{id}").replace("/plugins/none", "/plugins/{name}").replace(&format!("/attachments/{aid}"), "/attachments/{id}").replace(&format!("/canned/{kid}"), "/canned/{id}").replace("/tags/matrix", "/tags/{tag}").replace(&format!("/teams/{tmid}/members/{helper_id}"), "/teams/{id}/members/{user_id}").replace(&format!("/teams/{tmid}"), "/teams/{id}").replace(&format!("/tickets/{{id}}/macros/{mcid}"), "/tickets/{id}/macros/{macro_id}").replace(&format!("/macros/{mcid}"), "/macros/{id}").replace("/views/1", "/views/{id}").replace(&format!("/api-keys/{victim_key}"), "/api-keys/{id}");
            format!("{} {generic}", r.method)
        })
        .collect();
    let missing: Vec<&String> = documented.iter().filter(|d| !covered.contains(d)).collect();
    assert!(missing.is_empty(), "routes without a role check: {missing:?}");
}
