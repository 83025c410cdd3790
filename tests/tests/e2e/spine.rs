use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fake_telegram::Failure;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Options, TestApp, init_data, spawn_app, spawn_app_with, wait_until};

on_both!(
    provisioning_registers_an_opaque_webhook_with_a_strong_secret,
    operator_api_errors,
    customer_message_becomes_one_ticket_and_staff_reply_reaches_the_chat,
    webhook_refuses_wrong_secret_and_stores_nothing,
    malformed_and_unhandled_updates_are_acknowledged_and_recorded,
    tokens_and_init_data_are_bound_to_their_tenant,
    suspended_tenant_answers_politely_and_resumes,
    delete_needs_confirmation_and_removes_everything,
    acknowledged_updates_left_pending_are_processed_on_restart,
    sender_honours_retry_after_and_backs_off_on_server_errors,
    replacing_the_bot_token_moves_the_webhook,
);

async fn tickets_of(app: &TestApp, slug: &str, token: &str) -> Vec<Value> {
    let (s, body) = app.tenant_get(slug, "/tickets", token).await;
    assert_eq!(s, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn provisioning_registers_an_opaque_webhook_with_a_strong_secret(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.create_tenant("acme", 1).await;
    let z = app.create_tenant("zeta-shop", 2).await;
    assert_eq!(a.body["status"], "active");
    assert_eq!(a.body["bot_username"], "acme_bot");
    assert!(a.body["id"].as_str().unwrap().starts_with("tnt_"));
    for t in [&a, &z] {
        let wh = app.fake.webhook(&t.token).expect("setWebhook was called");
        assert!(wh.url.starts_with(&format!("{}/tg/", app.address)), "{}", wh.url);
        let secret_of_token = t.token.split(':').nth(1).unwrap();
        assert!(!wh.url.contains(secret_of_token) && !wh.url.contains(&t.token), "token leaked into {}", wh.url);
        let secret = wh.secret_token.expect("secret_token set");
        assert!(secret.len() >= 32 && secret.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'));
        assert_eq!(wh.allowed_updates, Some(json!(["message", "edited_message", "callback_query"])));
    }
    assert_ne!(app.fake.webhook(&a.token).unwrap().url, app.fake.webhook(&z.token).unwrap().url);
    // Listing and showing.
    let res = app.operator(Method::GET, "/api/platform/v1/tenants", None).await;
    let list: Value = res.json().await.unwrap();
    let slugs: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs.len(), 2, "{list}");
    assert!(slugs.contains(&"acme") && slugs.contains(&"zeta-shop"), "{list}");
    let res = app.operator(Method::GET, "/api/platform/v1/tenants/acme", None).await;
    assert_eq!(res.status(), 200);
    let shown: Value = res.json().await.unwrap();
    assert_eq!((shown["slug"].as_str(), shown["bot_username"].as_str(), shown["status"].as_str()), (Some("acme"), Some("acme_bot"), Some("active")), "{shown}");
    assert_eq!(shown["id"], a.body["id"]);
    assert!(shown.get("bot_token").is_none() && !shown.to_string().contains(&a.token));
    if b == Backend::Postgres {
        // Each tenant lives in a schema of its own.
        use sea_orm::ConnectionTrait as _;
        let rows = app
            .state
            .storage
            .control()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'tickets'",
            ))
            .await
            .unwrap();
        let schemas: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "table_schema").unwrap()).collect();
        let schema = app.state.settings.database_schema.clone();
        assert!(schemas.contains(&format!("{schema}_acme")) && schemas.contains(&format!("{schema}_zeta_shop")), "{schemas:?}");
    }
}

async fn operator_api_errors(b: Backend) {
    let app = spawn_app(b).await;
    app.create_tenant("acme", 1).await;
    let err_code = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_owned();

    // Taken slug: 409.
    let token = tikethet_tests::helpers::bot_token(9);
    app.fake.add_bot(&token, "other_bot");
    let res = app
        .operator(Method::POST, "/api/platform/v1/tenants", Some(json!({"slug":"acme","name":"x","bot_token":token,"owner_telegram_id":1})))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(err_code(&res.json().await.unwrap()), "slug_taken");

    // A token Telegram refuses: 422, and nothing is left behind.
    let unknown = tikethet_tests::helpers::bot_token(10);
    let res = app
        .operator(Method::POST, "/api/platform/v1/tenants", Some(json!({"slug":"ghost","name":"x","bot_token":unknown,"owner_telegram_id":1})))
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(err_code(&res.json().await.unwrap()), "bot_token_refused");
    assert_eq!(app.operator(Method::GET, "/api/platform/v1/tenants/ghost", None).await.status(), 404);

    // Malformed bodies: 400 with our error shape.
    for body in [
        "{not json",
        r#"{"slug":"x"}"#,
        r#"{"slug":"BAD SLUG","name":"x","bot_token":"1:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw","owner_telegram_id":1}"#,
        r#"{"slug":"okslug","name":"x","bot_token":"not-a-token","owner_telegram_id":1}"#,
        r#"{"slug":"okslug","name":"x","bot_token":"1:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw","owner_telegram_id":1,"plan":"gold"}"#,
    ] {
        let res = app
            .http
            .post(app.url("/api/platform/v1/tenants"))
            .bearer_auth(tikethet_tests::helpers::OPERATOR_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let v: Value = res.json().await.unwrap();
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }

    // No or wrong operator token: 401.
    let res = app.http.get(app.url("/api/platform/v1/tenants")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert_eq!(err_code(&v), "unauthorized");
    let res = app.http.get(app.url("/api/platform/v1/tenants")).bearer_auth("op_wrong_wrong_wrong_wrong_wrong").send().await.unwrap();
    assert_eq!(res.status(), 401);

    // The same bot cannot serve two tenants.
    let acme_token = app.fake.calls(Some("getMe"))[0].token.clone();
    let res = app
        .operator(Method::POST, "/api/platform/v1/tenants", Some(json!({"slug":"twin","name":"x","bot_token":acme_token,"owner_telegram_id":1})))
        .await;
    assert_eq!(res.status(), 409);

    // Unknown paths are JSON 404s.
    let res = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(err_code(&res.json().await.unwrap()), "not_found");

    // The OpenAPI document and docs are served.
    let spec: Value = app.http.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(spec["paths"]["/api/platform/v1/tenants"].is_object());
    assert!(spec["paths"]["/t/{slug}/api/v1/tickets"].is_object());
    let docs = app.http.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let docs = docs.text().await.unwrap();
    assert!(docs.to_lowercase().contains("swagger"), "{docs}");
    for (probe, answer) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let res = app.http.get(app.url(probe)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{probe}");
        assert_eq!(res.text().await.unwrap(), answer, "{probe}");
    }
    let metrics = app.http.get(app.url("/metrics")).bearer_auth(tikethet_tests::helpers::OPERATOR_TOKEN).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tikethet_tenants 1"), "{metrics}");
}

async fn customer_message_becomes_one_ticket_and_staff_reply_reaches_the_chat(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 42_424_242;

    assert_eq!(app.deliver(&t, &fixtures::start(1, customer)).await, 200);
    let sent = app.wait_sent(&t, customer, 1).await;
    assert!(sent[0].contains("acme Support") && sent[0].contains("welcome"), "{sent:?}");

    // Telegram delivers the same update three times.
    let msg = fixtures::message(2, customer, "My lamp is broken\nIt flickers since Monday.");
    for _ in 0..3 {
        assert_eq!(app.deliver(&t, &msg).await, 200);
    }
    let sent = app.wait_sent(&t, customer, 2).await;
    assert!(sent[1].contains("#1") && sent[1].contains("My lamp is broken"), "{sent:?}");

    let owner = app.sign_in(&t, t.owner).await;
    let (s, me) = app.tenant_get(&t.slug, "/auth/me", &owner).await;
    assert_eq!((s, me["role"].as_str()), (200, Some("owner")), "{me}");
    let tickets = tickets_of(&app, &t.slug, &owner).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["title"], "My lamp is broken");
    assert_eq!(tickets[0]["status"], "open");
    let id = tickets[0]["id"].as_i64().unwrap();

    // A second message continues the open ticket.
    app.deliver(&t, &fixtures::message(3, customer, "Any news?")).await;
    wait_until(Duration::from_secs(10), || Some(()).filter(|_| processed(&app) >= 3)).await.expect("three updates processed");
    let (_, msgs) = app.tenant_get(&t.slug, &format!("/tickets/{id}/messages"), &owner).await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), 2, "{msgs}");
    assert_eq!(tickets_of(&app, &t.slug, &owner).await.len(), 1);

    // The owner answers; the answer reaches the customer's chat.
    let (s, m) = app.tenant_post(&t.slug, &format!("/tickets/{id}/messages"), &owner, json!({"text": "We are sending a new lamp."})).await;
    assert_eq!(s, 201, "{m}");
    let sent = app.wait_sent(&t, customer, 3).await;
    assert!(sent[2].contains("We are sending a new lamp.") && sent[2].contains("#1"), "{sent:?}");
    let (_, ticket) = app.tenant_get(&t.slug, &format!("/tickets/{id}"), &owner).await;
    assert_eq!(ticket["status"], "waiting_response");
    assert!(ticket["first_response_at"].is_string());

    // An internal note is not sent.
    let (s, _) = app.tenant_post(&t.slug, &format!("/tickets/{id}/messages"), &owner, json!({"text": "VIP", "internal": true})).await;
    assert_eq!(s, 201);

    // The customer sees their ticket but not the note; validation applies.
    let cust = app.sign_in(&t, customer).await;
    let (_, msgs) = app.tenant_get(&t.slug, &format!("/tickets/{id}/messages"), &cust).await;
    assert!(msgs["items"].as_array().unwrap().iter().all(|m| m["internal"] == false), "{msgs}");
    let (s, _) = app.tenant_post(&t.slug, "/tickets", &cust, json!({"title": "", "description": "x"})).await;
    assert_eq!(s, 400);
    let (s, _) = app.tenant_post(&t.slug, "/tickets", &cust, json!({"title": "x".repeat(201), "description": "x"})).await;
    assert_eq!(s, 400);
    let (s, created) = app.tenant_post(&t.slug, "/tickets", &cust, json!({"title": "Invoice", "description": "Need a copy", "priority": "high"})).await;
    assert_eq!((s, created["priority"].as_str()), (201, Some("high")), "{created}");
    // Another customer sees none of it: someone else's ticket is a 404.
    let stranger = app.sign_in(&t, 77_777).await;
    assert!(tickets_of(&app, &t.slug, &stranger).await.is_empty());
    let (s, _) = app.tenant_get(&t.slug, &format!("/tickets/{id}"), &stranger).await;
    assert_eq!(s, 404);
    let (s, body) = app.tenant_post(&t.slug, &format!("/tickets/{id}/messages"), &stranger, json!({"text": "hi"})).await;
    assert_eq!((s, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
    // A later public reply is sent in order after anything queued before
    // it: once it arrived, the note (and the stranger's "hi") would have too.
    let (s, m) = app.tenant_post(&t.slug, &format!("/tickets/{id}/messages"), &owner, json!({"text": "Marker reply."})).await;
    assert_eq!(s, 201, "{m}");
    let sent = app.wait_sent(&t, customer, 4).await;
    assert!(sent[3].contains("Marker reply."), "{sent:?}");
    assert!(!sent.iter().any(|m| m.contains("VIP")), "the internal note was sent: {sent:?}");
    assert_eq!(app.fake.sends_to(&t.token, customer).len(), 4, "{sent:?}");
}

fn processed(app: &TestApp) -> u64 {
    tikethet_runtime::Runtime::counter(&app.state.runtime.metrics().updates_processed)
}

async fn webhook_refuses_wrong_secret_and_stores_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 1_234_567;
    let msg = fixtures::message(500, customer, "Hello there");
    let body = msg.to_string();
    assert_eq!(app.post_webhook(&t, None, &body).await, 401);
    assert_eq!(app.post_webhook(&t, Some("wrong-secret-wrong-secret-wrong-secret"), &body).await, 401);
    let real = app.fake.webhook(&t.token).unwrap().secret_token.unwrap();
    let almost = format!("{}x", &real[..real.len() - 1]);
    assert_eq!(app.post_webhook(&t, Some(&almost), &body).await, 401);
    // An unknown route is 404.
    let res = app.http.post(app.url("/tg/rdoesnotexist")).body(body.clone()).send().await.unwrap();
    assert_eq!(res.status(), 404);
    // Nothing was stored: the same update_id with the right secret is new.
    assert_eq!(app.post_webhook(&t, Some(&real), &body).await, 200);
    let row = app.wait_processed("acme", 500).await;
    assert_eq!(row.status, "done");
    assert_eq!(app.inbox("acme").await.len(), 1, "a refused delivery left a row");
    let sent = app.wait_sent(&t, customer, 1).await;
    assert!(sent[0].contains("#1") && sent[0].contains("Hello there"), "{sent:?}");
    let out = app.wait_outbox_settled("acme").await;
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(app.fake.sends_to(&t.token, customer).len(), 1);
}

async fn malformed_and_unhandled_updates_are_acknowledged_and_recorded(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let secret = app.fake.webhook(&t.token).unwrap().secret_token.unwrap();
    for body in [
        "{not json".to_owned(),
        "[]".to_owned(),
        r#"{"update_id":"x"}"#.to_owned(),
        fixtures::named("edited_message", 900).to_string(),
        fixtures::named("group_message", 901).to_string(),
        r#"{"update_id":902,"message":{"weird":true}}"#.to_owned(),
        r#"{"update_id":903,"poll":{"id":"1","question":"?","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}"#.to_owned(),
    ] {
        assert_eq!(app.post_webhook(&t, Some(&secret), &body).await, 200, "{body}");
    }
    // A sticker is handled: it opens a ticket like any message.
    assert_eq!(app.deliver(&t, &fixtures::named("message_photo", 904)).await, 200);
    let sent = app.wait_sent(&t, 1111111, 1).await;
    assert!(sent[0].contains("#1") && sent[0].contains("Sticker"), "{sent:?}");

    // Everything is in the inbox, with the reason for what was not processed.
    let rows = tikethet_tests::helpers::wait_for(Duration::from_secs(20), || async {
        let rows = app.inbox("acme").await;
        (rows.len() == 8 && rows.iter().all(|r| r.status != "pending")).then_some(rows)
    })
    .await
    .unwrap_or_else(|| panic!("eight updates, all settled, expected"));
    assert_eq!(rows.len(), 8, "{rows:#?}");
    let kinds: Vec<(&str, &str)> = rows.iter().map(|r| (r.kind.as_str(), r.status.as_str())).collect();
    assert_eq!(&kinds[..3], &[("malformed", "ignored"), ("malformed", "ignored"), ("malformed", "ignored")]);
    assert_eq!(kinds[3], ("edited_message", "ignored"));
    assert_eq!(kinds[4].0, "message"); // a group message: processed and ignored
    assert_eq!(kinds[5], ("message", "ignored"));
    assert!(rows[5].error.as_deref().unwrap().contains("not a valid"));
    assert_eq!(kinds[6], ("poll", "ignored"));
    // The server never answered 500, and it still works.
    assert_eq!(app.deliver(&t, &fixtures::message(905, 3, "still here")).await, 200);
    app.wait_sent(&t, 3, 1).await;
}

async fn tokens_and_init_data_are_bound_to_their_tenant(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.create_tenant("acme", 1).await;
    let z = app.create_tenant("zeta", 2).await;
    let a_owner = app.sign_in(&a, a.owner).await;
    let (s, body) = app.tenant_get(&a.slug, "/tickets", &a_owner).await;
    assert_eq!((s, &body["items"]), (200, &json!([])), "{body}");
    // A token of one tenant is refused by the other.
    let (s, body) = app.tenant_get(&z.slug, "/tickets", &a_owner).await;
    assert_eq!(s, 401, "{body}");
    let (s, _) = app.tenant_get(&z.slug, "/auth/me", &a_owner).await;
    assert_eq!(s, 401);
    // Garbage and missing tokens.
    let (s, _) = app.tenant_get(&a.slug, "/tickets", "garbage").await;
    assert_eq!(s, 401);
    let res = app.http.get(app.url("/t/acme/api/v1/tickets")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // Stale initData (25 hours old) is refused.
    let stale = init_data(&a.token, a.owner, chrono::Utc::now().timestamp() - 25 * 3600);
    let res = app.http.post(app.url("/t/acme/api/v1/auth/telegram")).json(&json!({"init_data": stale})).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // initData signed for tenant z's bot is refused by tenant a.
    let foreign = init_data(&z.token, a.owner, chrono::Utc::now().timestamp());
    let res = app.http.post(app.url("/t/acme/api/v1/auth/telegram")).json(&json!({"init_data": foreign})).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    // The owner of a is a plain user at z.
    let as_user = app.sign_in(&z, a.owner).await;
    let (_, me) = app.tenant_get(&z.slug, "/auth/me", &as_user).await;
    assert_eq!(me["role"], "user");
    // Unknown tenant: 404.
    let res = app.http.post(app.url("/t/nobody/api/v1/auth/telegram")).json(&json!({"init_data": "x"})).send().await.unwrap();
    assert_eq!(res.status(), 404);
    // Refresh rotates; logout revokes.
    let init = init_data(&a.token, a.owner, chrono::Utc::now().timestamp());
    let s1: Value = app.http.post(app.url("/t/acme/api/v1/auth/telegram")).json(&json!({"init_data": init})).send().await.unwrap().json().await.unwrap();
    let rt = s1["refresh_token"].as_str().unwrap();
    let res = app.http.post(app.url("/t/acme/api/v1/auth/refresh")).json(&json!({"refresh_token": rt})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let s2: Value = res.json().await.unwrap();
    assert_ne!(s2["refresh_token"], s1["refresh_token"], "{s2}");
    let (s, me) = app.tenant_get("acme", "/auth/me", s2["access_token"].as_str().unwrap()).await;
    assert_eq!((s, me["role"].as_str()), (200, Some("owner")), "the refreshed access token works: {me}");
    let res = app.http.post(app.url("/t/acme/api/v1/auth/refresh")).json(&json!({"refresh_token": rt})).send().await.unwrap();
    assert_eq!(res.status(), 401, "a used refresh token is dead");
    let rt2 = s2["refresh_token"].as_str().unwrap();
    let res = app.http.post(app.url("/t/zeta/api/v1/auth/refresh")).json(&json!({"refresh_token": rt2})).send().await.unwrap();
    assert_eq!(res.status(), 401, "refresh tokens are per tenant");
    let res = app.http.post(app.url("/t/acme/api/v1/auth/logout")).json(&json!({"refresh_token": rt2})).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = app.http.post(app.url("/t/acme/api/v1/auth/refresh")).json(&json!({"refresh_token": rt2})).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn suspended_tenant_answers_politely_and_resumes(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let res = app.operator(Method::POST, "/api/platform/v1/tenants/acme/suspend", None).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "suspended");
    assert_eq!(app.deliver(&t, &fixtures::message(1, 99, "hello?")).await, 200);
    let sent = app.wait_sent(&t, 99, 1).await;
    assert!(sent[0].contains("paused"), "{sent:?}");
    let (s, body) = app.tenant_get(&t.slug, "/tickets", &owner).await;
    assert_eq!(s, 423, "{body}");
    let res = app.operator(Method::POST, "/api/platform/v1/tenants/acme/resume", None).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "active", "{v}");
    app.deliver(&t, &fixtures::message(2, 99, "hello again")).await;
    let sent = app.wait_sent(&t, 99, 2).await;
    assert!(sent[1].contains("#1"), "{sent:?}");
    assert_eq!(tickets_of(&app, &t.slug, &owner).await.len(), 1, "the suspended-time message opened nothing");
    // PATCH changes name and theme.
    let res = app.operator(Method::PATCH, "/api/platform/v1/tenants/acme", Some(json!({"name": "Acme Care", "theme": "midnight"}))).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!((v["name"].as_str(), v["theme"].as_str(), v["status"].as_str()), (Some("Acme Care"), Some("midnight"), Some("active")), "{v}");
    app.deliver(&t, &fixtures::start(3, 99)).await;
    let sent = app.wait_sent(&t, 99, 3).await;
    assert!(sent[2].contains("Acme Care") && sent[2].starts_with("🌙"), "{sent:?}");
    let res = app.operator(Method::PATCH, "/api/platform/v1/tenants/acme", Some(json!({"theme": "neon"}))).await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    // The refusal names the field and what it accepts.
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("theme") && m.contains("midnight")), "{v}");
}

async fn delete_needs_confirmation_and_removes_everything(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    app.deliver(&t, &fixtures::message(1, 5, "hi")).await;
    app.wait_sent(&t, 5, 1).await;
    let res = app.operator(Method::DELETE, "/api/platform/v1/tenants/acme", None).await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "confirmation_required");
    let res = app.operator(Method::DELETE, "/api/platform/v1/tenants/acme?confirm=wrong", None).await;
    assert_eq!(res.status(), 400);
    let res = app.operator(Method::DELETE, "/api/platform/v1/tenants/acme?confirm=acme", None).await;
    assert_eq!(res.status(), 204);
    assert!(app.fake.webhook(&t.token).is_none(), "deleteWebhook was called");
    assert_eq!(app.operator(Method::GET, "/api/platform/v1/tenants/acme", None).await.status(), 404);
    assert_eq!(app.post_webhook_raw(&t).await, 404);
    // The slug is free again, with empty storage.
    let t2 = app.create_tenant("acme", 2).await;
    let owner = app.sign_in(&t2, t2.owner).await;
    assert!(tickets_of(&app, "acme", &owner).await.is_empty());
}

trait RawWebhook {
    async fn post_webhook_raw(&self, t: &tikethet_tests::helpers::Tenant) -> u16;
}

impl RawWebhook for TestApp {
    /// Posts to the route the tenant had, after its webhook is gone.
    async fn post_webhook_raw(&self, t: &tikethet_tests::helpers::Tenant) -> u16 {
        let url = t.body["webhook_url"].as_str().unwrap().to_owned();
        self.http.post(url).body("{}").send().await.unwrap().status().as_u16()
    }
}

async fn acknowledged_updates_left_pending_are_processed_on_restart(b: Backend) {
    // A crash between the acknowledgement and processing leaves rows in the
    // inbox as "pending"; recovery must process each exactly once.
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    use tikethet_runtime::storage::entities::inbox;
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let tenant = app.state.runtime.tenants().by_slug("acme").unwrap();
    // Telegram delivered these (the crash came after), so the chats are started.
    app.fake.start_chat(&t.token, 11);
    app.fake.start_chat(&t.token, 12);
    let txn = tenant.db.begin().await.unwrap();
    for (i, chat) in [(1, 11), (2, 12), (3, 11)] {
        let body = fixtures::message(7000 + i, chat, &format!("left over {i}"));
        inbox::ActiveModel {
            update_id: Set(Some(7000 + i)),
            chat_id: Set(Some(chat)),
            kind: Set("message".into()),
            payload: Set(body.to_string()),
            status: Set(inbox::PENDING.into()),
            received_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    let (u, _) = app.state.runtime.recover(&tenant).await.unwrap();
    assert_eq!(u, 3);
    let sent11 = app.wait_sent(&t, 11, 1).await;
    app.wait_sent(&t, 12, 1).await;
    assert!(sent11[0].contains("left over 1"), "{sent11:?}");
    let owner = app.sign_in(&t, t.owner).await;
    wait_until(Duration::from_secs(10), || Some(()).filter(|_| processed(&app) >= 3)).await.expect("three updates processed");
    let tickets = tickets_of(&app, "acme", &owner).await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    // Recovering again finds nothing: nothing is processed twice.
    let (u, m) = app.state.runtime.recover(&tenant).await.unwrap();
    assert_eq!((u, m), (0, 0));
}

async fn sender_honours_retry_after_and_backs_off_on_server_errors(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 321;
    // retry_after (3 s) is well above the sender's own first backoff (1 s):
    // only a sender that reads it waits that long.
    app.fake.fail(Failure::retry_after("sendMessage", 3, 1));
    assert_eq!(app.deliver(&t, &fixtures::start(1, customer)).await, 200);
    let sent = app.wait_sent(&t, customer, 1).await;
    assert!(sent[0].contains("welcome"), "{sent:?}");
    let calls = app.fake.sends_to(&t.token, customer);
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [429, 200], "one refusal, one retry: {calls:#?}");
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_secs(3), "retried {gap:?} after a 429 asking for 3 s");

    // A 500 is retried after a backoff, once.
    app.fake.fail(Failure::status("sendMessage", 500, 1));
    assert_eq!(app.deliver(&t, &fixtures::message(2, customer, "after a 500")).await, 200);
    let sent = app.wait_sent(&t, customer, 2).await;
    assert!(sent[1].contains("#1") && sent[1].contains("after a 500"), "{sent:?}");
    let calls = app.fake.sends_to(&t.token, customer);
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [429, 200, 500, 200], "{calls:#?}");
    assert_eq!(calls[2].text(), calls[3].text(), "the same message again");
    let gap = calls[3].at - calls[2].at;
    assert!(gap >= Duration::from_millis(500), "no backoff after a 500: retried after {gap:?}");

    // Each outcome is recorded on its row; a 429 is pacing, not an attempt.
    let out = app.wait_outbox_settled("acme").await;
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(out.iter().all(|o| o.status == "sent" && o.telegram_message_id.is_some() && o.last_error.is_none()), "{out:#?}");
    assert_eq!(out.iter().map(|o| o.attempts).collect::<Vec<_>>(), [1, 2], "{out:#?}");
}

async fn replacing_the_bot_token_moves_the_webhook(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let old_secret = app.fake.webhook(&t.token).unwrap().secret_token.unwrap();
    let new_token = tikethet_tests::helpers::bot_token(3);
    app.fake.add_bot(&new_token, "acme_new_bot");
    let res = app.operator(Method::PUT, "/api/platform/v1/tenants/acme/bot-token", Some(json!({"bot_token": new_token}))).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["bot_username"], "acme_new_bot");
    assert!(app.fake.webhook(&t.token).is_none());
    let wh = app.fake.webhook(&new_token).unwrap();
    assert_ne!(wh.secret_token.as_deref(), Some(old_secret.as_str()));
    let t2 = tikethet_tests::helpers::Tenant { slug: t.slug.clone(), token: new_token.clone(), owner: t.owner, body: t.body.clone() };
    app.deliver(&t2, &fixtures::start(1, 8)).await;
    assert!(app.wait_sent(&t2, 8, 1).await[0].contains("welcome"));
    assert!(app.fake.sent_to(&t.token, 8).is_empty(), "answered through the old bot");
    let bad = tikethet_tests::helpers::bot_token(4);
    let res = app.operator(Method::PUT, "/api/platform/v1/tenants/acme/bot-token", Some(json!({"bot_token": bad}))).await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bot_token_refused", "{v}");
    assert_eq!(app.fake.webhook(&new_token).map(|w| w.url), Some(wh.url), "a refused token changes nothing");
    let shown: Value = app.operator(Method::GET, "/api/platform/v1/tenants/acme", None).await.json().await.unwrap();
    assert_eq!(shown["bot_username"], "acme_new_bot", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_redis_rate_limits_across_the_shared_server() {
    use tikethet_runtime::outbound::limiter::{Limiter, Rate};
    let app = spawn_app_with(Backend::Postgres, Options { redis: true, ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let chat = 55;
    let bot_id = t.token.split(':').next().unwrap();
    let prefix = app.state.settings.redis_prefix.clone();
    // Another node (this test) spends the chat's whole burst in Redis. The
    // server's sends must then wait for slots the other node left, one a
    // second; an in-process limiter would send all three at once.
    let other_node = Limiter::redis(&tikethet_tests::helpers::redis_url(), &prefix).await.expect("Redis runs");
    let per_chat = Rate::per_second(1, 3); // the sender's PER_CHAT
    let chat_key = format!("chat:{bot_id}:{chat}");
    for _ in 0..3 {
        assert_eq!(other_node.try_acquire(&chat_key, per_chat).await.unwrap(), None);
    }
    let spent = std::time::Instant::now();
    for i in 0..3 {
        // Each /start is answered with a welcome.
        assert_eq!(app.deliver(&t, &fixtures::start(i + 1, chat)).await, 200);
    }
    app.wait_sent(&t, chat, 3).await;
    let calls = app.fake.sends_to(&t.token, chat);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(calls.iter().all(|c| c.ok), "{calls:#?}");
    // Slots free at +1 s, +2 s, +3 s after the other node's burst.
    let offsets: Vec<Duration> = calls.iter().map(|c| c.at - spent).collect();
    assert!(offsets[0] >= Duration::from_millis(900), "the first send ignored the burst spent in Redis: {offsets:?}");
    // Each send waits for its own slot (a send held up by a loaded machine
    // does not push the next slot back, so two may then come closer than a
    // second, never more than one a second on average).
    for (k, at) in offsets.iter().enumerate() {
        assert!(*at >= Duration::from_millis(900 * (k as u64 + 1)), "send {k} came before its slot: {offsets:?}");
    }
    // The server's state is in Redis under the documented keys.
    let client = redis::Client::open(tikethet_tests::helpers::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for key in [format!("{prefix}rl:chat:{bot_id}:{chat}"), format!("{prefix}rl:bot:{bot_id}")] {
        let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(exists, "{key} is not in Redis");
    }
}

#[tokio::test]
async fn redis_limiter_is_shared_and_fails_fast_when_redis_is_missing() {
    use tikethet_runtime::outbound::limiter::{Limiter, Rate};
    let prefix = format!("tt_{}:", tikethet_tests::helpers::random_suffix());
    let url = tikethet_tests::helpers::redis_url();
    let a = Limiter::redis(&url, &prefix).await.unwrap_or_else(|e| panic!("Redis must run at {url}: {e:#}"));
    let b = Limiter::redis(&url, &prefix).await.unwrap();
    let rate = Rate::per_second(2, 2);
    assert_eq!(a.try_acquire("k", rate).await.unwrap(), None);
    assert_eq!(b.try_acquire("k", rate).await.unwrap(), None);
    assert!(a.try_acquire("k", rate).await.unwrap().is_some(), "the second node's slot counts for the first");
    let started = std::time::Instant::now();
    let err = Limiter::redis("redis://127.0.0.1:1", &prefix).await.err().expect("no Redis on port 1");
    assert!(format!("{err:#}").contains("Redis"), "{err:#}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
