//! Service levels and satisfaction: an admin sets targets; a reminder
//! reaches staff before a target passes and an escalation after it, each
//! once however many passes see it; a resolved ticket's customer rates it
//! with the inline buttons, comments, and the rating shows in the desk's
//! statistics; the answered buttons are taken off the question, and a
//! press on a stale one is explained.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Options, TestApp, Tenant, spawn_app_with, wait_for, wait_until};

on_both!(
    a_reminder_comes_before_the_target_and_an_escalation_after_it_once_each,
    a_rating_from_the_inline_buttons_shows_in_the_statistics,
    answered_rating_buttons_are_taken_away_and_a_stale_press_is_explained,
);

fn check_every_second() -> Options {
    Options { env: &[("TIKETHET_SLA_CHECK_SECS", "1")], ..Options::default() }
}

/// Moves a ticket's creation back in time, as if it had waited that long.
async fn age_ticket(app: &TestApp, id: i64, by: chrono::Duration) {
    use sea_orm::{EntityTrait as _, QueryFilter as _, ColumnTrait as _};
    use tikethet_runtime::storage::entities::tickets;
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    tickets::Entity::update_many()
        .col_expr(tickets::Column::CreatedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now() - by))
        .filter(tickets::Column::Id.eq(id))
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

async fn told(app: &TestApp, t: &Tenant, chat: i64, needle: &str) -> String {
    wait_for(Duration::from_secs(15), || async { app.fake.sent_to(&t.token, chat).into_iter().find(|m| m.contains(needle)) })
        .await
        .unwrap_or_else(|| panic!("{chat} was not told {needle:?}; it got {:?}", app.fake.sent_to(&t.token, chat)))
}

/// Waits for `n` more service-level passes.
async fn passes(app: &TestApp, n: u64) {
    let m = &app.state.runtime.metrics().sla_passes;
    let from = m.load(Ordering::Relaxed);
    assert!(wait_for(Duration::from_secs(20), || async { (m.load(Ordering::Relaxed) >= from + n).then_some(()) }).await.is_some(), "no SLA passes");
}

async fn a_reminder_comes_before_the_target_and_an_escalation_after_it_once_each(b: Backend) {
    let app = spawn_app_with(b, check_every_second()).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    // Refused with the reason; then set.
    let (s, body) = app.tenant_call(Method::PUT, "acme", "/settings/sla", &owner, Some(json!({"targets": {"urgent": {"first_response_minutes": 10}}, "business_hours": null}))).await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{body}");
    let policy = json!({"targets": {"normal": {"first_response_minutes": 10, "resolution_minutes": null}}, "business_hours": null});
    let (s, body) = app.tenant_call(Method::PUT, "acme", "/settings/sla", &owner, Some(policy.clone())).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body, policy);
    assert_eq!(app.tenant_get("acme", "/settings/sla", &owner).await.1, policy);

    app.deliver(&t, &fixtures::message(1, 801, "The app crashes on start")).await;
    app.wait_processed("acme", 1).await;
    // Eight of ten minutes gone: a reminder, with two minutes to spare.
    age_ticket(&app, 1, chrono::Duration::minutes(8)).await;
    let reminder = told(&app, &t, t.owner, "The first answer of #1 (The app crashes on start) is due at").await;
    let due = reminder.split("is due at ").nth(1).unwrap().split(" UTC").next().unwrap();
    let due = chrono::NaiveDateTime::parse_from_str(due, "%Y-%m-%d %H:%M").unwrap().and_utc();
    assert!(chrono::Utc::now() < due, "the reminder came before the target ({due})");
    // Past the target: the escalation.
    age_ticket(&app, 1, chrono::Duration::minutes(11)).await;
    told(&app, &t, t.owner, "#1 (The app crashes on start) missed its first-answer target").await;
    // However many passes follow, each went out once.
    passes(&app, 3).await;
    app.wait_outbox_settled("acme").await;
    let to_owner = app.fake.sent_to(&t.token, t.owner);
    assert_eq!(to_owner.iter().filter(|m| m.contains("is due at")).count(), 1, "{to_owner:?}");
    assert_eq!(to_owner.iter().filter(|m| m.contains("missed its")).count(), 1, "{to_owner:?}");
    // An answered ticket raises nothing more.
    let (s, _) = app.tenant_post("acme", "/tickets/1/messages", &owner, json!({"text": "Looking into it"})).await;
    assert_eq!(s, 201);
    let (_, stats) = app.tenant_get("acme", "/stats", &owner).await;
    assert_eq!(stats["first_response_met"], json!({"met": 0, "missed": 1, "percent": 0.0}), "{stats}");
    assert_eq!(stats["resolution_met"], Value::Null, "no resolution target");
}

async fn a_rating_from_the_inline_buttons_shows_in_the_statistics(b: Backend) {
    let app = spawn_app_with(b, Options::default()).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = 801;
    app.deliver(&t, &fixtures::message(1, customer, "Refund please")).await;
    app.wait_processed("acme", 1).await;
    let (_, stats) = app.tenant_get("acme", "/stats", &owner).await;
    assert_eq!(stats["csat"], json!({"rated": 0, "satisfied": 0, "satisfied_percent": null, "average": null}));

    let (s, body) = app.tenant_call(Method::PATCH, "acme", "/tickets/1", &owner, Some(json!({"status": "resolved"}))).await;
    assert_eq!(s, 200, "{body}");
    told(&app, &t, customer, "How did we do with #1 (Refund please)?").await;
    let ask = app.fake.calls(Some("sendMessage")).into_iter().find(|c| c.params["text"].as_str().is_some_and(|x| x.starts_with("How did we do"))).unwrap();
    let markup = match &ask.params["reply_markup"] {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap(),
        v => v.clone(),
    };
    let row = markup["inline_keyboard"][0].as_array().expect("one row of buttons").clone();
    assert_eq!(row.len(), 5, "{markup}");
    assert_eq!(row[3]["callback_data"], "tt:csat:1:4");

    // Someone else's press, and a score out of range, change nothing.
    app.deliver(&t, &fixtures::button_press(2, 802, "tt:csat:1:1", "How did we do?")).await;
    app.deliver(&t, &fixtures::button_press(3, customer, "tt:csat:1:9", "How did we do?")).await;
    app.wait_processed("acme", 2).await;
    app.wait_processed("acme", 3).await;
    // The customer's: 4 of 5, then a comment.
    app.deliver(&t, &fixtures::button_press(4, customer, "tt:csat:1:4", "How did we do?")).await;
    told(&app, &t, customer, "Thank you for rating #1 4 of 5!").await;
    app.deliver(&t, &fixtures::message(5, customer, "Quick and kind, thanks")).await;
    told(&app, &t, customer, "Thanks, your comment is passed on to the team.").await;
    // The comment went to the rating, not into a new ticket.
    let (_, list) = app.tenant_get("acme", "/tickets?status=open", &owner).await;
    assert_eq!(list["total"], 0, "{list}");
    let (_, stats) = app.tenant_get("acme", "/stats", &owner).await;
    assert_eq!(stats["csat"], json!({"rated": 1, "satisfied": 1, "satisfied_percent": 100.0, "average": 4.0}), "{stats}");
    // And in the console's analytics, with the export carrying the rating.
    let cookie = app.console_cookie(&t, t.owner).await;
    let page = app.http.get(app.url("/t/acme/admin/analytics")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let kpi = page.split(r#"data-kpi="csat""#).nth(1).unwrap().split("</div>").next().unwrap();
    // One rating: the plural form of one (Fluent's rules).
    assert!(kpi.contains(r#"<span class="value">100%</span>"#) && kpi.contains("1 rating · average 4.0"), "{kpi}");
    let csv = app.http.get(app.url("/t/acme/admin/analytics/tickets.csv")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("id,created_at,status") && rows[0].ends_with(",rating"));
    assert!(rows[1].starts_with("1,") && rows[1].contains(",resolved,normal,") && rows[1].ends_with(",4"), "{}", rows[1]);
    let presses = app.fake.calls(Some("answerCallbackQuery")).len();
    assert_eq!(presses, 3, "every press is answered");
}

async fn answered_rating_buttons_are_taken_away_and_a_stale_press_is_explained(b: Backend) {
    let app = spawn_app_with(b, Options::default()).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = 811;
    app.deliver(&t, &fixtures::message(1, customer, "Where is my order?")).await;
    app.wait_processed("acme", 1).await;
    let (s, body) = app.tenant_call(Method::PATCH, "acme", "/tickets/1", &owner, Some(json!({"status": "resolved"}))).await;
    assert_eq!(s, 200, "{body}");
    told(&app, &t, customer, "How did we do with #1").await;
    let ask = app.fake.calls(Some("sendMessage")).into_iter().find(|c| c.params["text"].as_str().is_some_and(|x| x.starts_with("How did we do"))).unwrap();
    let asked = ask.result.as_ref().and_then(|r| r["message_id"].as_i64()).expect("the question's message id");
    assert!(app.fake.keyboard_of(&t.token, customer, asked).is_some(), "the question comes with its buttons");

    // Answered: the buttons are taken off the question.
    app.deliver(&t, &fixtures::button_press_on(2, customer, "tt:csat:1:5", "How did we do?", asked)).await;
    told(&app, &t, customer, "Thank you for rating #1 5 of 5!").await;
    let gone = wait_until(Duration::from_secs(10), || app.fake.keyboard_of(&t.token, customer, asked).is_none().then_some(())).await;
    assert!(gone.is_some(), "the answered keyboard is still there: {:?}", app.fake.keyboard_of(&t.token, customer, asked));
    let edits = app.fake.calls(Some("editMessageReplyMarkup"));
    assert_eq!((edits.len(), edits[0].ok, edits[0].params["message_id"].as_i64()), (1, true, Some(asked)), "{edits:?}");
    app.deliver(&t, &fixtures::message(3, customer, "/skip")).await;
    app.wait_processed("acme", 3).await;

    // The ticket is reopened; a press on the old question (an app that
    // still shows it) is stale: explained, and nothing is rated.
    let (s, _) = app.tenant_call(Method::PATCH, "acme", "/tickets/1", &owner, Some(json!({"status": "open"}))).await;
    assert_eq!(s, 200);
    app.wait_outbox_settled("acme").await;
    let before = app.fake.sent_to(&t.token, customer).len();
    app.deliver(&t, &fixtures::button_press_on(4, customer, "tt:csat:1:1", "How did we do?", asked)).await;
    app.wait_processed("acme", 4).await;
    let answered = wait_until(Duration::from_secs(10), || {
        app.fake.calls(Some("answerCallbackQuery")).into_iter().find(|c| c.params["callback_query_id"].as_str().is_some_and(|id| id.ends_with('4')) && c.params.get("text").is_some())
    })
    .await
    .expect("the stale press is answered with a notice");
    assert_eq!(answered.params["text"], "This button no longer works: its question was already answered.");
    app.wait_outbox_settled("acme").await;
    assert_eq!(app.fake.sent_to(&t.token, customer).len(), before, "no thanks for a stale press");
    let (_, stats) = app.tenant_get("acme", "/stats", &owner).await;
    assert_eq!(stats["csat"]["average"], json!(5.0), "the rating stayed 5: {stats}");
}
