//! Tenant plugins end to end: uploaded through the API, run on the bot's
//! conversation (contract 1.3.0's status, reminder and customer attribute
//! included), failing safely.

use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, spawn_app, test_plugin, wait_until};

on_both!(
    keyword_plugin_uploaded_through_the_api_answers_the_customer,
    router_plugin_routes_new_tickets,
    a_failing_plugin_is_switched_off_after_five_failures_and_admins_are_told,
    plugins_act_in_their_order_and_stop_ends_the_chain,
    key_value_store_is_not_saved_after_a_failed_call,
    a_1_3_0_plugin_sets_the_status_reminds_staff_and_sets_a_customer_attribute,
);

fn component(name: &str) -> Vec<u8> {
    let path = tikethet_plugins::build::build_bundled(name).unwrap_or_else(|e| panic!("building plugin {name}: {e:#}"));
    std::fs::read(path).unwrap()
}

pub(crate) async fn upload(app: &TestApp, slug: &str, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let res = app
        .http
        .put(app.url(&format!("/t/{slug}/api/v1/plugins/{name}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn patch(app: &TestApp, slug: &str, token: &str, name: &str, body: Value) -> (u16, Value) {
    let res = app.http.patch(app.url(&format!("/t/{slug}/api/v1/plugins/{name}"))).bearer_auth(token).json(&body).send().await.unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn keyword_plugin_uploaded_through_the_api_answers_the_customer(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, p) = upload(&app, "acme", &owner, "keyword-reply", component("keyword-reply")).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!((p["version"].as_str(), p["enabled"].as_bool()), (Some("1.1.0"), Some(true)), "{p}");
    let cfg = json!({"rules": [{"keywords": ["refund"], "answer": "Refunds take 5 working days."}]});
    let (s, p) = patch(&app, "acme", &owner, "keyword-reply", json!({"config": cfg})).await;
    assert_eq!((s, &p["config"]), (200, &cfg));

    // A customer cannot manage plugins; a broken upload is refused.
    let customer = app.sign_in(&t, 4242).await;
    assert_eq!(upload(&app, "acme", &customer, "x", component("keyword-reply")).await.0, 403);
    let (s, body) = upload(&app, "acme", &owner, "junk", b"\0asm not really".to_vec()).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(upload(&app, "acme", &owner, "Bad Name", vec![1]).await.0, 400);

    app.deliver(&t, &fixtures::message(1, 4242, "Where is my refund?")).await;
    let sent = app.wait_sent(&t, 4242, 2).await;
    assert!(sent.contains(&"Refunds take 5 working days.".to_owned()), "{sent:?}");
    assert!(sent.iter().any(|m| m.contains("#1")), "the default handling still opened a ticket: {sent:?}");
    app.deliver(&t, &fixtures::message(2, 4242, "thanks")).await;
    // The update's effects (answers queued, plugin calls metered) commit
    // with its "done" mark; once done, nothing more can come of it.
    assert_eq!(app.wait_processed("acme", 2).await.status, "done");
    let out = app.wait_outbox_settled("acme").await;
    let to_customer: Vec<_> = out.iter().filter(|o| o.chat_id == 4242).collect();
    assert_eq!(to_customer.len(), 2, "no keyword, no answer: {out:#?}");
    // The rest: the owner told of the new ticket.
    assert!(out.iter().filter(|o| o.chat_id != 4242).all(|o| o.chat_id == t.owner && o.text.starts_with("New ticket #1")), "{out:#?}");
    assert_eq!(app.fake.sent_to(&t.token, 4242).len(), 2);

    let res = app.http.get(app.url("/t/acme/api/v1/plugins")).bearer_auth(&owner).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    // Two messages and the ticket the first one opened.
    assert_eq!(list["items"][0]["invocations"], 3, "{list}");
    // Invocations are metered per tenant for billing.
    use sea_orm::EntityTrait;
    let tenant = app.state.runtime.tenants().by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    let usage = tikethet_runtime::storage::entities::usage_counters::Entity::find().all(&txn).await.unwrap();
    txn.commit().await.unwrap();
    let calls: i64 = usage.iter().filter(|u| u.metric == tikethet_runtime::storage::entities::usage_counters::PLUGIN_INVOCATIONS).map(|u| u.count).sum();
    assert_eq!(calls, 3, "{usage:?}");
    // And timed, by hook, on /metrics.
    let name = "tikethet_plugin_call_duration_seconds";
    assert_eq!(app.histogram_count(name, r#"hook="on-message""#).await, 2);
    assert_eq!(app.histogram_count(name, r#"hook="on-ticket-created""#).await, 1);
    assert!(app.histogram_count(name, r#"hook="install""#).await >= 1, "the upload compiled it on the plugin pool");
}

async fn router_plugin_routes_new_tickets(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await; // username "owner", role owner
    let (s, p) = upload(&app, "acme", &owner, "router", component("router")).await;
    assert_eq!((s, p["name"].as_str(), p["enabled"].as_bool()), (200, Some("router"), Some(true)), "{p}");
    let cfg = json!({"routes": [{"keywords": ["invoice"], "category": "billing", "priority": "critical"}], "agents": ["owner", "ghost"]});
    let (s, p) = patch(&app, "acme", &owner, "router", json!({"config": cfg})).await;
    assert_eq!((s, &p["config"]), (200, &cfg), "{p}");

    app.deliver(&t, &fixtures::message(1, 777, "Invoice is wrong")).await;
    app.wait_sent(&t, 777, 1).await;
    let id = 1;
    let (s, ticket) = app.tenant_get("acme", &format!("/tickets/{id}"), &owner).await;
    assert_eq!(s, 200);
    assert_eq!(ticket["priority"], "critical", "{ticket}");
    assert!(ticket["category_id"].is_i64(), "{ticket}");
    let (_, me) = app.tenant_get("acme", "/auth/me", &owner).await;
    assert_eq!(ticket["assignee_id"], me["id"], "{ticket}");
    let (_, tags) = app.tenant_get("acme", &format!("/tickets/{id}/tags"), &owner).await;
    assert_eq!(tags["items"], json!(["billing"]));

    // The round-robin turn moved on: the next ticket goes to "ghost", who is
    // not staff here, so the desk notes it instead of assigning.
    let (s, created) = app.tenant_post("acme", "/tickets", &owner, json!({"title": "Another invoice", "description": "x"})).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["priority"], "critical");
    assert!(created["assignee_id"].is_null(), "{created}");
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{}/messages", created["id"]), &owner).await;
    assert!(msgs["items"].as_array().unwrap().iter().any(|m| m["internal"] == true && m["text"].as_str().unwrap().contains("ghost")), "{msgs}");
}

async fn a_failing_plugin_is_switched_off_after_five_failures_and_admins_are_told(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, p) = upload(&app, "acme", &owner, "hostile", component("hostile")).await;
    assert_eq!((s, p["enabled"].as_bool()), (200, Some(true)), "{p}");
    let (s, p) = patch(&app, "acme", &owner, "hostile", json!({"config": {"mode": "trap"}})).await;
    assert_eq!((s, &p["config"]), (200, &json!({"mode": "trap"})), "{p}");
    let customer = 9191;
    for i in 1..=6 {
        app.deliver(&t, &fixtures::message(i, customer, &format!("message {i}"))).await;
    }
    // The conversation went on without the plugin: the ticket opened.
    let sent = app.wait_sent(&t, customer, 1).await;
    assert!(sent[0].contains("#1"), "{sent:?}");
    // (The owner also hears of the new ticket.)
    let told = wait_until(Duration::from_secs(10), || app.fake.sent_to(&t.token, t.owner).into_iter().find(|m| m.contains("switched off"))).await;
    let told = told.unwrap_or_else(|| panic!("the owner was not told: {:?}", app.fake.sent_to(&t.token, t.owner)));
    assert!(told.contains("hostile") && told.contains("trap"), "{told:?}");
    // Every message still reached the ticket.
    let all_in = wait_until(Duration::from_secs(10), || Some(()).filter(|_| app.state.runtime.metrics().updates_processed.load(std::sync::atomic::Ordering::Relaxed) >= 6)).await;
    assert!(all_in.is_some());
    let (_, msgs) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), 6, "{msgs}");

    let res = app.http.get(app.url("/t/acme/api/v1/plugins/hostile/failures")).bearer_auth(&owner).send().await.unwrap();
    let failures: Value = res.json().await.unwrap();
    let items = failures["items"].as_array().unwrap();
    // Message 1 fails in both hooks (its ticket opened), messages 2 to 4 in
    // on-message: five in a row, and the plugin is off for messages 5 and 6.
    assert_eq!(items.len(), 5, "a switched-off plugin does not run: {failures}");
    assert!(items.iter().all(|f| f["kind"] == "trap"), "{failures}");
    assert_eq!(items.iter().filter(|f| f["hook"] == "on-ticket-created").count(), 1, "{failures}");
    assert_eq!(items[0]["input"]["hook"], "on-message");
    assert_eq!(items[0]["input"]["text"], "message 4", "{}", items[0]);
    let res = app.http.get(app.url("/t/acme/api/v1/plugins")).bearer_auth(&owner).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["items"][0]["enabled"], false);
    assert!(list["items"][0]["disabled_reason"].as_str().unwrap().contains("5 failures"), "{list}");
    // Re-enabled with a sane config, it works again.
    let (s, p) = patch(&app, "acme", &owner, "hostile", json!({"enabled": true, "config": {"mode": "ok"}})).await;
    assert_eq!((s, p["consecutive_failures"].as_i64()), (200, Some(0)));
    app.deliver(&t, &fixtures::message(10, customer, "again")).await;
    let sent = wait_until(Duration::from_secs(10), || {
        let s = app.fake.sent_to(&t.token, customer);
        s.iter().any(|m| m == "echo: again").then_some(s)
    })
    .await;
    assert!(sent.is_some(), "{:?}", app.fake.sent_to(&t.token, customer));
}

async fn plugins_act_in_their_order_and_stop_ends_the_chain(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let scripted = test_plugin("scripted");
    for (name, actions) in [
        ("first", json!([["reply", "first 1"], ["reply", "first 2"]])),
        ("second", json!([["reply", "second"], ["stop"]])),
        ("third", json!([["reply", "third"]])),
    ] {
        let (s, p) = upload(&app, "acme", &owner, name, scripted.clone()).await;
        assert_eq!(s, 200, "{p}");
        let (s, p) = patch(&app, "acme", &owner, name, json!({"config": {"actions": actions}})).await;
        assert_eq!(s, 200, "{p}");
    }
    let customer = 8080;
    app.deliver(&t, &fixtures::message(1, customer, "hello")).await;
    assert_eq!(app.wait_processed("acme", 1).await.status, "done");
    // In upload order; "second" stops: no "third", no default handling.
    let out = app.wait_outbox_settled("acme").await;
    let texts: Vec<&str> = out.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(texts, ["first 1", "first 2", "second"]);
    assert_eq!(app.fake.sent_to(&t.token, customer), ["first 1", "first 2", "second"]);
    let (s, list) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!((s, list["items"].as_array().map(Vec::len)), (200, Some(0)), "stop skips the default handling: {list}");

    // Moved to the front, "third" runs first; the chain still stops at "second".
    let (s, p) = patch(&app, "acme", &owner, "third", json!({"position": -1})).await;
    assert_eq!((s, p["position"].as_i64()), (200, Some(-1)), "{p}");
    app.deliver(&t, &fixtures::message(2, customer, "again")).await;
    assert_eq!(app.wait_processed("acme", 2).await.status, "done");
    app.wait_outbox_settled("acme").await;
    assert_eq!(app.fake.sent_to(&t.token, customer)[3..], ["third", "first 1", "first 2", "second"]);
}

async fn a_1_3_0_plugin_sets_the_status_reminds_staff_and_sets_a_customer_attribute(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, p) = upload(&app, "acme", &owner, "scripted", test_plugin("scripted")).await;
    assert_eq!((s, p["version"].as_str()), (200, Some("1.3.0")), "{p}");
    let actions = json!([["attribute", "plan", "pro"], ["status", "in_progress"], ["remind", "A Pro customer is back"]]);
    assert_eq!(patch(&app, "acme", &owner, "scripted", json!({"config": {"actions": actions}})).await.0, 200);
    let customer = 7070;
    app.deliver(&t, &fixtures::message(1, customer, "The printer jams")).await;
    assert_eq!(app.wait_processed("acme", 1).await.status, "done");
    let (_, list) = app.tenant_get("acme", "/tickets", &owner).await;
    let ticket = &list["items"][0];
    let id = ticket["id"].as_i64().unwrap();
    // The ticket the message opened moved on, as staff would move it.
    assert_eq!(ticket["status"], "in_progress", "{ticket}");
    let (_, me) = app.tenant_get("acme", &format!("/users/{}", ticket["customer_id"]), &owner).await;
    assert_eq!(me["attributes"], json!({"plan": "pro"}), "{me}");
    // Nobody is assigned: the moderators and up are reminded.
    app.wait_outbox_settled("acme").await;
    let reminder = format!("⏰ A reminder on #{id} (The printer jams):\nA Pro customer is back");
    let to_owner = app.fake.sent_to(&t.token, t.owner);
    assert_eq!(to_owner.iter().filter(|m| m.starts_with(&reminder)).count(), 1, "{to_owner:?}");
    // The customer is told of the status, as from staff.
    let to_customer = app.fake.sent_to(&t.token, customer);
    assert!(to_customer.iter().any(|m| m.starts_with(&format!("Your ticket #{id} (The printer jams) is now in progress"))), "{to_customer:?}");
    // Both changes are in the audit log, with no person as their author.
    let (_, audit) = app.tenant_get("acme", &format!("/audit?ticket={id}"), &owner).await;
    let kinds: Vec<(&str, &str, bool)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str().unwrap(), e["actor_id"].is_null()))
        .collect();
    assert!(kinds.contains(&("ticket.status", "open → in_progress", true)), "{audit}");
    assert!(kinds.iter().any(|(a, d, none)| *a == "customer.attributes" && d.ends_with(r#"{} → {"plan":"pro"}"#) && *none), "{audit}");

    // A bad attribute name is the plugin's bad output: nothing of the call is applied.
    let actions = json!([["attribute", "Plan Name", "x"], ["tag", "never"]]);
    assert_eq!(patch(&app, "acme", &owner, "scripted", json!({"config": {"actions": actions}})).await.0, 200);
    app.deliver(&t, &fixtures::message(2, customer, "Still jams")).await;
    assert_eq!(app.wait_processed("acme", 2).await.status, "done");
    let (_, failures) = app.tenant_get("acme", "/plugins/scripted/failures", &owner).await;
    assert_eq!(failures["items"][0]["kind"], "bad_output", "{failures}");
    assert!(failures["items"][0]["message"].as_str().unwrap().contains("lowercase letters"), "{failures}");
    let (_, tags) = app.tenant_get("acme", &format!("/tickets/{id}/tags"), &owner).await;
    assert_eq!(tags["items"], json!([]), "{tags}");
}

async fn key_value_store_is_not_saved_after_a_failed_call(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    assert_eq!(upload(&app, "acme", &owner, "scripted", test_plugin("scripted")).await.0, 200);
    let customer = 6060;
    let step = |n: i64, config: Value| {
        let (app, owner, t) = (&app, &owner, &t);
        async move {
            let (s, p) = patch(app, "acme", owner, "scripted", json!({"config": config})).await;
            assert_eq!(s, 200, "{p}");
            app.deliver(t, &fixtures::message(n, customer, &format!("message {n}"))).await;
            assert_eq!(app.wait_processed("acme", n).await.status, "done");
            app.wait_outbox_settled("acme").await;
            app.fake.sent_to(&t.token, customer)
        }
    };
    // Sets a key, then traps: the call failed, so the key is dropped.
    let sent = step(1, json!({"kv_set": [["seen", "yes"]], "trap": true})).await;
    assert_eq!(sent.len(), 1, "only the ticket's answer: {sent:?}");
    let (_, failures) = app.tenant_get("acme", "/plugins/scripted/failures", &owner).await;
    assert_eq!(failures["items"].as_array().map(Vec::len), Some(1), "{failures}");
    assert_eq!(failures["items"][0]["kind"], "trap", "{failures}");
    let sent = step(2, json!({"echo_kv": "seen"})).await;
    assert_eq!(sent.last().map(String::as_str), Some("kv seen=none"), "{sent:?}");
    // The same key set by a successful call is kept.
    let sent = step(3, json!({"kv_set": [["seen", "yes"]]})).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    let sent = step(4, json!({"echo_kv": "seen"})).await;
    assert_eq!(sent.last().map(String::as_str), Some("kv seen=yes"), "{sent:?}");
}

/// A failure recorded by a desk carries its input in the shape
/// `tikethet plugin run --event` reads: replaying it fails the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_failure_replays_with_plugin_run() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let hostile = tikethet_plugins::build::build_bundled("hostile").unwrap();
    assert_eq!(upload(&app, "acme", &owner, "hostile", std::fs::read(&hostile).unwrap()).await.0, 200);
    assert_eq!(patch(&app, "acme", &owner, "hostile", json!({"config": {"mode": "trap"}})).await.0, 200);
    app.deliver(&t, &fixtures::start(1, 4545)).await;
    app.deliver(&t, &fixtures::message(2, 4545, "replay me")).await;
    app.wait_processed("acme", 2).await;
    let (s, failures) = app.tenant_get("acme", "/plugins/hostile/failures", &owner).await;
    assert_eq!(s, 200, "{failures}");
    let recorded = failures["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["input"]["text"] == "replay me")
        .unwrap_or_else(|| panic!("no failure for the message: {failures}"))
        .clone();
    assert_eq!(recorded["kind"], "trap");
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(&event, recorded["input"].to_string()).unwrap();
    let run = |config: &str| {
        let cfg = dir.path().join("config.json");
        std::fs::write(&cfg, config).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"))
            .args(["plugin", "run"])
            .arg(&hostile)
            .arg("--event")
            .arg(&event)
            .arg("--config")
            .arg(&cfg)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, out, err) = run(r#"{"mode": "trap"}"#);
    assert!(!ok, "{out}");
    assert!(err.contains("trap"), "{err}");
    // Fixed config, same input: the plugin answers the recorded message.
    let (ok, out, err) = run(r#"{"mode": "ok"}"#);
    assert!(ok, "{out}{err}");
    assert!(out.contains("echo: replay me"), "{out}");
}
