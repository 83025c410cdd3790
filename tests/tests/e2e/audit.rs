//! The desk's audit log: each kind of change by staff, admins and the
//! platform's operator is written with who and before and after, read
//! through `GET /t/{slug}/api/v1/audit` in pages and as CSV from the
//! console; a helper cannot read it.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::dns::TestDns;
use tikethet_tests::helpers::{Backend, Options, TestApp, bot_token, csrf_in, no_redirects, spawn_app_with};

use crate::plugins::upload;

on_both!(every_kind_of_change_is_in_the_audit_log_and_only_admins_read_it);

fn component(name: &str) -> Vec<u8> {
    let path = tikethet_plugins::build::build_bundled(name).unwrap_or_else(|e| panic!("building plugin {name}: {e:#}"));
    std::fs::read(path).unwrap()
}

/// Every entry of the log, newest first, through the API's pages.
async fn whole_log(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/audit?before={b}"),
            None => "/audit".to_owned(),
        };
        let (s, page) = app.tenant_get("acme", &path, token).await;
        assert_eq!(s, 200, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => return out,
        }
    }
}

async fn every_kind_of_change_is_in_the_audit_log_and_only_admins_read_it(b: Backend) {
    let dns = TestDns::start().await;
    let env: &'static [(&'static str, &'static str)] = Box::leak(vec![("TIKETHET_DNS_SERVERS", &*Box::leak(dns.setting().into_boxed_str()))].into_boxed_slice());
    let app = spawn_app_with(b, Options { env, ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = app.sign_in(&t, 7_500).await;
    let (_, me) = app.tenant_get("acme", "/auth/me", &owner).await;
    let owner_id = me["id"].as_i64().unwrap();

    // Tickets, messages, tags.
    let (_, ticket) = app.tenant_post("acme", "/tickets", &customer, json!({ "title": "Audit me", "description": "Please" })).await;
    let tid = ticket["id"].as_i64().unwrap();
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{tid}"), &owner, Some(json!({ "status": "in_progress", "priority": "high" }))).await;
    assert_eq!(s, 200);
    let (_, m) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &customer, json!({ "text": "first words" })).await;
    let mid = m["id"].as_i64().unwrap();
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{tid}/messages/{mid}"), &customer, Some(json!({ "text": "second words" }))).await.0, 200);
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/tickets/{tid}/messages/{mid}"), &owner, None).await.0, 200);
    assert_eq!(app.tenant_post("acme", &format!("/tickets/{tid}/tags"), &owner, json!({ "tag": "vip" })).await.0, 200);
    assert_eq!(app.tenant_call(Method::PATCH, "acme", "/tags/vip", &owner, Some(json!({ "name": "gold" }))).await.0, 200);
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/tickets/{tid}/tags/gold"), &owner, None).await.0, 200);
    // People, categories, canned answers.
    let helper_tg = 7_501;
    let helper = app.sign_in(&t, helper_tg).await;
    let (_, h) = app.tenant_get("acme", "/auth/me", &helper).await;
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/users/{}", h["id"]), &owner, Some(json!({ "role": "helper" }))).await.0, 200);
    let helper_cookie = app.console_cookie(&t, helper_tg).await;
    assert_eq!(app.tenant_post("acme", "/categories", &owner, json!({ "name": "Orders" })).await.0, 201);
    assert_eq!(app.tenant_post("acme", "/canned", &owner, json!({ "shortcut": "hi", "text": "Hello!" })).await.0, 201);
    // Teams, their members, a ticket given to one, an agent away.
    let (_, team) = app.tenant_post("acme", "/teams", &owner, json!({ "name": "Tier 1", "rule": "round_robin" })).await;
    let team_id = team["id"].as_i64().unwrap();
    assert_eq!(app.tenant_call(Method::PUT, "acme", &format!("/teams/{team_id}/members/{}", h["id"]), &owner, None).await.0, 200);
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/teams/{team_id}"), &owner, Some(json!({ "name": "Tier one" }))).await.0, 200);
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{tid}"), &owner, Some(json!({ "team_id": team_id }))).await.0, 200);
    assert_eq!(app.tenant_call(Method::PATCH, "acme", "/auth/me", &helper, Some(json!({ "away": true }))).await.0, 200);
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/teams/{team_id}/members/{}", h["id"]), &owner, None).await.0, 200);
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/teams/{team_id}"), &owner, None).await.0, 204);
    // Plugins and their schedule.
    assert_eq!(upload(&app, "acme", &owner, "nudge", component("nudge")).await.0, 200);
    assert_eq!(upload(&app, "acme", &owner, "nudge", component("nudge")).await.0, 200);
    let (s, body) = app.tenant_call(Method::PATCH, "acme", "/plugins/nudge", &owner, Some(json!({ "enabled": false, "config": { "secret": "s3cret" } }))).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.tenant_call(Method::PATCH, "acme", "/plugins/nudge", &owner, Some(json!({ "schedule": "0 9 * * *" }))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(app.tenant_call(Method::DELETE, "acme", "/plugins/nudge", &owner, None).await.0, 204);
    // What the control plane keeps: theme, texts, service levels, domain.
    assert_eq!(app.tenant_call(Method::PUT, "acme", "/theme", &owner, Some(json!({ "theme": "midnight", "accent_color": "#336699" }))).await.0, 200);
    let texts = json!({ "texts": { "en": { "welcome": "Hi from {{ desk }}" } } });
    assert_eq!(app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(texts)).await.0, 200);
    let sla = json!({ "targets": { "high": { "first_response_minutes": 30, "resolution_minutes": null } }, "business_hours": null });
    assert_eq!(app.tenant_call(Method::PUT, "acme", "/settings/sla", &owner, Some(sla)).await.0, 200);
    assert_eq!(app.tenant_call(Method::PUT, "acme", "/settings/conversations", &owner, Some(json!({ "reopen_days": 7 }))).await.0, 200);
    let (_, asked) = app.tenant_call(Method::PUT, "acme", "/domain", &owner, Some(json!({ "domain": "help.acme.test" }))).await;
    dns.add_txt(asked["request"]["record_name"].as_str().unwrap(), asked["request"]["record_value"].as_str().unwrap());
    assert_eq!(app.tenant_post("acme", "/domain/check", &owner, json!({})).await.1["routed"], "help.acme.test");
    assert_eq!(app.tenant_call(Method::DELETE, "acme", "/domain", &owner, None).await.0, 204);
    // The bot's token, from the console (the owner's).
    let new_token = bot_token(91);
    app.fake.add_bot(&new_token, "acme_new_bot");
    let http = no_redirects();
    let cookie = app.console_cookie(&t, t.owner).await;
    let look = http.get(app.url("/t/acme/admin/look")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let res = http.post(app.url("/t/acme/admin/look/token")).header("cookie", &cookie).form(&[("csrf", csrf_in(&look).as_str()), ("token", new_token.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    // The operator.
    assert_eq!(app.operator(Method::PATCH, "/api/platform/v1/tenants/acme", Some(json!({ "plan": "pro" }))).await.status(), 200);

    let log = whole_log(&app, &owner).await;
    let entry = |action: &str| log.iter().find(|e| e["action"] == action).cloned().unwrap_or_else(|| panic!("no {action} entry in {log:#?}"));
    for action in [
        "ticket.status", "ticket.priority", "message.edited", "message.deleted", "ticket.tagged", "tag.renamed", "ticket.untagged", "person.role",
        "category.created", "canned.created", "plugin.installed", "plugin.replaced", "plugin.changed", "plugin.scheduled", "plugin.removed",
        "theme.changed", "bot_texts.changed", "sla.changed", "conversations.changed", "domain.requested", "domain.verified", "domain.removed", "bot_token.changed",
        "operator.update", "team.created", "team.member_added", "team.changed", "ticket.team", "ticket.assigned", "person.availability",
        "team.member_removed", "team.deleted",
    ] {
        entry(action);
    }
    // Who, and before and after.
    let edited = entry("message.edited");
    assert_eq!((edited["ticket_id"].as_i64(), edited["detail"].as_str()), (Some(tid), Some(format!("message {mid}: \"first words\" → \"second words\"").as_str())));
    assert_eq!(entry("message.deleted")["actor_id"], owner_id);
    assert_eq!(entry("ticket.status")["detail"], "open → in_progress");
    assert_eq!(entry("ticket.team")["detail"], "no team → Tier one");
    assert_eq!(entry("team.changed")["detail"], "Tier 1 (round_robin) → Tier one (round_robin)");
    assert_eq!(entry("theme.changed")["detail"].as_str().map(|d| d.starts_with("theme ") && d.contains("→ midnight") && d.contains("accent_color none → \"#336699\"")), Some(true), "{:?}", entry("theme.changed"));
    assert_eq!(entry("bot_texts.changed")["detail"], "en/welcome set to \"Hi from {{ desk }}\"");
    assert!(entry("sla.changed")["detail"].as_str().unwrap().starts_with("none → {"), "{:?}", entry("sla.changed"));
    assert_eq!(entry("conversations.changed")["detail"], "reopen window 3 → 7 days");
    assert_eq!(entry("bot_token.changed")["detail"], "bot @acme_bot → @acme_new_bot");
    assert_eq!(entry("domain.verified")["detail"], "the platform's address → help.acme.test (its TXT record holds)");
    let changed = entry("plugin.changed")["detail"].as_str().unwrap().to_owned();
    assert!(changed.contains("on → off") && changed.contains("configuration changed") && !changed.contains("s3cret"), "a plugin's configuration is not copied into the log: {changed}");
    let operator = entry("operator.update");
    assert!(operator["actor_id"].is_null() && operator["detail"].as_str().unwrap().contains("plan pro"), "{operator}");
    // Filters and pages.
    let (_, plugins) = app.tenant_get("acme", "/audit?action=plugin.", &owner).await;
    assert_eq!(plugins["items"].as_array().unwrap().len(), 5, "{plugins}");
    let (_, one) = app.tenant_get("acme", &format!("/audit?ticket={tid}&action=ticket.status"), &owner).await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(app.tenant_get("acme", "/audit?action=Bad!", &owner).await.0, 400);

    // The console's CSV holds the same entries.
    let res = http.get(app.url("/t/acme/admin/audit.csv?action=plugin.")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "at,actor_id,actor,action,ticket,detail");
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(lines[1].contains("plugin.removed") && lines[5].contains("plugin.installed"), "newest first: {csv}");

    // A helper reads nothing of it.
    assert_eq!(app.tenant_get("acme", "/audit", &helper).await.0, 403);
    assert_eq!(http.get(app.url("/t/acme/admin/audit")).header("cookie", &helper_cookie).send().await.unwrap().status(), 403);
    assert_eq!(http.get(app.url("/t/acme/admin/audit.csv")).header("cookie", &helper_cookie).send().await.unwrap().status(), 403);
}
