//! API keys on the tenant API: made by admins (shown once), used as
//! `Authorization: Bearer tkh_…` within their scopes and their maker's
//! role as it is now, refused once expired or revoked, rate-limited per
//! key, and audited; a key cannot manage keys.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_runtime::auth::throttle::Policy;
use tikethet_runtime::outbound::limiter::Rate;
use tikethet_tests::helpers::{Backend, Limits, Options, TestApp, spawn_app_with, wait_for};

on_both!(a_key_acts_within_its_scopes_and_its_makers_role_until_it_expires_or_is_revoked, each_key_has_its_own_rate);

async fn make_key(app: &TestApp, token: &str, body: Value) -> (String, i64) {
    let (s, k) = app.tenant_post("acme", "/api-keys", token, body).await;
    assert_eq!(s, 201, "{k}");
    let secret = k["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(&format!("tkh_{}_", k["key"]["prefix"].as_str().unwrap())), "{k}");
    (secret, k["key"]["id"].as_i64().unwrap())
}

async fn a_key_acts_within_its_scopes_and_its_makers_role_until_it_expires_or_is_revoked(b: Backend) {
    let app = spawn_app_with(b, Options { limits: Limits::Off, ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = app.sign_in(&t, 6_001).await;
    let (s, ticket) = app.tenant_post("acme", "/tickets", &customer, json!({ "title": "Invoice missing", "description": "Order 77" })).await;
    assert_eq!(s, 201, "{ticket}");

    // tickets:read lists tickets and is refused a write.
    let (reader, reader_id) = make_key(&app, &owner, json!({ "name": "CRM", "scopes": ["tickets:read"] })).await;
    let (s, page) = app.tenant_get("acme", "/tickets", &reader).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["items"][0]["title"], "Invoice missing", "{page}");
    let (s, body) = app.tenant_post("acme", "/tickets", &reader, json!({ "title": "From a script", "description": "x" })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (403, Some("insufficient_scope")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("tickets:write"), "{body}");
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(page["total"], 1, "nothing was opened: {page}");
    // A key cannot make keys, whatever its scopes.
    let (s, body) = app.tenant_post("acme", "/api-keys", &reader, json!({ "name": "More", "scopes": ["admin"] })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (403, Some("key_not_allowed")), "{body}");
    // Its use is noted (off the request's path: waited for).
    let used = wait_for(Duration::from_secs(10), || async {
        let (_, list) = app.tenant_get("acme", "/api-keys", &owner).await;
        let k = list["items"].as_array().unwrap().iter().find(|k| k["id"] == reader_id).cloned().unwrap();
        (!k["last_used_at"].is_null()).then_some(k)
    })
    .await;
    let k = used.expect("the key's last use is listed");
    assert_eq!((k["name"].as_str(), k["scopes"].clone()), (Some("CRM"), json!(["tickets:read"])), "{k}");
    assert!(k.get("token").is_none() && !k.to_string().contains(reader.split('_').nth(2).unwrap()), "the secret is never listed: {k}");

    // Revoked: refused at once.
    let (s, body) = app.tenant_call(Method::DELETE, "acme", &format!("/api-keys/{reader_id}"), &owner, None).await;
    assert_eq!((s, body["revoked_at"].is_string()), (200, true), "{body}");
    let (s, body) = app.tenant_get("acme", "/tickets", &reader).await;
    assert_eq!(s, 401, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"), "{body}");
    // A wrong secret with a real prefix is as unknown as any.
    let forged = format!("{}{}", &reader[..reader.len() - 4], "0000");
    assert_eq!(app.tenant_get("acme", "/tickets", &forged).await.0, 401);

    // Expired: refused once its time has come.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (brief, _) = make_key(&app, &owner, json!({ "name": "Brief", "scopes": ["tickets:read"], "expires_at": soon })).await;
    let expired = wait_for(Duration::from_secs(15), || async {
        let (s, body) = app.tenant_get("acme", "/tickets", &brief).await;
        (s == 401).then_some(body)
    })
    .await;
    let body = expired.expect("the key stops working when it expires");
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");
    let (s, body) = app.tenant_post("acme", "/api-keys", &owner, json!({ "name": "Past", "scopes": ["tickets:read"], "expires_at": "2020-01-01T00:00:00Z" })).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = app.tenant_post("acme", "/api-keys", &owner, json!({ "name": "Odd", "scopes": ["tickets:delete"] })).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("not a scope"), "{body}");

    // A key never outranks its maker: an admin's admin key reads the audit
    // log until the admin is made a helper, and stops when they are a customer.
    let admin = app.sign_in(&t, 6_002).await;
    let (_, me) = app.tenant_get("acme", "/auth/me", &admin).await;
    let admin_id = me["id"].as_i64().unwrap();
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{admin_id}"), &owner, Some(json!({ "role": "admin" }))).await;
    assert_eq!(s, 200);
    let admin = app.sign_in(&t, 6_002).await;
    let (mighty, _) = make_key(&app, &admin, json!({ "name": "Ops", "scopes": ["admin", "tickets:read"] })).await;
    let (s, log) = app.tenant_get("acme", "/audit", &mighty).await;
    assert_eq!(s, 200, "{log}");
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"api_key.created") && actions.contains(&"api_key.revoked"), "keys are audited: {actions:?}");
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{admin_id}"), &owner, Some(json!({ "role": "helper" }))).await;
    assert_eq!(s, 200);
    let (s, body) = app.tenant_get("acme", "/audit", &mighty).await;
    assert_eq!(s, 403, "a helper's key reads no audit log: {body}");
    let (s, _) = app.tenant_get("acme", "/tickets", &mighty).await;
    assert_eq!(s, 200, "but reads what a helper may");
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{admin_id}"), &owner, Some(json!({ "role": "user" }))).await;
    assert_eq!(s, 200);
    let (s, body) = app.tenant_get("acme", "/tickets", &mighty).await;
    assert_eq!(s, 401, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no longer staff"), "{body}");
}

async fn each_key_has_its_own_rate(b: Backend) {
    let policy = Policy { requests_per_key: Rate::per_minute(3, 3), ..Policy::default() };
    let app = spawn_app_with(b, Options { redis: b == Backend::Postgres, limits: Limits::Custom(policy), ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (one, _) = make_key(&app, &owner, json!({ "name": "One", "scopes": ["tickets:read"] })).await;
    let (two, _) = make_key(&app, &owner, json!({ "name": "Two", "scopes": ["tickets:read"] })).await;
    for i in 0..3 {
        assert_eq!(app.tenant_get("acme", "/tickets", &one).await.0, 200, "request {i} within the burst");
    }
    let res = app.http.get(app.url("/t/acme/api/v1/tickets")).bearer_auth(&one).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&after), "Retry-After {after}");
    assert_eq!(app.tenant_get("acme", "/tickets", &two).await.0, 200, "another key keeps its own count");
    assert_eq!(app.tenant_get("acme", "/tickets", &owner).await.0, 200, "and people are not counted with keys");
}
