//! Teams and assignment by rule: round robin and fewest open tickets,
//! agents who are away passed over, the team that takes new tickets, a
//! plugin's `assign` to a team's name, the ticket list and the console's
//! queue filtered by team, the Teams page and the header's away switch,
//! each change in the audit log; helpers look, only admins change teams.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::helpers::{Backend, TestApp, Tenant, csrf_in, no_redirects, spawn_app};

on_both!(
    round_robin_across_three_agents_one_away_gives_six_new_tickets_three_each_to_the_two_available,
    fewest_open_picks_the_least_busy_and_a_plugin_assigns_to_a_team_by_name,
    teams_page_away_switch_and_queue_filter_in_the_console,
);

/// Signs someone in and makes them a helper; their token and user id.
async fn helper(app: &TestApp, t: &Tenant, owner: &str, telegram_id: i64) -> (String, i64) {
    let token = app.sign_in(t, telegram_id).await;
    let (_, me) = app.tenant_get("acme", "/auth/me", &token).await;
    let id = me["id"].as_i64().unwrap();
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{id}"), owner, Some(json!({ "role": "helper" }))).await;
    assert_eq!(s, 200, "{body}");
    (token, id)
}

async fn open(app: &TestApp, t: &Tenant, customer: i64, title: &str) -> Value {
    let token = app.sign_in(t, customer).await;
    let (s, body) = app.tenant_post("acme", "/tickets", &token, json!({ "title": title, "description": format!("About {title}") })).await;
    assert_eq!(s, 201, "{body}");
    body
}

async fn make_team(app: &TestApp, owner: &str, body: Value, members: &[i64]) -> i64 {
    let (s, team) = app.tenant_post("acme", "/teams", owner, body).await;
    assert_eq!(s, 201, "{team}");
    let id = team["id"].as_i64().unwrap();
    for m in members {
        let (s, team) = app.tenant_call(Method::PUT, "acme", &format!("/teams/{id}/members/{m}"), owner, None).await;
        assert_eq!(s, 200, "{team}");
    }
    id
}

async fn round_robin_across_three_agents_one_away_gives_six_new_tickets_three_each_to_the_two_available(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (ann, ann_id) = helper(&app, &t, &owner, 8_001).await;
    let (bob, bob_id) = helper(&app, &t, &owner, 8_002).await;
    let (_cat, cat_id) = helper(&app, &t, &owner, 8_003).await;

    // Helpers list teams but do not make them.
    assert_eq!(app.tenant_post("acme", "/teams", &ann, json!({ "name": "Mine" })).await.0, 403);
    let team = make_team(&app, &owner, json!({ "name": "Support", "rule": "round_robin", "takes_new": true }), &[ann_id, bob_id, cat_id]).await;
    let (s, list) = app.tenant_get("acme", "/teams", &ann).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["items"][0]["members"].as_array().map(Vec::len), Some(3), "{list}");
    assert_eq!((s, &list["items"][0]["rule"], &list["items"][0]["takes_new"]), (200, &json!("round_robin"), &json!(true)), "{list}");
    // A second name differing only in case is taken.
    assert_eq!(app.tenant_post("acme", "/teams", &owner, json!({ "name": "SUPPORT" })).await.0, 409);
    assert_eq!(app.tenant_post("acme", "/teams", &owner, json!({ "name": "x", "rule": "random" })).await.0, 400);

    // Bob is away.
    let (s, me) = app.tenant_call(Method::PATCH, "acme", "/auth/me", &bob, Some(json!({ "away": true }))).await;
    assert_eq!((s, &me["away"]), (200, &json!(true)), "{me}");

    // The next six tickets: Ann and Cat in turn, three each; none to Bob.
    let mut got = Vec::new();
    for i in 0..6 {
        let ticket = open(&app, &t, 9_001 + i, &format!("Question {i}")).await;
        assert_eq!(ticket["team_id"], team, "{ticket}");
        got.push(ticket["assignee_id"].as_i64().unwrap_or_else(|| panic!("unassigned: {ticket}")));
    }
    assert_eq!(got, [ann_id, cat_id, ann_id, cat_id, ann_id, cat_id], "round robin, Bob passed over");
    let (_, list) = app.tenant_get("acme", "/teams", &owner).await;
    let open_of = |id: i64| list["items"][0]["members"].as_array().unwrap().iter().find(|m| m["user_id"] == id).map(|m| (m["open_tickets"].clone(), m["away"].clone())).unwrap();
    assert_eq!((open_of(ann_id), open_of(bob_id), open_of(cat_id)), ((json!(3), json!(false)), (json!(0), json!(true)), (json!(3), json!(false))), "{list}");

    // Bob is back: the turn goes on after Cat, and reaches him.
    assert_eq!(app.tenant_call(Method::PATCH, "acme", "/auth/me", &bob, Some(json!({ "away": false }))).await.0, 200);
    let seventh = open(&app, &t, 9_007, "Seventh").await;
    let eighth = open(&app, &t, 9_008, "Eighth").await;
    assert_eq!((seventh["assignee_id"].as_i64(), eighth["assignee_id"].as_i64()), (Some(ann_id), Some(bob_id)));

    // The list by team; customers do not filter by team.
    let (s, page) = app.tenant_get("acme", &format!("/tickets?team={team}"), &owner).await;
    assert_eq!((s, page["total"].as_u64()), (200, Some(8)), "{page}");
    let (_, page) = app.tenant_get("acme", "/tickets?team=none", &owner).await;
    assert_eq!(page["total"].as_u64(), Some(0), "{page}");
    let customer = app.sign_in(&t, 9_001).await;
    assert_eq!(app.tenant_get("acme", &format!("/tickets?team={team}"), &customer).await.0, 403);
    assert_eq!(app.tenant_call(Method::PATCH, "acme", "/auth/me", &customer, Some(json!({ "away": true }))).await.0, 403);

    // The log has the team's making and the away switch; helpers cannot read it.
    let (s, audit) = app.tenant_get("acme", "/audit?action=team.", &owner).await;
    assert_eq!(s, 200, "{audit}");
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "team.member_added").count(), 3, "{audit}");
    assert!(actions.contains(&"team.created"), "{audit}");
    let (_, audit) = app.tenant_get("acme", "/audit?action=person.availability", &owner).await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(2), "away, then back: {audit}");
    assert_eq!(app.tenant_get("acme", "/audit", &ann).await.0, 403);

    // A deleted team's tickets keep their agents.
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/teams/{team}"), &owner, None).await.0, 204);
    let (_, t1) = app.tenant_get("acme", &format!("/tickets/{}", seventh["id"]), &owner).await;
    assert_eq!((t1["team_id"].clone(), t1["assignee_id"].as_i64()), (Value::Null, Some(ann_id)), "{t1}");
    let (_, audit) = app.tenant_get("acme", "/audit?action=team.deleted", &owner).await;
    assert!(audit["items"][0]["detail"].as_str().unwrap().starts_with("Support"), "{audit}");
}

async fn fewest_open_picks_the_least_busy_and_a_plugin_assigns_to_a_team_by_name(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_ann, ann_id) = helper(&app, &t, &owner, 8_001).await;
    let (_bob, bob_id) = helper(&app, &t, &owner, 8_002).await;
    // Ann has started the bot (a bot writes only to those who have).
    app.deliver(&t, &tikethet_tests::fixtures::message(1, 8_001, "/start")).await;
    app.wait_sent(&t, 8_001, 1).await;
    let team = make_team(&app, &owner, json!({ "name": "Billing", "rule": "fewest_open" }), &[ann_id, bob_id]).await;

    // Ann already has two active tickets (assigned by hand, no team).
    for i in 0..2 {
        let ticket = open(&app, &t, 9_100 + i, &format!("Old {i}")).await;
        assert!(ticket["team_id"].is_null() && ticket["assignee_id"].is_null(), "no team takes new tickets: {ticket}");
        let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{}", ticket["id"]), &owner, Some(json!({ "assignee_id": ann_id }))).await;
        assert_eq!(s, 200, "{body}");
    }

    // The router plugin assigns every new ticket to "billing": the team,
    // by name, whose rule picks Bob twice (0 then 1 open against Ann's 2),
    // then, tied at 2, Ann (the turn goes on after Bob).
    let bytes = std::fs::read(tikethet_plugins::build::build_bundled("router").expect("building the router plugin")).unwrap();
    let (s, p) = super::plugins::upload(&app, "acme", &owner, "router", bytes).await;
    assert_eq!(s, 200, "{p}");
    let (s, p) = app.tenant_call(Method::PATCH, "acme", "/plugins/router", &owner, Some(json!({ "config": { "agents": ["billing"] } }))).await;
    assert_eq!(s, 200, "{p}");
    let mut got = Vec::new();
    for i in 0..3 {
        let ticket = open(&app, &t, 9_200 + i, &format!("Invoice {i}")).await;
        assert_eq!(ticket["team_id"], team, "{ticket}");
        got.push(ticket["assignee_id"].as_i64().unwrap());
    }
    assert_eq!(got, [bob_id, bob_id, ann_id]);
    // Ann, notified by the bot of the ticket the rule gave her.
    let told = tikethet_tests::helpers::wait_until(std::time::Duration::from_secs(10), || app.fake.sent_to(&t.token, 8_001).into_iter().find(|m| m.contains("Invoice 2"))).await;
    assert!(told.is_some_and(|m| m.contains("assigned to you")), "{:?}", app.fake.sent_to(&t.token, 8_001));

    // Still routed by the plugin: Bob (2 open against Ann's 3).
    let other = open(&app, &t, 9_300, "Elsewhere").await;
    assert_eq!((other["team_id"].as_i64(), other["assignee_id"].as_i64()), (Some(team), Some(bob_id)), "{other}");
    // Staff give a ticket to the team: the rule picks (3 each, the turn
    // after Bob: Ann); named with an assignee, the assignee stays.
    let (s, body) = app.tenant_call(Method::DELETE, "acme", "/plugins/router", &owner, None).await;
    assert_eq!(s, 204, "{body}");
    let plain = open(&app, &t, 9_301, "Plain").await;
    assert!(plain["team_id"].is_null() && plain["assignee_id"].is_null(), "{plain}");
    let (s, given) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{}", plain["id"]), &owner, Some(json!({ "team_id": team }))).await;
    assert_eq!(s, 200, "{given}");
    let expected = ann_id;
    assert_eq!((given["team_id"].as_i64(), given["assignee_id"].as_i64()), (Some(team), Some(expected)), "{given}");
    let (s, moved) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{}", plain["id"]), &owner, Some(json!({ "team_id": null }))).await;
    assert_eq!((s, moved["team_id"].clone(), moved["assignee_id"].as_i64()), (200, Value::Null, Some(expected)), "{moved}");
    let (s, both) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{}", plain["id"]), &owner, Some(json!({ "team_id": team, "assignee_id": bob_id }))).await;
    assert_eq!((s, both["assignee_id"].as_i64()), (200, Some(bob_id)), "an assignee named with the team stays: {both}");
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{}", plain["id"]), &owner, Some(json!({ "team_id": 999 }))).await.0, 400);
    let (_, audit) = app.tenant_get("acme", &format!("/audit?action=ticket.team&ticket={}", plain["id"]), &owner).await;
    let details: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert_eq!(details, ["no team → Billing", "Billing → no team", "no team → Billing"], "{audit}");
}

async fn teams_page_away_switch_and_queue_filter_in_the_console(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_ann, ann_id) = helper(&app, &t, &owner, 8_001).await;
    let http = no_redirects();
    let cookie = app.console_cookie(&t, t.owner).await;
    let get = async |path: &str| {
        let res = http.get(app.url(&format!("/t/acme/admin{path}"))).header("cookie", &cookie).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    let post = async |path: &str, form: &[(&str, &str)], page: &str| {
        let csrf = csrf_in(page);
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(form);
        let res = http.post(app.url(&format!("/t/acme/admin{path}"))).header("cookie", &cookie).form(&f).send().await.unwrap();
        let to = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (res.status().as_u16(), to, res.text().await.unwrap())
    };

    let (s, page) = get("/teams").await;
    assert_eq!(s, 200);
    assert!(page.contains("No teams yet") && page.contains(r#"data-testid="new-team""#), "{page}");
    let (s, _, again) = post("/teams", &[("name", "@nope"), ("rule", "round_robin")], &page).await;
    assert!(s == 400 && again.contains("must not start with @"), "a refused name comes back on the page: {again}");
    let (s, to, _) = post("/teams", &[("name", "Delivery"), ("rule", "round_robin"), ("takes_new", "1")], &page).await;
    assert_eq!((s, to.as_deref()), (303, Some("/t/acme/admin/teams?done=team")));
    let (_, page) = get("/teams?done=team").await;
    assert!(page.contains("Team saved.") && page.contains(r#"data-testid="team-Delivery""#) && page.contains("takes new tickets"), "{page}");
    let (_, list) = app.tenant_get("acme", "/teams", &owner).await;
    let team = list["items"][0]["id"].as_i64().unwrap();
    let ann = ann_id.to_string();
    let (s, _, _) = post(&format!("/teams/{team}/members"), &[("do", "add"), ("user", &ann)], &page).await;
    assert_eq!(s, 303);
    let (_, page) = get("/teams").await;
    assert!(page.contains(&format!(r#"data-member="{ann_id}""#)), "{page}");

    // A new ticket goes to the team and to Ann; the queue filters by team.
    let ticket = open(&app, &t, 9_001, "Parcel lost").await;
    assert_eq!((ticket["team_id"].as_i64(), ticket["assignee_id"].as_i64()), (Some(team), Some(ann_id)), "{ticket}");
    let (_, queue) = get(&format!("/?team={team}")).await;
    assert!(queue.contains("Parcel lost") && queue.contains(r#"data-testid="team-filter""#) && queue.contains("· Delivery"), "{queue}");
    let (_, queue) = get("/?team=none").await;
    assert!(!queue.contains("Parcel lost"), "{queue}");
    let (_, tpage) = get(&format!("/tickets/{}", ticket["id"])).await;
    assert!(tpage.contains(r#"data-testid="team-select""#) && tpage.contains("Team: Delivery"), "{tpage}");
    // Out of the team through the ticket page's form.
    let (s, _, _) = post(&format!("/tickets/{}/change", ticket["id"]), &[("team", ""), ("assignee", &ann)], &tpage).await;
    assert_eq!(s, 303);
    let (_, after) = app.tenant_get("acme", &format!("/tickets/{}", ticket["id"]), &owner).await;
    assert_eq!((after["team_id"].clone(), after["assignee_id"].as_i64()), (Value::Null, Some(ann_id)), "{after}");

    // The header's switch: away, then available, back on the same page.
    let (_, queue) = get("/").await;
    assert!(queue.contains(r#"data-testid="availability""#) && queue.contains(">Available<"), "{queue}");
    let (s, to, _) = post("/away", &[("away", "yes"), ("back", "/t/acme/admin/teams")], &queue).await;
    assert_eq!((s, to.as_deref()), (303, Some("/t/acme/admin/teams")));
    let (_, me) = app.tenant_get("acme", "/auth/me", &owner).await;
    assert_eq!(me["away"], true, "{me}");
    let (_, page) = get("/teams").await;
    assert!(page.contains(">Away<"), "{page}");
    let (s, to, _) = post("/away", &[("away", "no"), ("back", "https://elsewhere.example/")], &page).await;
    assert_eq!((s, to.as_deref()), (303, Some("/t/acme/admin/")), "never back to another site");

    // Rename and rule change; then delete.
    let (s, _, _) = post(&format!("/teams/{team}"), &[("do", "save"), ("name", "Couriers"), ("rule", "fewest_open")], &page).await;
    assert_eq!(s, 303);
    let (_, list) = app.tenant_get("acme", "/teams", &owner).await;
    assert_eq!((&list["items"][0]["name"], &list["items"][0]["rule"], &list["items"][0]["takes_new"]), (&json!("Couriers"), &json!("fewest_open"), &json!(false)), "{list}");
    let (s, to, _) = post(&format!("/teams/{team}"), &[("do", "delete")], &page).await;
    assert_eq!((s, to.as_deref()), (303, Some("/t/acme/admin/teams?done=deleted")));
    let (_, audit) = get("/audit?action=team.").await;
    assert!(audit.contains("Delivery (round_robin, takes new tickets) → Couriers (fewest_open)") && audit.contains("team.deleted"), "{audit}");
}
