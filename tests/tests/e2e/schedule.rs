//! Scheduled plugins (`on-schedule`, contract 1.2.0 and later): an admin
//! sets a plugin's cron schedule through the API (refused with the reason
//! when it is not one); the desk runs the plugin on it with the tickets
//! waiting for their customers (1.3.0: and the unassigned and breached
//! ones), applies its replies, tags, assignments and reminders, records
//! its failures and switches a failing one off; each due time runs once,
//! missed times are made up by one run, and a run whose process died is
//! taken over after its lease. (Once across two nodes: `cluster.rs`.)

use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Options, TestApp, Tenant, spawn_app_with, wait_for};

use crate::plugins::upload;

on_both!(
    nudge_reminds_a_customer_once_when_the_desks_answer_waited_past_the_threshold,
    a_failing_scheduled_plugin_is_recorded_and_switched_off,
    missed_due_times_run_once_and_a_dead_runs_claim_is_taken_over,
    escalate_tags_gives_to_a_team_and_reminds_once_for_an_unassigned_ticket_past_its_target,
);

/// Schedules are checked as often as the service-level watch: every second.
fn check_every_second() -> Options {
    Options { env: &[("TIKETHET_SLA_CHECK_SECS", "1")], ..Options::default() }
}

fn component(name: &str) -> Vec<u8> {
    let path = tikethet_plugins::build::build_bundled(name).unwrap_or_else(|e| panic!("building plugin {name}: {e:#}"));
    std::fs::read(path).unwrap()
}

async fn patch(app: &TestApp, token: &str, name: &str, body: Value) -> (u16, Value) {
    app.tenant_call(reqwest::Method::PATCH, "acme", &format!("/plugins/{name}"), token, Some(body)).await
}

/// The plugin as `GET …/plugins` lists it.
async fn listed(app: &TestApp, token: &str, name: &str) -> Value {
    let (s, list) = app.tenant_get("acme", "/plugins", token).await;
    assert_eq!(s, 200, "{list}");
    list["items"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap_or_else(|| panic!("no plugin {name}: {list}"))
}

/// Waits until the plugin has finished `n` scheduled runs in all.
async fn runs(app: &TestApp, token: &str, name: &str, n: i64) -> Value {
    wait_for(Duration::from_secs(30), || async {
        let p = listed(app, token, name).await;
        (p["scheduled_runs"].as_i64().unwrap_or(0) >= n).then_some(p)
    })
    .await
    .unwrap_or_else(|| panic!("{name} did not run {n} times on its schedule"))
}

/// Moves the time of a ticket's messages back, as if the desk had answered
/// that long ago.
async fn age_messages(app: &TestApp, ticket: i64, by: chrono::Duration) {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
    use tikethet_runtime::storage::entities::messages;
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    messages::Entity::update_many()
        .col_expr(messages::Column::CreatedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now() - by))
        .filter(messages::Column::TicketId.eq(ticket))
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// A customer writes (a ticket opens) and the desk answers them.
async fn answered_ticket(app: &TestApp, t: &Tenant, owner: &str, update: i64, customer: i64, text: &str) -> i64 {
    app.deliver(t, &fixtures::message(update, customer, text)).await;
    app.wait_processed("acme", update).await;
    let (_, list) = app.tenant_get("acme", "/tickets?status=open", owner).await;
    let id = list["items"].as_array().unwrap().iter().find(|x| x["title"] == text).unwrap_or_else(|| panic!("no ticket {text:?}: {list}"))["id"]
        .as_i64()
        .unwrap();
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{id}/messages"), owner, json!({"text": "Could you send a photo?"})).await;
    assert_eq!(s, 201, "{body}");
    id
}

async fn nudge_reminds_a_customer_once_when_the_desks_answer_waited_past_the_threshold(b: Backend) {
    let app = spawn_app_with(b, check_every_second()).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (old_customer, new_customer) = (801, 802);
    let old = answered_ticket(&app, &t, &owner, 1, old_customer, "The lamp flickers").await;
    let new = answered_ticket(&app, &t, &owner, 2, new_customer, "The lamp hums").await;
    // The desk answered the first a day and an hour ago, the second just now.
    age_messages(&app, old, chrono::Duration::hours(25)).await;

    let (s, p) = upload(&app, "acme", &owner, "nudge", component("nudge")).await;
    assert_eq!((s, p["version"].as_str(), &p["schedule"]), (200, Some("1.2.0"), &Value::Null), "{p}");
    // Refused with the reason, nothing changed.
    for (bad, says) in [("61 * * * *", "is not a cron expression"), ("* * *", "has 3 field(s)"), ("", "must be a cron expression")] {
        let (s, body) = patch(&app, &owner, "nudge", json!({"schedule": bad, "config": {"after_hours": 1}})).await;
        assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{bad:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("schedule: ") && message.contains(says), "{bad:?}: {message}");
    }
    assert_eq!(listed(&app, &owner, "nudge").await["config"], json!({}), "a refused request changes nothing");
    let (s, body) = patch(&app, &owner, "nudge", json!({"schedule_waiting_minutes": 60})).await;
    assert_eq!(s, 400, "a wait without a schedule: {body}");
    // A plugin of contract 1.1.0 has no on-schedule.
    assert_eq!(upload(&app, "acme", &owner, "keyword-reply", component("keyword-reply")).await.0, 200);
    let (s, body) = patch(&app, &owner, "keyword-reply", json!({"schedule": "0 * * * *"})).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("contract 1.1.0"), "{body}");
    // Customers cannot schedule anything.
    let customer = app.sign_in(&t, 4242).await;
    assert_eq!(patch(&app, &customer, "nudge", json!({"schedule": "0 * * * *"})).await.0, 403);

    // Every second (six fields: seconds first), listing every waiting ticket.
    let cfg = json!({"after_hours": 24, "text": "Still there, {name}? #{number} is waiting for you."});
    let (s, p) = patch(&app, &owner, "nudge", json!({"config": cfg, "schedule": "* * * * * *", "schedule_waiting_minutes": 0})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!((p["schedule"].as_str(), p["schedule_waiting_minutes"].as_i64(), p["scheduled_runs"].as_i64()), (Some("* * * * * *"), Some(0), Some(0)), "{p}");
    assert!(p["next_run_at"].is_string() && p["last_run_at"].is_null(), "{p}");

    let nudge = format!("Still there, Test Firstname? #{old} is waiting for you.");
    wait_for(Duration::from_secs(30), || async { app.fake.sent_to(&t.token, old_customer).contains(&nudge).then_some(()) })
        .await
        .unwrap_or_else(|| panic!("no nudge; the customer got {:?}", app.fake.sent_to(&t.token, old_customer)));
    // Two more runs after the nudge: nothing more.
    let done = listed(&app, &owner, "nudge").await["scheduled_runs"].as_i64().unwrap();
    let p = runs(&app, &owner, "nudge", done + 2).await;
    assert!(p["last_run_at"].is_string(), "{p}");
    assert_eq!(p["enabled"], true, "{p}");
    app.wait_outbox_settled("acme").await;
    let to_old = app.fake.sent_to(&t.token, old_customer);
    assert_eq!(to_old.iter().filter(|m| **m == nudge).count(), 1, "{to_old:?}");
    let to_new = app.fake.sent_to(&t.token, new_customer);
    assert!(!to_new.iter().any(|m| m.contains("Still there")), "answered recently, not nudged: {to_new:?}");
    // The tickets themselves are untouched: still waiting for their customers.
    for id in [old, new] {
        let (_, ticket) = app.tenant_get("acme", &format!("/tickets/{id}"), &owner).await;
        assert_eq!(ticket["status"], "waiting_response", "{ticket}");
    }

    // `null` clears the schedule.
    let (s, p) = patch(&app, &owner, "nudge", json!({"schedule": null})).await;
    assert_eq!((s, &p["schedule"], &p["next_run_at"]), (200, &Value::Null, &Value::Null), "{p}");
}

async fn a_failing_scheduled_plugin_is_recorded_and_switched_off(b: Backend) {
    let app = spawn_app_with(b, check_every_second()).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let ticket = answered_ticket(&app, &t, &owner, 1, 801, "Where is my parcel").await;
    let (s, p) = upload(&app, "acme", &owner, "hostile", component("hostile")).await;
    assert_eq!((s, p["version"].as_str()), (200, Some("1.2.0")), "{p}");
    let (s, p) = patch(&app, &owner, "hostile", json!({"config": {"mode": "trap"}, "schedule": "* * * * * *"})).await;
    assert_eq!(s, 200, "{p}");

    // Five failures in a row switch it off, and the owner is told.
    let off = wait_for(Duration::from_secs(40), || async {
        let p = listed(&app, &owner, "hostile").await;
        (p["enabled"] == false).then_some(p)
    })
    .await
    .expect("the failing plugin was switched off");
    assert_eq!(off["consecutive_failures"], 5, "{off}");
    assert!(off["disabled_reason"].as_str().unwrap().contains("trap"), "{off}");
    let told = wait_for(Duration::from_secs(20), || async { app.fake.sent_to(&t.token, t.owner).into_iter().find(|m| m.contains("switched off")) }).await;
    assert!(told.is_some_and(|m| m.contains("hostile")), "{:?}", app.fake.sent_to(&t.token, t.owner));
    // Each failure is recorded with the event that caused it, replayable.
    let (_, failures) = app.tenant_get("acme", "/plugins/hostile/failures", &owner).await;
    let items = failures["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{failures}");
    assert!(items.iter().all(|f| f["hook"] == "on-schedule" && f["kind"] == "trap"), "{failures}");
    let input = &items[0]["input"];
    assert_eq!(input["hook"], "on-schedule", "{input}");
    assert_eq!(input["waiting"][0]["ticket_id"], ticket, "{input}");
    assert_eq!(input["schedule"], "* * * * * *", "{input}");

    // Switched off, it misses its times; switched back on and behaving, it
    // runs again, its replies reaching the waiting ticket's customer.
    let (s, _) = patch(&app, &owner, "hostile", json!({"enabled": true, "config": {"mode": "ok"}})).await;
    assert_eq!(s, 200);
    wait_for(Duration::from_secs(30), || async { app.fake.sent_to(&t.token, 801).into_iter().find(|m| m == "scheduled: Where is my parcel") })
        .await
        .unwrap_or_else(|| panic!("no scheduled reply: {:?}", app.fake.sent_to(&t.token, 801)));
}

/// The plugin's schedule row, as the desk keeps it.
async fn schedule_row(app: &TestApp, name: &str) -> tikethet_runtime::storage::entities::plugin_schedules::Model {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
    use tikethet_runtime::storage::entities::{plugin_schedules, plugins};
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    let p = plugins::Entity::find().filter(plugins::Column::Name.eq(name)).one(&txn).await.unwrap().unwrap();
    let row = plugin_schedules::Entity::find_by_id(p.id).one(&txn).await.unwrap().unwrap();
    txn.commit().await.unwrap();
    row
}

/// Writes the plugin's schedule row, then has the desk look at its
/// schedules at once (as after a restart, when every desk's are read).
async fn set_row(app: &TestApp, row: tikethet_runtime::storage::entities::plugin_schedules::Model) {
    use sea_orm::{ActiveModelTrait as _, IntoActiveModel as _};
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    row.into_active_model().reset_all().update(&txn).await.unwrap();
    txn.commit().await.unwrap();
    app.state.runtime.run_schedules(&tenant).await.unwrap();
}

/// Waits until the schedule row has finished `n` runs and holds no claim.
async fn finished(app: &TestApp, name: &str, n: i64) -> tikethet_runtime::storage::entities::plugin_schedules::Model {
    wait_for(Duration::from_secs(20), || async {
        let row = schedule_row(app, name).await;
        (row.runs >= n && row.claim.is_none()).then_some(row)
    })
    .await
    .unwrap_or_else(|| panic!("{name} did not finish {n} scheduled run(s)"))
}

/// Waits until a chat has been sent `text` `n` times; returns what it got.
async fn sent_times(app: &TestApp, t: &Tenant, chat: i64, text: &str, n: usize) -> Vec<String> {
    wait_for(Duration::from_secs(20), || async {
        let sent = app.fake.sent_to(&t.token, chat);
        (sent.iter().filter(|m| *m == text).count() >= n).then_some(sent)
    })
    .await
    .unwrap_or_else(|| panic!("{chat} was not sent {text:?} {n} time(s): {:?}", app.fake.sent_to(&t.token, chat)))
}

async fn missed_due_times_run_once_and_a_dead_runs_claim_is_taken_over(b: Backend) {
    let app = spawn_app_with(b, check_every_second()).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    answered_ticket(&app, &t, &owner, 1, 801, "Broken handle").await;
    assert_eq!(upload(&app, "acme", &owner, "hostile", component("hostile")).await.0, 200);
    // Once a year, on New Year's Day at midnight.
    let (s, p) = patch(&app, &owner, "hostile", json!({"config": {"mode": "ok"}, "schedule": "0 0 1 1 *"})).await;
    assert_eq!(s, 200, "{p}");
    let row = schedule_row(&app, "hostile").await;
    assert!(row.next_due_at > chrono::Utc::now() && row.runs == 0);

    // Its last three due times were missed (the desk was down for years):
    // one run makes them up, and the next due time is next year's.
    let missed = row.next_due_at - chrono::Duration::days(3 * 366);
    set_row(&app, tikethet_runtime::storage::entities::plugin_schedules::Model { next_due_at: missed, ..row.clone() }).await;
    let after = finished(&app, "hostile", 1).await;
    assert_eq!((after.runs, after.last_run_at), (1, Some(missed)), "{after:?}");
    assert_eq!(after.next_due_at, row.next_due_at);
    let reply = "scheduled: Broken handle";
    sent_times(&app, &t, 801, reply, 1).await;
    // However many checks follow, nothing more is due.
    let m = &app.state.runtime.metrics().sla_passes;
    let from = m.load(std::sync::atomic::Ordering::Relaxed);
    wait_for(Duration::from_secs(20), || async { (m.load(std::sync::atomic::Ordering::Relaxed) >= from + 3).then_some(()) }).await.expect("checks went on");
    assert_eq!(schedule_row(&app, "hostile").await.runs, 1);

    // A run under way elsewhere holds its due time ...
    let due = row.next_due_at - chrono::Duration::days(366);
    let claimed = tikethet_runtime::storage::entities::plugin_schedules::Model {
        claim: Some(42),
        claimed_due_at: Some(due),
        claimed_at: Some(chrono::Utc::now()),
        ..schedule_row(&app, "hostile").await
    };
    set_row(&app, claimed.clone()).await;
    assert_eq!(schedule_row(&app, "hostile").await.runs, 1, "not taken while its lease lasts");
    // ... until its lease runs out (its process died): then the due time
    // runs, once.
    let lapsed = chrono::Utc::now() - tikethet_runtime::worker::schedule::CLAIM_LEASE - chrono::Duration::seconds(1);
    set_row(&app, tikethet_runtime::storage::entities::plugin_schedules::Model { claimed_at: Some(lapsed), ..claimed }).await;
    let after = finished(&app, "hostile", 2).await;
    assert_eq!((after.runs, after.last_run_at), (2, Some(due)), "{after:?}");
    sent_times(&app, &t, 801, reply, 2).await;
    app.wait_outbox_settled("acme").await;
    let scheduled = app.fake.sent_to(&t.token, 801).into_iter().filter(|m| m == reply).count();
    assert_eq!(scheduled, 2, "one reply per run");
}

/// Moves a ticket's opening back, as if it had been opened that long ago.
async fn age_ticket(app: &TestApp, ticket: i64, by: chrono::Duration) {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
    use tikethet_runtime::storage::entities::tickets;
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    let at = chrono::Utc::now() - by;
    tickets::Entity::update_many()
        .col_expr(tickets::Column::CreatedAt, sea_orm::sea_query::Expr::value(at))
        .col_expr(tickets::Column::UpdatedAt, sea_orm::sea_query::Expr::value(at))
        .filter(tickets::Column::Id.eq(ticket))
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

async fn escalate_tags_gives_to_a_team_and_reminds_once_for_an_unassigned_ticket_past_its_target(b: Backend) {
    use reqwest::Method;
    let app = spawn_app_with(b, check_every_second()).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    // Ann, a helper of the team "Tier 2", who has started the bot.
    let ann = 8_001;
    app.fake.start_chat(&t.token, ann);
    let ann_token = app.sign_in(&t, ann).await;
    let ann_id = app.tenant_get("acme", "/auth/me", &ann_token).await.1["id"].as_i64().unwrap();
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/users/{ann_id}"), &owner, Some(json!({ "role": "helper" }))).await.0, 200);
    let (s, team) = app.tenant_post("acme", "/teams", &owner, json!({ "name": "Tier 2", "rule": "round_robin" })).await;
    assert_eq!(s, 201, "{team}");
    assert_eq!(app.tenant_call(Method::PUT, "acme", &format!("/teams/{}/members/{ann_id}", team["id"]), &owner, None).await.0, 200);
    // A first answer is due within 30 minutes.
    let policy = json!({"targets": {"normal": {"first_response_minutes": 30, "resolution_minutes": null}}, "business_hours": null});
    assert_eq!(app.tenant_call(Method::PUT, "acme", "/settings/sla", &owner, Some(policy)).await.0, 200);

    // One ticket opened three hours ago, nobody on it; one just now.
    let customer = app.sign_in(&t, 801).await;
    let (s, old) = app.tenant_post("acme", "/tickets", &customer, json!({ "title": "The lamp flickers", "description": "Since Monday" })).await;
    assert_eq!(s, 201, "{old}");
    let old = old["id"].as_i64().unwrap();
    age_ticket(&app, old, chrono::Duration::hours(3)).await;
    let other = app.sign_in(&t, 802).await;
    let (_, new) = app.tenant_post("acme", "/tickets", &other, json!({ "title": "The lamp hums", "description": "Quietly" })).await;
    let new = new["id"].as_i64().unwrap();

    let (s, p) = upload(&app, "acme", &owner, "escalate", component("escalate")).await;
    assert_eq!((s, p["version"].as_str()), (200, Some("1.3.0")), "{p}");
    let cfg = json!({"unassigned_hours": 2, "team": "Tier 2"});
    let (s, p) = patch(&app, &owner, "escalate", json!({"config": cfg, "schedule": "* * * * * *"})).await;
    assert_eq!(s, 200, "{p}");

    // Past its target: tagged, raised, the moderators and up reminded;
    // unassigned for 3 h: tagged, given to the team (Ann), Ann reminded.
    let tags = async |id: i64| app.tenant_get("acme", &format!("/tickets/{id}/tags"), &owner).await.1["items"].clone();
    let escalated = wait_for(Duration::from_secs(30), || async { (tags(old).await.as_array().map_or(0, Vec::len) == 2).then_some(()) }).await;
    assert!(escalated.is_some(), "not escalated: {}", tags(old).await);
    assert_eq!(tags(old).await, json!(["escalated", "sla-breached"]));
    let (_, ticket) = app.tenant_get("acme", &format!("/tickets/{old}"), &owner).await;
    assert_eq!((ticket["assignee_id"].as_i64(), ticket["priority"].as_str()), (Some(ann_id), Some("high")), "{ticket}");
    let to_ann = format!("⏰ A reminder on #{old} (The lamp flickers):\nunassigned for 3.0 h; given to Tier 2");
    let reminded = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, ann).iter().any(|m| m.starts_with(&to_ann)).then_some(()) }).await;
    assert!(reminded.is_some(), "Ann got {:?}", app.fake.sent_to(&t.token, ann));
    let breach = format!("⏰ A reminder on #{old} (The lamp flickers):\npast its service-level target for 2.5 h; raised to high priority");
    let told = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, t.owner).iter().any(|m| m.starts_with(&breach)).then_some(()) }).await;
    assert!(told.is_some(), "the owner got {:?}", app.fake.sent_to(&t.token, t.owner));

    // Two more runs: its tags are its memory, nothing is repeated.
    let done = listed(&app, &owner, "escalate").await["scheduled_runs"].as_i64().unwrap();
    runs(&app, &owner, "escalate", done + 2).await;
    app.wait_outbox_settled("acme").await;
    assert_eq!(app.fake.sent_to(&t.token, ann).iter().filter(|m| m.starts_with(&to_ann)).count(), 1);
    assert_eq!(app.fake.sent_to(&t.token, t.owner).iter().filter(|m| m.starts_with(&breach)).count(), 1);
    // The new ticket is neither late nor old enough.
    let (_, fresh) = app.tenant_get("acme", &format!("/tickets/{new}"), &owner).await;
    assert_eq!((&fresh["assignee_id"], &fresh["priority"]), (&Value::Null, &json!("normal")), "{fresh}");
    assert_eq!(tags(new).await, json!([]));
}
