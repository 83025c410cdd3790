//! The spine under hostile input, failures and concurrency: numbers past
//! their bounds, panics, storage that breaks under one tenant, sessions and
//! roles, and the control plane's edges.

use std::time::Duration;

use reqwest::Method;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use serde_json::{Value, json};
use tikethet_runtime::storage::entities::inbox;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, init_data, spawn_app, wait_until};

on_both!(
    numbers_past_their_bounds_get_400_and_the_server_lives,
    a_panicking_update_is_failed_with_its_reason_and_its_chat_goes_on,
    a_storage_failure_is_retried_with_backoff_and_keeps_the_chat_in_order,
    a_row_left_pending_with_no_lane_is_picked_up_by_the_sweep,
    one_tenants_broken_storage_leaves_the_others_working,
    concurrent_first_sign_ins_of_one_person_all_succeed,
    refresh_tokens_rotate_atomically_and_a_replay_revokes_the_family,
    logout_revokes_the_access_token_too,
    a_new_owner_demotes_the_previous_one_to_admin,
    helpers_see_and_answer_only_tickets_assigned_to_them,
    deletion_is_retryable_and_leftover_storage_is_never_inherited,
    one_bot_serves_one_tenant_even_when_provisioned_concurrently,
    retention_prunes_finished_rows_and_keeps_pending_ones,
    a_customer_message_with_a_nul_character_is_kept_without_it,
);

fn tenant(app: &TestApp, slug: &str) -> std::sync::Arc<tikethet_runtime::Tenant> {
    app.state.runtime.tenants().by_slug(slug).expect("tenant served")
}

async fn inbox_rows(app: &TestApp, slug: &str) -> Vec<inbox::Model> {
    let t = tenant(app, slug);
    let txn = t.db.begin().await.unwrap();
    let rows = inbox::Entity::find().order_by_asc(inbox::Column::Id).all(&txn).await.unwrap();
    txn.commit().await.unwrap();
    rows
}

/// Runs SQL inside a tenant's storage (its schema on PostgreSQL).
async fn tenant_sql(app: &TestApp, slug: &str, sql: &str) {
    let t = tenant(app, slug);
    let txn = t.db.begin().await.unwrap();
    txn.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    txn.commit().await.unwrap();
}

/// Polls the inbox until `pred` holds.
async fn wait_inbox(app: &TestApp, slug: &str, what: &str, pred: impl Fn(&[inbox::Model]) -> bool) -> Vec<inbox::Model> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = inbox_rows(app, slug).await;
        if pred(&rows) {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn numbers_past_their_bounds_get_400_and_the_server_lives(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let long_q = format!("q={}", "a".repeat(201));
    for q in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=18446744073709551616",
        "category=9223372036854775808",
        "category=0",
        "status=bogus",
        "status=open,bogus",
        "sort=title",
        "cursor=!!",
        "cursor=QzEuMg",
        "assignee=x",
        "created_from=yesterday",
        "created_from=2026-01-02T00:00:00Z&created_to=2026-01-01T00:00:00Z",
        long_q.as_str(),
    ] {
        let (s, body) = app.tenant_get("acme", &format!("/tickets?{q}"), &owner).await;
        assert_eq!(s, 400, "{q}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{q}: {body}");
    }
    // A ticket id past i64 in the path, and a negative one.
    let (s, body) = app.tenant_get("acme", "/tickets/9223372036854775808", &owner).await;
    assert_eq!(s, 400, "{body}");
    let (s, _) = app.tenant_get("acme", "/tickets/-1", &owner).await;
    assert_eq!(s, 404);
    let res = app.http.get(app.url("/t/acme/api/v1/plugins/x/failures?limit=100000")).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(res.status(), 400);
    // A body with no content type, and one of the wrong type: 415, our shape.
    let res = app.http.post(app.url("/t/acme/api/v1/tickets")).bearer_auth(&owner).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 415);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_media_type");
    // The server is alive and answers the bounded request.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    let (s, body) = app.tenant_get("acme", "/tickets?limit=100&sort=-created_at", &owner).await;
    assert_eq!((s, body["items"].as_array().map(Vec::len), &body["next_cursor"]), (200, Some(0), &Value::Null), "{body}");
    // The document declares the bounds it enforces.
    let spec: Value = app.http.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let params = spec["paths"]["/t/{slug}/api/v1/tickets"]["get"]["parameters"].as_array().unwrap().clone();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["maximum"], json!(100.0), "{limit}");
    let responses = &spec["paths"]["/t/{slug}/api/v1/tickets"]["post"]["responses"];
    for status in ["201", "400", "401", "413", "415", "500"] {
        assert!(responses.get(status).is_some(), "POST /tickets does not declare {status}: {responses}");
    }
    let title = &spec["components"]["schemas"]["NewTicket"]["properties"]["title"];
    assert_eq!(title["maxLength"], 200, "{title}");
}

async fn a_panicking_update_is_failed_with_its_reason_and_its_chat_goes_on(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 31_337;
    // This debug-build seam makes the handler panic on this one update.
    assert_eq!(app.deliver(&t, &fixtures::message(1, customer, "tikethet-test-panic")).await, 200);
    assert_eq!(app.deliver(&t, &fixtures::message(2, customer, "My order is late")).await, 200);
    let sent = app.wait_sent(&t, customer, 1).await;
    assert!(sent[0].contains("#1") && sent[0].contains("My order is late"), "the next update was handled: {sent:?}");
    let rows = wait_inbox(&app, "acme", "both rows finished", |r| r.len() == 2 && r.iter().all(|x| x.status != "pending")).await;
    assert_eq!(rows[0].status, "failed");
    assert!(rows[0].error.as_deref().unwrap_or_default().contains("panicked"), "{:?}", rows[0]);
    assert_eq!(rows[1].status, "done");
    let metrics = app.http.get(app.url("/metrics")).bearer_auth(tikethet_tests::helpers::OPERATOR_TOKEN).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tikethet_updates_panicked_total 1"), "{metrics}");
    // The operator sees the dead letter and why.
    let res = app.operator(Method::GET, "/api/platform/v1/tenants/acme/queues", None).await;
    assert_eq!(res.status(), 200);
    let q: Value = res.json().await.unwrap();
    assert_eq!((q["inbox_failed"].as_u64(), q["inbox_pending"].as_u64()), (Some(1), Some(0)), "{q}");
    assert_eq!(q["recent_failures"][0]["update_id"], 1, "{q}");
    assert!(q["recent_failures"][0]["error"].as_str().unwrap().contains("panicked"), "{q}");
}

async fn a_storage_failure_is_retried_with_backoff_and_keeps_the_chat_in_order(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 4_040;
    // Tickets cannot be written for a while: the first message fails and
    // waits for a retry; the second must wait behind it, not overtake it.
    tenant_sql(&app, "acme", "ALTER TABLE tickets RENAME TO tickets_away").await;
    assert_eq!(app.deliver(&t, &fixtures::message(1, customer, "first")).await, 200);
    assert_eq!(app.deliver(&t, &fixtures::message(2, customer, "second")).await, 200);
    let rows = wait_inbox(&app, "acme", "a failed try recorded", |r| r.first().is_some_and(|x| x.attempts >= 1)).await;
    assert_eq!(rows[0].status, "pending", "{rows:#?}");
    assert!(rows[0].next_attempt_at.is_some() && rows[0].error.is_some(), "{rows:#?}");
    assert_eq!(rows[1].status, "pending", "the later update waits behind the failing one: {rows:#?}");
    assert!(app.fake.sent_to(&t.token, customer).is_empty());
    tenant_sql(&app, "acme", "ALTER TABLE tickets_away RENAME TO tickets").await;
    let sent = app.wait_sent(&t, customer, 1).await;
    assert!(sent[0].contains("first"), "{sent:?}");
    wait_inbox(&app, "acme", "both done", |r| r.len() == 2 && r.iter().all(|x| x.status == "done")).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    let texts: Vec<&str> = msgs["items"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["first", "second"], "in update order");
    assert!(app.metric("tikethet_updates_retried_total").await >= 1, "the failed tries were counted");
}

async fn a_row_left_pending_with_no_lane_is_picked_up_by_the_sweep(b: Backend) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    // A row written behind the runtime's back: nothing kicks its lane.
    app.fake.start_chat(&t.token, 707);
    let tn = tenant(&app, "acme");
    let txn = tn.db.begin().await.unwrap();
    inbox::ActiveModel {
        update_id: Set(Some(77)),
        chat_id: Set(Some(707)),
        kind: Set("message".into()),
        payload: Set(fixtures::message(77, 707, "found by the sweep").to_string()),
        status: Set(inbox::PENDING.into()),
        received_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let sent = app.wait_sent(&t, 707, 1).await;
    assert!(sent[0].contains("found by the sweep"), "{sent:?}");
}

async fn one_tenants_broken_storage_leaves_the_others_working(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.create_tenant("acme", 1).await;
    let z = app.create_tenant("zeta", 2).await;
    assert_eq!(app.deliver(&a, &fixtures::message(1, 10, "before")).await, 200);
    app.wait_sent(&a, 10, 1).await;
    // Kill acme's storage mid-run.
    match b {
        Backend::Postgres => {
            let schema = format!("{}_acme", app.state.settings.database_schema);
            // The desk is still busy (its sender, its lanes): DROP SCHEMA can
            // deadlock with one of its transactions, and PostgreSQL then
            // aborts one of the two. Try again, as an operator would.
            let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
            let mut tries = 0;
            while let Err(e) = app.state.storage.control().execute_unprepared(&drop).await {
                tries += 1;
                assert!(tries < 10 && e.to_string().contains("deadlock"), "dropping the schema: {e}");
            }
        }
        Backend::Sqlite => tenant_sql(&app, "acme", "DROP TABLE inbox").await,
    }
    // acme's deliveries cannot be stored: 503 (Telegram will retry), never 200.
    assert_eq!(app.fake.deliver(&a.token, &fixtures::message(2, 10, "after")).await.unwrap(), 503);
    // zeta is untouched: acknowledged, processed, answered, many times.
    for i in 0..10 {
        assert_eq!(app.deliver(&z, &fixtures::message(100 + i, 20 + i, &format!("zeta {i}"))).await, 200);
    }
    for i in 0..10 {
        let sent = app.wait_sent(&z, 20 + i, 1).await;
        assert!(sent[0].contains(&format!("zeta {i}")), "{sent:?}");
    }
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
}

async fn concurrent_first_sign_ins_of_one_person_all_succeed(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let init = init_data(&t.token, 999_001, chrono::Utc::now().timestamp());
    let calls = (0..8).map(|_| {
        app.http.post(app.url("/t/acme/api/v1/auth/telegram")).json(&json!({ "init_data": init })).send()
    });
    let answers = futures::future::join_all(calls).await;
    let mut ids = Vec::new();
    for a in answers {
        let a = a.unwrap();
        let status = a.status();
        let v: Value = a.json().await.unwrap();
        assert_eq!(status, 200, "{v}");
        ids.push(v["user"]["id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one user: {ids:?}");
}

async fn sign_in_full(app: &TestApp, slug: &str, token: &str, who: i64) -> Value {
    let init = init_data(token, who, chrono::Utc::now().timestamp());
    let res = app.http.post(app.url(&format!("/t/{slug}/api/v1/auth/telegram"))).json(&json!({ "init_data": init })).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn refresh(app: &TestApp, slug: &str, rt: &str) -> (u16, Value) {
    let res = app.http.post(app.url(&format!("/t/{slug}/api/v1/auth/refresh"))).json(&json!({ "refresh_token": rt })).send().await.unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn refresh_tokens_rotate_atomically_and_a_replay_revokes_the_family(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    // Two uses of one token at once: exactly one wins.
    let s0 = sign_in_full(&app, "acme", &t.token, 5).await;
    let rt0 = s0["refresh_token"].as_str().unwrap().to_owned();
    let (a, b2) = tokio::join!(refresh(&app, "acme", &rt0), refresh(&app, "acme", &rt0));
    let mut statuses = [a.0, b2.0];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{a:?} {b2:?}");

    // A fresh family: rotate twice, then replay the first token.
    let s1 = sign_in_full(&app, "acme", &t.token, 6).await;
    let rt1 = s1["refresh_token"].as_str().unwrap().to_owned();
    let (s, v2) = refresh(&app, "acme", &rt1).await;
    assert_eq!(s, 200);
    let rt2 = v2["refresh_token"].as_str().unwrap().to_owned();
    let (s, v3) = refresh(&app, "acme", &rt2).await;
    assert_eq!(s, 200);
    let rt3 = v3["refresh_token"].as_str().unwrap().to_owned();
    let (s, _) = refresh(&app, "acme", &rt1).await;
    assert_eq!(s, 401, "a rotated token is refused");
    let (s, body) = refresh(&app, "acme", &rt3).await;
    assert_eq!(s, 401, "the replay revoked the newest token of the family too: {body}");
    // Another family of the same user is untouched.
    let other = sign_in_full(&app, "acme", &t.token, 6).await;
    assert_eq!(refresh(&app, "acme", other["refresh_token"].as_str().unwrap()).await.0, 200);
}

async fn logout_revokes_the_access_token_too(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let s = sign_in_full(&app, "acme", &t.token, 7).await;
    let access = s["access_token"].as_str().unwrap();
    assert_eq!(app.tenant_get("acme", "/auth/me", access).await.0, 200);
    let res = app
        .http
        .post(app.url("/t/acme/api/v1/auth/logout"))
        .bearer_auth(access)
        .json(&json!({ "refresh_token": s["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (st, body) = app.tenant_get("acme", "/auth/me", access).await;
    assert_eq!(st, 401, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"), "{body}");
    assert_eq!(refresh(&app, "acme", s["refresh_token"].as_str().unwrap()).await.0, 401);
    // Another session of the same person still works.
    let other = sign_in_full(&app, "acme", &t.token, 7).await;
    assert_eq!(app.tenant_get("acme", "/auth/me", other["access_token"].as_str().unwrap()).await.0, 200);
}

async fn a_new_owner_demotes_the_previous_one_to_admin(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let old = app.sign_in(&t, t.owner).await;
    let newcomer = 6_000_001;
    let newbie = app.sign_in(&t, newcomer).await;
    let res = app.operator(Method::PATCH, "/api/platform/v1/tenants/acme", Some(json!({ "owner_telegram_id": newcomer }))).await;
    assert_eq!(res.status(), 200);
    let (_, me) = app.tenant_get("acme", "/auth/me", &old).await;
    assert_eq!(me["role"], "admin", "the previous owner's live token: {me}");
    let again = app.sign_in(&t, t.owner).await;
    let (_, me) = app.tenant_get("acme", "/auth/me", &again).await;
    assert_eq!(me["role"], "admin", "and a fresh sign-in: {me}");
    let (_, me) = app.tenant_get("acme", "/auth/me", &newbie).await;
    assert_eq!(me["role"], "owner", "{me}");
}

async fn helpers_see_and_answer_only_tickets_assigned_to_them(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let helper_tg = 8_000_001;
    let moderator_tg = 8_000_002;
    let helper = app.sign_in(&t, helper_tg).await;
    let moderator = app.sign_in(&t, moderator_tg).await;
    for (i, c) in [(1, 81), (2, 82)] {
        app.deliver(&t, &fixtures::message(i, c, &format!("problem {i}"))).await;
        app.wait_sent(&t, c, 1).await;
    }
    // Roles and assignment have no API yet: set them in the desk's storage.
    tenant_sql(&app, "acme", &format!("UPDATE users SET role = 'helper' WHERE telegram_id = {helper_tg}")).await;
    tenant_sql(&app, "acme", &format!("UPDATE users SET role = 'moderator' WHERE telegram_id = {moderator_tg}")).await;
    tenant_sql(&app, "acme", &format!("UPDATE tickets SET assignee_id = (SELECT id FROM users WHERE telegram_id = {helper_tg}) WHERE id = 1")).await;

    let (s, list) = app.tenant_get("acme", "/tickets", &helper).await;
    assert_eq!(s, 200);
    let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!((ids, list["total"].as_u64()), (vec![1], Some(1)), "{list}");
    assert_eq!(app.tenant_get("acme", "/tickets/2", &helper).await.0, 404);
    assert_eq!(app.tenant_get("acme", "/tickets/2/messages", &helper).await.0, 404);
    assert_eq!(app.tenant_post("acme", "/tickets/2/messages", &helper, json!({"text": "hi"})).await.0, 404);
    let (s, m) = app.tenant_post("acme", "/tickets/1/messages", &helper, json!({"text": "On it."})).await;
    assert_eq!(s, 201, "{m}");
    let sent = app.wait_sent(&t, 81, 2).await;
    assert!(sent[1].contains("On it."), "{sent:?}");
    // A moderator sees everything.
    let (_, list) = app.tenant_get("acme", "/tickets", &moderator).await;
    assert_eq!(list["total"], 2, "{list}");
    assert_eq!(app.tenant_post("acme", "/tickets/2/messages", &moderator, json!({"text": "Looking"})).await.0, 201);
}

async fn deletion_is_retryable_and_leftover_storage_is_never_inherited(b: Backend) {
    use sea_orm::Statement;
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    app.deliver(&t, &fixtures::message(1, 5, "hi")).await;
    app.wait_sent(&t, 5, 1).await;
    // A deletion that stopped half-way (marked, storage still there) can be
    // retried and finishes.
    let control = app.state.storage.control();
    let backend = control.get_database_backend();
    let mark = match backend {
        sea_orm::DbBackend::Postgres => "UPDATE tenants SET status = 'deleting' WHERE slug = $1",
        _ => "UPDATE tenants SET status = 'deleting' WHERE slug = ?",
    };
    control.execute_raw(Statement::from_sql_and_values(backend, mark, ["acme".into()])).await.unwrap();
    // Served by nobody while deleting.
    wait_until(Duration::from_secs(10), || app.state.runtime.tenants().by_slug("acme").is_none().then_some(())).await.expect("no longer served");
    let res = app.operator(Method::DELETE, "/api/platform/v1/tenants/acme?confirm=acme", None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.operator(Method::DELETE, "/api/platform/v1/tenants/acme?confirm=acme", None).await.status(), 404);
    // Leftover storage under a slug is refused, not adopted.
    match b {
        Backend::Postgres => {
            let schema = format!("{}_zeta", app.state.settings.database_schema);
            control.execute_unprepared(&format!("CREATE SCHEMA \"{schema}\"")).await.unwrap();
        }
        Backend::Sqlite => {
            let dir = app.state.settings.database_url.trim_start_matches("sqlite://").to_owned();
            let file = std::path::Path::new(&dir).parent().unwrap().join("tenants/zeta.db");
            std::fs::write(&file, b"").unwrap();
        }
    }
    let token = tikethet_tests::helpers::bot_token(7);
    app.fake.add_bot(&token, "zeta_bot");
    let res = app
        .operator(Method::POST, "/api/platform/v1/tenants", Some(json!({"slug": "zeta", "name": "Zeta", "bot_token": token, "owner_telegram_id": 1})))
        .await;
    assert_eq!(res.status(), 409);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "storage_exists", "{v}");
    assert_eq!(app.operator(Method::GET, "/api/platform/v1/tenants/zeta", None).await.status(), 404);
    // The slug of a finished deletion is free, with empty storage.
    let t2 = app.create_tenant("acme", 2).await;
    let owner = app.sign_in(&t2, t2.owner).await;
    let (_, list) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(list["total"], 0, "{list}");
}

async fn one_bot_serves_one_tenant_even_when_provisioned_concurrently(b: Backend) {
    let app = spawn_app(b).await;
    let token = tikethet_tests::helpers::bot_token(3);
    app.fake.add_bot(&token, "shared_bot");
    let create = |slug: &'static str| {
        app.operator(Method::POST, "/api/platform/v1/tenants", Some(json!({"slug": slug, "name": slug, "bot_token": token, "owner_telegram_id": 1})))
    };
    let (a, z) = tokio::join!(create("alpha"), create("omega"));
    let mut statuses = [a.status().as_u16(), z.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let res = app.operator(Method::GET, "/api/platform/v1/tenants", None).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

async fn retention_prunes_finished_rows_and_keeps_pending_ones(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    for i in 1..=3 {
        app.deliver(&t, &fixtures::message(i, 30 + i, "hello")).await;
        app.wait_sent(&t, 30 + i, 1).await;
    }
    wait_inbox(&app, "acme", "all done", |r| r.len() == 3 && r.iter().all(|x| x.status == "done")).await;
    // Age one finished row past the retention period, and add an old row
    // that is still pending (its next try a day away, so it stays so).
    let ts = |d: chrono::DateTime<chrono::Utc>| {
        let s = d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
        match b {
            Backend::Postgres => format!("'{s}'::timestamptz"),
            Backend::Sqlite => format!("'{s}'"),
        }
    };
    let old = ts(chrono::Utc::now() - chrono::Duration::days(8));
    let later = ts(chrono::Utc::now() + chrono::Duration::days(1));
    tenant_sql(&app, "acme", &format!("UPDATE inbox SET received_at = {old} WHERE update_id = 1")).await;
    let payload = fixtures::message(50, 999, "waiting").to_string().replace('\'', "''");
    tenant_sql(
        &app,
        "acme",
        &format!("INSERT INTO inbox (update_id, chat_id, kind, payload, status, received_at, attempts, next_attempt_at) VALUES (50, 999, 'message', '{payload}', 'pending', {old}, 1, {later})"),
    )
    .await;
    let tn = tenant(&app, "acme");
    let pruned = app.state.runtime.prune(&tn).await.unwrap();
    assert_eq!(pruned, 1, "only the old finished row");
    let rows = inbox_rows(&app, "acme").await;
    let ids: Vec<Option<i64>> = rows.iter().map(|r| r.update_id).collect();
    assert_eq!(ids, vec![Some(2), Some(3), Some(50)], "recent rows and the old pending one stay");
    assert_eq!(app.metric("tikethet_rows_pruned_total").await, 1, "the pruned row was counted");
}

/// A Redis server of the test's own, on a free port, so it can be stopped.
struct OwnRedis {
    child: std::process::Child,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (the README's test setup installs it)");
        OwnRedis { child }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn ready(app_url: &str) -> (u16, String) {
    let res = reqwest::get(format!("{app_url}/readyz")).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_while_redis_is_down_and_recovers() {
    use tikethet_platform::Application;
    use tikethet_platform::config::{Settings, Sources};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redis = OwnRedis::start(port);
    let url = format!("redis://127.0.0.1:{port}");
    let up = wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).ok()).await;
    assert!(up.is_some(), "own redis-server did not start");
    let fake = tikethet_tests::fake_telegram::FakeTelegram::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut m, _) = tikethet_tests::helpers::test_settings(Backend::Sqlite, dir.path(), &fake.url, false);
    m.insert("TIKETHET_LISTEN".into(), "127.0.0.1:0".into());
    m.insert("TIKETHET_REDIS_URL".into(), url);
    let app = Application::build(Settings::load(&Sources::from_map(m)).unwrap()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    assert_eq!(ready(&base).await, (200, "ready".to_owned()));
    drop(redis);
    let (status, body) = ready(&base).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Redis") && body.contains("\"unavailable\""), "{body}");
    // Liveness is not readiness: the process still answers.
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    let _redis = OwnRedis::start(port);
    let mut last = (0, String::new());
    for _ in 0..100 {
        last = ready(&base).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 200, "ready again once Redis is back: {}", last.1);
    let _ = tx.send(());
}

async fn a_customer_message_with_a_nul_character_is_kept_without_it(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    assert_eq!(app.deliver(&t, &fixtures::message(1, 61, "Broken\u{0}lamp")).await, 200);
    assert_eq!(app.deliver(&t, &fixtures::message(2, 61, "still\u{0}\u{0} broken")).await, 200);
    let sent = app.wait_sent(&t, 61, 1).await;
    assert!(sent[0].contains("Brokenlamp"), "{sent:?}");
    let rows = wait_inbox(&app, "acme", "both done", |r| r.len() == 2 && r.iter().all(|x| x.status != "pending")).await;
    assert!(rows.iter().all(|r| r.status == "done"), "{rows:#?}");
    let owner = app.sign_in(&t, t.owner).await;
    let (_, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    let texts: Vec<&str> = msgs["items"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["Brokenlamp", "still broken"]);
}

#[tokio::test]
async fn the_redis_denylist_is_shared_by_nodes_until_the_token_would_expire() {
    use tikethet_runtime::auth::Denylist;
    use tikethet_runtime::outbound::limiter::Limiter;
    let prefix = format!("tt_{}:", tikethet_tests::helpers::random_suffix());
    let url = tikethet_tests::helpers::redis_url();
    let node = |l: Limiter| {
        let (conn, prefix) = l.redis_connection().expect("a Redis limiter");
        Denylist::Redis { conn, prefix }
    };
    let a = node(Limiter::redis(&url, &prefix).await.unwrap_or_else(|e| panic!("Redis must run at {url}: {e:#}")));
    let b = node(Limiter::redis(&url, &prefix).await.unwrap());
    let now = chrono::Utc::now().timestamp();
    assert!(!b.is_revoked("jti-a").await.unwrap());
    a.revoke("jti-a", now + 3).await.unwrap();
    assert!(b.is_revoked("jti-a").await.unwrap(), "revoked on one node, refused on the other");
    assert!(!b.is_revoked("jti-b").await.unwrap(), "only that token");
    // Kept through the last second the token would be accepted (its exp
    // plus the verifier's leeway), and dropped right after: Redis deletes
    // the key when its clock reaches EXPIRETIME.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let expires: i64 = redis::cmd("EXPIRETIME").arg(format!("{prefix}revoked:jti-a")).query_async(&mut conn).await.unwrap();
    assert_eq!(expires, now + 3 + tikethet_runtime::auth::LEEWAY_SECS + 1);
}
