//! The staff console at `/t/{slug}/admin/`: signed in through the
//! one-time link `/admin` answers with (a used or expired link refused),
//! the queue and a ticket in headless Chromium (reply, internal note,
//! status), the collision warning between two agents, a reply refused on
//! a stale page, forms refused without their CSRF token. Screenshots are
//! saved.

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::browser::{browser_sized, save_screenshot};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, csrf_in, no_redirects, spawn_app, wait_for};

on_both!(
    console_forms_are_refused_without_their_token_and_sessions_are_listed_and_revocable,
    analytics_count_the_desks_tickets_and_the_export_streams_every_one_safely,
    a_reply_is_checked_for_newer_messages_in_its_own_transaction,
    a_moderator_moves_a_ticket_to_another_category_on_its_page,
    the_queue_shows_each_tickets_next_service_level_target_and_sorts_by_it,
);

/// The queue's badge: the next target not met (a reply, then the
/// resolution), how long is left or how far past it is; and the queue (and
/// the API's list) ordered by it, the most overdue first.
async fn the_queue_shows_each_tickets_next_service_level_target_and_sorts_by_it(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let sla = json!({ "targets": { "high": { "first_response_minutes": 60, "resolution_minutes": 600 } }, "business_hours": null });
    let (s, body) = app.tenant_call(reqwest::Method::PUT, "acme", "/settings/sla", &owner, Some(sla)).await;
    assert_eq!(s, 200, "{body}");
    let customer = app.sign_in(&t, 7_400).await;
    let mut ids = Vec::new();
    for (title, priority) in [("Fresh", "high"), ("Old", "high"), ("Answered", "high"), ("No target", "low")] {
        let (s, tk) = app.tenant_post("acme", "/tickets", &customer, json!({ "title": title, "description": title, "priority": priority })).await;
        assert_eq!(s, 201, "{tk}");
        ids.push(tk["id"].as_i64().unwrap());
    }
    {
        // "Old" came two hours ago.
        use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
        use tikethet_runtime::storage::entities::tickets;
        let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
        let txn = tenant.db.begin().await.unwrap();
        tickets::Entity::update_many()
            .col_expr(tickets::Column::CreatedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::hours(2)))
            .filter(tickets::Column::Id.eq(ids[1]))
            .exec(&txn)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    // "Answered" got its reply: the resolution is next.
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{}/messages", ids[2]), &owner, json!({ "text": "On it" })).await;
    assert_eq!(s, 201);
    let cookie = app.console_cookie(&t, t.owner).await;
    let queue = no_redirects().get(app.url("/t/acme/admin/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let badge = |id: i64| -> Option<String> {
        let at = queue.find(&format!(r#"data-testid="sla-{id}""#))?;
        let open = queue[..at].rfind("class=\"")? + 7;
        Some(format!("{} | {}", &queue[open..].split('"').next().unwrap(), queue[at..].split('>').nth(1).unwrap().split('<').next().unwrap()))
    };
    let fresh = badge(ids[0]).unwrap_or_default();
    assert!(fresh.starts_with("badge sla-ok | Reply due in ") && (fresh.ends_with("59 min") || fresh.ends_with("1 h 0 min")), "{fresh}");
    let old = badge(ids[1]).unwrap_or_default();
    assert!(old.starts_with("badge sla-breached | Reply overdue by 1 h") || old == "badge sla-breached | Reply overdue by 59 min", "{old}");
    let answered = badge(ids[2]).unwrap_or_default();
    assert!(answered.starts_with("badge sla-ok | Resolution due in 9 h") || answered.ends_with("10 h 0 min"), "{answered}");
    assert_eq!(badge(ids[3]), None, "no target for its priority, no badge");

    // By time to breach: overdue, due soon, due later, no target.
    let order = |page: &str| -> Vec<i64> { page.split("<li data-ticket=\"").skip(1).filter_map(|r| r.split('"').next()?.parse().ok()).collect() };
    let by_due = no_redirects().get(app.url("/t/acme/admin/?sort=due")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert_eq!(order(&by_due), vec![ids[1], ids[0], ids[2], ids[3]]);
    assert!(by_due.contains(r#"<option value="due" selected>Time to breach</option>"#), "the order is shown as chosen");
    assert!(by_due.contains("&amp;sort=due") || by_due.contains("&sort=due"), "the status tabs keep the order");
    let refused = no_redirects().get(app.url("/t/acme/admin/?sort=title")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("sort: must be one of: due, oldest, priority"));
    // The API pages through the same order with its cursor.
    let (s, first) = app.tenant_get("acme", "/tickets?sort=due&limit=2", &owner).await;
    assert_eq!(s, 200, "{first}");
    let got = |p: &Value| p["items"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(got(&first), vec![ids[1], ids[0]]);
    let (_, second) = app.tenant_get("acme", &format!("/tickets?sort=due&limit=2&cursor={}", first["next_cursor"].as_str().unwrap()), &owner).await;
    assert_eq!((got(&second), &second["next_cursor"]), (vec![ids[2], ids[3]], &Value::Null), "{second}");
    let (_, reversed) = app.tenant_get("acme", "/tickets?sort=-due", &owner).await;
    assert_eq!(got(&reversed), vec![ids[3], ids[2], ids[0], ids[1]]);
    let (s, body) = app.tenant_get("acme", &format!("/tickets?sort=created_at&cursor={}", first["next_cursor"].as_str().unwrap()), &owner).await;
    assert_eq!(s, 400, "a cursor of another order: {body}");
}

/// The ticket page's details change the category too (moderators and up;
/// a helper's page offers no choice), audited like the API's change.
async fn a_moderator_moves_a_ticket_to_another_category_on_its_page(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, billing) = app.tenant_post("acme", "/categories", &owner, json!({ "name": "Billing", "icon": "💳" })).await;
    let (_, delivery) = app.tenant_post("acme", "/categories", &owner, json!({ "name": "Delivery" })).await;
    let customer = app.sign_in(&t, 7_300).await;
    let (s, ticket) = app.tenant_post("acme", "/tickets", &customer, json!({ "title": "Charged twice", "description": "Twice!", "category_id": delivery["id"] })).await;
    assert_eq!(s, 201, "{ticket}");
    let id = ticket["id"].as_i64().unwrap();
    let http = no_redirects();
    let cookie = app.console_cookie(&t, t.owner).await;
    let page = http.get(app.url(&format!("/t/acme/admin/tickets/{id}"))).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-testid="category-select""#) && page.contains("💳 Billing"), "{page}");
    let to = billing["id"].as_i64().unwrap().to_string();
    let res = http.post(app.url(&format!("/t/acme/admin/tickets/{id}/change"))).header("cookie", &cookie).form(&[("csrf", csrf_in(&page).as_str()), ("category", to.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (_, now) = app.tenant_get("acme", &format!("/tickets/{id}"), &owner).await;
    assert_eq!(now["category_id"], billing["id"], "{now}");
    // A category of no desk's is refused on the page, nothing changed.
    let res = http.post(app.url(&format!("/t/acme/admin/tickets/{id}/change"))).header("cookie", &cookie).form(&[("csrf", csrf_in(&page).as_str()), ("category", "999999")]).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("no such category"));
    let audit = http.get(app.url("/t/acme/admin/audit?action=ticket.")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(audit.contains("ticket.category"), "{audit}");
    // A helper's page (the ticket assigned to them) offers no category.
    let helper_tg = 7_301;
    let helper_id = {
        let (_, me) = app.tenant_get("acme", "/auth/me", &app.sign_in(&t, helper_tg).await).await;
        me["id"].clone()
    };
    let (s, _) = app.tenant_call(reqwest::Method::PATCH, "acme", &format!("/users/{helper_id}"), &owner, Some(json!({ "role": "helper" }))).await;
    assert_eq!(s, 200);
    let (s, _) = app.tenant_call(reqwest::Method::PATCH, "acme", &format!("/tickets/{id}"), &owner, Some(json!({ "assignee_id": helper_id }))).await;
    assert_eq!(s, 200);
    let helper_cookie = app.console_cookie(&t, helper_tg).await;
    let page = http.get(app.url(&format!("/t/acme/admin/tickets/{id}"))).header("cookie", &helper_cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Charged twice") && !page.contains(r#"data-testid="category-select""#), "{page}");
}

/// The reply's freshness check and its write are one transaction: a reply
/// written before the customer's latest message is held back with that
/// message, and written once the agent has seen it.
async fn a_reply_is_checked_for_newer_messages_in_its_own_transaction(b: Backend) {
    use tikethet_runtime::desk::service::Reply;
    use tikethet_runtime::domain::{MessageBody, TicketId};
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 811;
    app.deliver(&t, &fixtures::message(1, customer, "My order is late")).await;
    app.wait_processed("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let ctx = app.state.runtime.context("acme", &owner).await.unwrap();
    let ticket = TicketId::new(1);
    let seen = ctx.messages(ticket).await.unwrap().last().unwrap().id;
    app.deliver(&t, &fixtures::message(2, customer, "Any news?")).await;
    app.wait_processed("acme", 2).await;

    let body = MessageBody::parse("It ships today.", &[]).unwrap();
    let before = ctx.messages(ticket).await.unwrap().len();
    match ctx.reply_if_current(ticket, &body, seen).await.unwrap() {
        Reply::Newer(newer) => assert_eq!(newer.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["Any news?"]),
        Reply::Sent(m) => panic!("sent over a newer message: {m:?}"),
    }
    assert_eq!(ctx.messages(ticket).await.unwrap().len(), before, "nothing written");
    let seen = ctx.messages(ticket).await.unwrap().last().unwrap().id;
    match ctx.reply_if_current(ticket, &body, seen).await.unwrap() {
        Reply::Sent(m) => assert_eq!(m.text, "It ships today."),
        Reply::Newer(n) => panic!("held back with nothing new: {n:?}"),
    }
    let after = ctx.messages(ticket).await.unwrap();
    assert_eq!((after.len(), after.last().unwrap().text.as_str()), (before + 1, "It ships today."));
    // The agent's own reply is not "newer" for the next one.
    assert!(matches!(ctx.reply_if_current(ticket, &body, seen).await.unwrap(), Reply::Sent(_)));
}

/// Every stylesheet and script a console page links to answers 200.
async fn assets_answer(app: &TestApp, page: &str) {
    let page = page.replace("&#x2f;", "/");
    let mut found = 0;
    for attr in [r#"rel="stylesheet" href=""#, r#"<script src=""#] {
        for part in page.split(attr).skip(1) {
            let url = part.split('"').next().unwrap();
            let res = app.http.get(app.url(url)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{url} linked from a console page");
            found += 1;
        }
    }
    assert!(found >= 2, "a stylesheet and a script: {page}");
}

/// Sends `/admin` from `chat` and returns the link the bot answers with.
async fn admin_link(app: &TestApp, t: &tikethet_tests::helpers::Tenant, update_id: i64, chat: i64) -> String {
    let before = app.fake.sent_to(&t.token, chat).len();
    app.deliver(t, &fixtures::message(update_id, chat, "/admin")).await;
    let said = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, chat).into_iter().skip(before).find(|m| m.contains("/admin/login?token=")) })
        .await
        .expect("the bot answers /admin with a sign-in link");
    assert!(said.starts_with("Your sign-in link to the acme Support console: it works once, for 10 minutes."), "{said}");
    TestApp::console_path(&said)
}

/// Makes `telegram_id` an admin of the desk (the owner grants it); their
/// user id.
async fn make_admin(app: &TestApp, t: &tikethet_tests::helpers::Tenant, telegram_id: i64) -> i64 {
    app.sign_in(t, telegram_id).await;
    let owner = app.sign_in(t, t.owner).await;
    let (_, users) = app.tenant_get("acme", "/users?limit=100", &owner).await;
    let id = users["items"].as_array().unwrap().iter().find(|u| u["telegram_id"] == telegram_id).expect("the agent")["id"].as_i64().unwrap();
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{id}"), &owner, Some(json!({"role": "admin"}))).await;
    assert_eq!(s, 200, "{body}");
    id
}

async fn console_forms_are_refused_without_their_token_and_sessions_are_listed_and_revocable(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    app.deliver(&t, &fixtures::message(1, 801, "My order is late")).await;
    app.wait_processed("acme", 1).await;
    let http = no_redirects();

    // Signed out: the way in, nothing of the desk.
    let res = http.get(app.url("/t/acme/admin/")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let page = res.text().await.unwrap();
    assert!(page.contains("send <code>/admin</code> to") && !page.contains("My order is late"), "{page}");

    // A customer asking for the console gets the help, no link.
    app.deliver(&t, &fixtures::message(2, 801, "/admin")).await;
    app.wait_processed("acme", 2).await;
    assert!(app.wait_outbox_settled("acme").await.iter().all(|m| !m.text.contains("login?token=")));

    // The owner's link works once, and only from its button: opening it
    // (as a link preview does) spends nothing.
    let link = admin_link(&app, &t, 3, t.owner).await;
    for _ in 0..2 {
        let preview = http.get(app.url(&link)).send().await.unwrap();
        assert_eq!(preview.status(), 200);
        assert!(preview.headers().get("set-cookie").is_none(), "no session from a GET");
        // The page the agent sees first is styled: its files are there.
        assets_answer(&app, &preview.text().await.unwrap()).await;
    }
    let res = app.redeem_console_link(&http, &link, Some("Firefox on the office PC")).await;
    assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/t/acme/admin/"));
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in ["tikethet_console_acme=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(part), "{part} in {set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let token = link.split("token=").nth(1).unwrap();
    let res = http.post(app.url("/t/acme/admin/login")).form(&[("token", token)]).send().await.unwrap();
    assert_eq!(res.status(), 401, "a used link");
    assert!(res.text().await.unwrap().contains("already used or has expired"));

    // An expired one too.
    let expired = admin_link(&app, &t, 4, t.owner).await;
    {
        use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
        use tikethet_runtime::storage::entities::console_links;
        let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
        let txn = tenant.db.begin().await.unwrap();
        console_links::Entity::update_many()
            .col_expr(console_links::Column::ExpiresAt, sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)))
            .filter(console_links::Column::UsedAt.is_null())
            .exec(&txn)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    let token = expired.split("token=").nth(1).unwrap();
    let res = http.post(app.url("/t/acme/admin/login")).form(&[("token", token)]).send().await.unwrap();
    assert_eq!(res.status(), 401, "an expired link");
    // A link cut short never gets as far as a button (a styled page says so).
    let res = http.get(app.url("/t/acme/admin/login?token=abc")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assets_answer(&app, &res.text().await.unwrap()).await;

    // Signed in: the queue.
    let page = http.get(app.url("/t/acme/admin/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("My order is late"), "{page}");
    let csrf = csrf_in(&page);

    // A form without the token, or from another site: refused, nothing done.
    let ticket = "/t/acme/admin/tickets/1";
    for (form, origin) in [(vec![("text", "Hello")], None), (vec![("text", "Hello"), ("csrf", "0000")], None), (vec![("text", "Hello"), ("csrf", csrf.as_str())], Some("https://evil.example"))] {
        let mut r = http.post(app.url(&format!("{ticket}/reply"))).header("cookie", &cookie).form(&form);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        let res = r.send().await.unwrap();
        assert_eq!(res.status(), 403, "{form:?} {origin:?}");
        assert!(res.text().await.unwrap().to_lowercase().contains("nothing was changed"));
    }
    let owner = app.sign_in(&t, t.owner).await;
    let (_, messages) = app.tenant_get("acme", "/tickets/1/messages", &owner).await;
    assert_eq!(messages["items"].as_array().unwrap().len(), 1, "no reply was stored: {messages}");

    // A reply that is just `/shortcut` goes out as its canned response.
    let (s, body) = app.tenant_post("acme", "/canned", &owner, json!({ "shortcut": "late", "text": "Sorry for the wait: your order ships today." })).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = app.tenant_post("acme", "/canned", &owner, json!({ "shortcut": "late", "text": "again" })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("conflict")), "a taken shortcut: {body}");
    let (s, body) = app.tenant_post("acme", "/canned", &owner, json!({ "shortcut": "Not Allowed", "text": "x" })).await;
    assert_eq!(s, 400, "{body}");
    let page = http.get(app.url(ticket)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-shortcut="late""#), "the ticket page offers it");
    let res = http.post(app.url(&format!("{ticket}/reply"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("text", "/late"), ("seen", "999999")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let got = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, 801).into_iter().find(|m| m.contains("Sorry for the wait: your order ships today.")) }).await;
    assert!(got.is_some(), "the customer got the canned answer");

    // Sessions: listed with their browser; another one revoked stops working.
    let second = app.console_cookie(&t, t.owner).await;
    let page = http.get(app.url("/t/acme/admin/sessions")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Firefox on the office PC") && page.contains("this browser"), "{page}");
    let other: i64 = page.split("/sessions/").nth(1).and_then(|s| s.split('/').next()).and_then(|s| s.parse().ok()).expect("the other session's revoke form");
    let res = http.post(app.url(&format!("/t/acme/admin/sessions/{other}/revoke"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(http.get(app.url("/t/acme/admin/")).header("cookie", &second).send().await.unwrap().status(), 401, "the revoked session");
    assert_eq!(http.get(app.url("/t/acme/admin/")).header("cookie", &cookie).send().await.unwrap().status(), 200, "this one still works");
    // Signing out ends this one.
    let res = http.post(app.url("/t/acme/admin/logout")).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(http.get(app.url("/t/acme/admin/")).header("cookie", &cookie).send().await.unwrap().status(), 401);
}

async fn on_page(c: &Client, page: &str) {
    let ok = wait_for(Duration::from_secs(10), || async {
        let at: Value = c.execute("return (document.readyState === 'complete' && !window.__before && document.body) ? document.body.dataset.page : null", vec![]).await.ok()?;
        (at == json!(page)).then_some(())
    })
    .await;
    if ok.is_none() {
        let text = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap_or_default();
        panic!("not on the {page} page; it shows: {text}");
    }
}

async fn click_to(c: &Client, css: &str, page: &str) {
    c.execute("window.__before = true", vec![]).await.unwrap();
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    on_page(c, page).await;
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_signs_in_by_link_answers_notes_and_changes_status_and_sees_another_agent() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 801;
    app.deliver(&t, &fixtures::message(1, customer, "Parcel never arrived")).await;
    app.deliver(&t, &fixtures::message(2, 802, "How do I change my address?")).await;
    app.wait_processed("acme", 1).await;
    app.wait_processed("acme", 2).await;
    let ann = 901;
    let ann_id = make_admin(&app, &t, ann).await;
    // She has talked to the bot, so it may write to her.
    app.fake.start_chat(&t.token, ann);

    // The owner signs in through the link /admin answers with.
    let link = admin_link(&app, &t, 3, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    let queue = text_of(&c, "[data-testid=queue]").await;
    assert!(queue.contains("Parcel never arrived") && queue.contains("How do I change my address?"), "{queue}");
    save_screenshot(&c, "console-queue").await;

    // Find the ticket: search, then open it from the keyboard.
    c.find(Locator::Css("[data-testid=search]")).await.unwrap().send_keys("parcel\n").await.unwrap();
    on_page(&c, "queue").await;
    let queue = text_of(&c, "[data-testid=queue]").await;
    assert!(queue.contains("Parcel never arrived") && !queue.contains("change my address"), "{queue}");
    c.execute("document.activeElement.blur(); window.__before = true", vec![]).await.unwrap();
    c.active_element().await.unwrap().send_keys("j").await.unwrap();
    c.active_element().await.unwrap().send_keys("\u{E007}").await.unwrap();
    on_page(&c, "ticket").await;
    let id: i64 = c.execute("return Number(document.querySelector('.ticket').dataset.ticket)", vec![]).await.unwrap().as_i64().unwrap();

    // Ann opens the same ticket (her console's script reports as the
    // page's does) and starts replying: the owner sees it.
    let ann_cookie = app.console_cookie(&t, ann).await;
    let http = no_redirects();
    let ann_page = http.get(app.url(&format!("/t/acme/admin/tickets/{id}"))).header("cookie", &ann_cookie).send().await.unwrap().text().await.unwrap();
    let ann_csrf = csrf_in(&ann_page);
    let beat = |typing: &'static str| {
        let http = http.clone();
        let url = app.url(&format!("/t/acme/admin/tickets/{id}/presence"));
        let (cookie, csrf) = (ann_cookie.clone(), ann_csrf.clone());
        async move { http.post(url).header("cookie", cookie).header("x-csrf-token", csrf).form(&[("typing", typing)]).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    beat("1").await;
    let warned = wait_for(Duration::from_secs(10), || async {
        let shown: Value = c.execute("const w = document.querySelector('[data-testid=collision]'); return w.hidden ? null : w.textContent", vec![]).await.ok()?;
        shown.as_str().map(str::to_owned)
    })
    .await
    .expect("the collision warning");
    assert!(warned.contains("is replying to this ticket"), "{warned}");
    // And Ann sees the owner there.
    let seen_by_ann = wait_for(Duration::from_secs(10), || async {
        let p = beat("1").await;
        p["others"].as_array().filter(|o| !o.is_empty()).cloned()
    })
    .await
    .expect("Ann sees the owner on the ticket");
    assert_eq!(seen_by_ann[0]["typing"], false);
    save_screenshot(&c, "console-collision").await;

    // Ann's reply goes out first: the owner's reply, written on the page
    // before it, is refused, the newer message shown and the draft kept.
    // The page hears nothing more from here (as when its connection drops):
    // had it heard, Ann's reply would be on screen and sending it right.
    c.execute("window.fetch = function () { return new Promise(function () {}); }", vec![]).await.unwrap();
    let res = http
        .post(app.url(&format!("/t/acme/admin/tickets/{id}/reply")))
        .header("cookie", &ann_cookie)
        .form(&[("csrf", ann_csrf.as_str()), ("text", "We are checking with the courier."), ("seen", "999999")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    c.find(Locator::Css("[data-testid=reply]")).await.unwrap().send_keys("Sorry! A new parcel is on its way.").await.unwrap();
    click_to(&c, "[data-testid=send-reply]", "ticket").await;
    let flash = text_of(&c, "[data-testid=flash]").await;
    assert!(flash.starts_with("Not sent: 1 new message arrived"), "{flash}");
    assert_eq!(text_of(&c, ".msg.newer .text").await, "We are checking with the courier.");
    let draft: Value = c.execute("return document.querySelector('[data-testid=reply]').value", vec![]).await.unwrap();
    assert_eq!(draft, json!("Sorry! A new parcel is on its way."));
    save_screenshot(&c, "console-stale-reply").await;

    // Sent again, now that it has been read.
    click_to(&c, "[data-testid=send-reply]", "ticket").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Reply sent to the customer.");
    // A canned response inserted with `/shortcut` and Tab.
    let owner = app.sign_in(&t, t.owner).await;
    let (s, body) = app.tenant_post("acme", "/canned", &owner, json!({ "shortcut": "sorry", "text": "We are sorry for the trouble." })).await;
    assert_eq!(s, 201, "{body}");
    c.refresh().await.unwrap();
    on_page(&c, "ticket").await;
    let reply = c.find(Locator::Css("[data-testid=reply]")).await.unwrap();
    reply.send_keys("Hello. /sor").await.unwrap();
    assert!(c.find(Locator::Css("#canned:not([hidden]) li[data-shortcut=sorry]:not([hidden])")).await.is_ok(), "the suggestion shows");
    reply.send_keys("\u{E004}").await.unwrap();
    let typed: Value = c.execute("return document.querySelector('[data-testid=reply]').value", vec![]).await.unwrap();
    assert_eq!(typed, json!("Hello. We are sorry for the trouble."));
    c.execute("document.querySelector('[data-testid=reply]').value = ''", vec![]).await.unwrap();
    // An internal note, then a status change.
    c.find(Locator::Css("[data-testid=note]")).await.unwrap().send_keys("VIP: refund if the courier fails again").await.unwrap();
    click_to(&c, "[data-testid=add-note]", "ticket").await;
    assert_eq!(text_of(&c, "[data-kind=note] .text").await, "VIP: refund if the courier fails again");
    c.find(Locator::Css("[data-testid=status-select] option[value=waiting_response]")).await.unwrap().click().await.unwrap();
    // And assigned to Ann, who is told through the bot.
    c.find(Locator::Css(&format!("[data-testid=assignee-select] option[value='{ann_id}']"))).await.unwrap().click().await.unwrap();
    click_to(&c, "[data-testid=save-changes]", "ticket").await;
    assert_eq!(text_of(&c, "[data-testid=status]").await, "Waiting for the customer");
    let assigned = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, ann).into_iter().find(|m| m.contains(&format!("Ticket #{id} is assigned to you"))) }).await;
    assert!(assigned.is_some(), "Ann is told: {:?}", app.fake.sent_to(&t.token, ann));
    save_screenshot(&c, "console-ticket").await;

    // On a phone: one column, nothing wider than the screen.
    c.set_window_size(390, 844).await.unwrap();
    let fits: Value = c.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await.unwrap();
    assert_eq!(fits, json!(true), "the ticket page fits a phone");
    save_screenshot(&c, "console-ticket-phone").await;
    c.goto(&app.url("/t/acme/admin/")).await.unwrap();
    on_page(&c, "queue").await;
    let fits: Value = c.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await.unwrap();
    assert_eq!(fits, json!(true), "the queue fits a phone");
    save_screenshot(&c, "console-queue-phone").await;

    // The customer got both replies, never the note.
    let got = wait_for(Duration::from_secs(10), || async {
        let sent = app.fake.sent_to(&t.token, customer);
        sent.iter().any(|m| m.contains("Sorry! A new parcel is on its way.")).then_some(sent)
    })
    .await
    .expect("the reply reaches the customer");
    assert!(got.iter().any(|m| m.contains("We are checking with the courier.")));
    app.wait_outbox_settled("acme").await;
    assert!(app.fake.sent_to(&t.token, customer).iter().all(|m| !m.contains("VIP")), "the note stays inside");
    let owner = app.sign_in(&t, t.owner).await;
    let (_, ticket) = app.tenant_get("acme", &format!("/tickets/{id}"), &owner).await;
    assert_eq!(ticket["status"], "waiting_response");
}

async fn analytics_count_the_desks_tickets_and_the_export_streams_every_one_safely(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    // 1,203 tickets (more than two pages of the export), one titled like a formula.
    for i in 1..=3 {
        app.deliver(&t, &fixtures::message(i, 800 + i, if i == 1 { "=SUM(A1:A9), then \"quotes\"" } else { "Help" })).await;
    }
    // Three chats, three lanes: each is waited for.
    for i in 1..=3 {
        app.wait_processed("acme", i).await;
    }
    {
        use sea_orm::{ActiveModelTrait as _, ActiveValue::Set};
        use tikethet_runtime::storage::entities::tickets;
        let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
        let txn = tenant.db.begin().await.unwrap();
        let now = chrono::Utc::now();
        for i in 0..1200 {
            // Two hours back at least: resolved 90 minutes after creation
            // is then never in the future (past 22:30 UTC it would fall on
            // tomorrow, and today's backlog would still count it).
            let at = now - chrono::Duration::hours(i % 600 + 2);
            tickets::ActiveModel {
                customer_id: Set(1),
                title: Set(format!("Seeded {i}")),
                description: Set("seeded".into()),
                status: Set(if i % 2 == 0 { tikethet_runtime::domain::TicketStatus::Resolved } else { tikethet_runtime::domain::TicketStatus::Open }),
                priority: Set(if i % 3 == 0 { tikethet_runtime::domain::Priority::High } else { tikethet_runtime::domain::Priority::Normal }),
                created_at: Set(at),
                updated_at: Set(at),
                resolved_at: Set((i % 2 == 0).then(|| at + chrono::Duration::minutes(90))),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .unwrap();
        }
        txn.commit().await.unwrap();
    }
    let owner = app.sign_in(&t, t.owner).await;
    let cookie = app.console_cookie(&t, t.owner).await;
    let http = no_redirects();
    let page = http.get(app.url("/t/acme/admin/analytics?days=30")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let kpi = |key: &str| page.split(&format!(r#"data-kpi="{key}""#)).nth(1).unwrap().split(r#"class="value">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    // Created in 30 days: all 1,203 (the seeded go back 25 days); open now:
    // 600 seeded and 3 from the bot.
    assert_eq!((kpi("created"), kpi("backlog")), ("1203".to_owned(), "603".to_owned()));
    let (_, stats) = app.tenant_get("acme", "/stats", &owner).await;
    assert_eq!(stats["resolution"]["median_seconds"], 5400.0, "{stats}");
    assert!(page.contains(r#"data-chart="flow""#) && page.contains(r#"data-chart="backlog""#));
    assert!(page.contains("<td>high</td><td>400</td><td>200</td>"), "by priority: created, open");

    let res = http.get(app.url("/t/acme/admin/analytics/tickets.csv")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("acme-tickets.csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 1203, "a header and every ticket once");
    // (Tickets are numbered as their chats' lanes got to them.)
    let formula = lines.iter().find(|l| l.contains("SUM(A1:A9)")).expect("the formula-like title");
    assert!(formula.contains(r#","'=SUM(A1:A9), then ""quotes""","#), "quoted, never a formula: {formula}");
    let ids: Vec<i64> = lines[1..].iter().map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    // Without a session the export is refused as unsigned; a helper's real
    // session (it opens the queue) is refused by role.
    let res = http.get(app.url("/t/acme/admin/analytics/tickets.csv")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let helper_tg = 805;
    app.sign_in(&t, helper_tg).await;
    let (_, users) = app.tenant_get("acme", "/users?limit=100", &owner).await;
    let helper_id = users["items"].as_array().unwrap().iter().find(|u| u["telegram_id"] == helper_tg).expect("the helper")["id"].as_i64().unwrap();
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{helper_id}"), &owner, Some(json!({"role": "helper"}))).await;
    assert_eq!(s, 200, "{body}");
    let helper_cookie = app.console_cookie(&t, helper_tg).await;
    let queue = http.get(app.url("/t/acme/admin/")).header("cookie", &helper_cookie).send().await.unwrap();
    assert_eq!(queue.status(), 200, "the helper's session is good");
    let res = http.get(app.url("/t/acme/admin/analytics/tickets.csv")).header("cookie", &helper_cookie).send().await.unwrap();
    assert_eq!(res.status(), 403, "a helper may not export");
    let body = res.text().await.unwrap();
    assert!(body.contains("Not allowed") && !body.contains("Seeded"), "refused by role, and no ticket in it: {body}");

    // Every table downloads as CSV.
    let res = http.get(app.url("/t/acme/admin/analytics/by-priority.csv?days=30")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("priority,created_in_30_days,open_now\r\n") && csv.contains("\r\nhigh,400,200\r\n"), "{csv}");
    assert_eq!(http.get(app.url("/t/acme/admin/analytics/nothing.csv")).header("cookie", &cookie).send().await.unwrap().status(), 404);

    // A resolved ticket its customer writes in again is reopened: counted
    // on the page, in the per-day export and in the audit log.
    let formula_id: i64 = formula.split(',').next().unwrap().parse().unwrap();
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{formula_id}"), &owner, Some(json!({"status": "resolved"}))).await;
    assert_eq!(s, 200, "{body}");
    // (In the bot, the next message after a resolution is the rating's
    // comment; in the Mini App, writing in the ticket reopens it.)
    let carl = app.sign_in(&t, 801).await;
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{formula_id}/messages"), &carl, json!({"text": "It is broken again"})).await;
    assert_eq!(s, 201, "{body}");
    let page = http.get(app.url("/t/acme/admin/analytics?days=7")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let kpi = |key: &str| page.split(&format!(r#"data-kpi="{key}""#)).nth(1).unwrap().split(r#"class="value">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(kpi("reopened"), "1");
    let csv = http.get(app.url("/t/acme/admin/analytics/per-day.csv?days=7")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let row = csv.lines().find(|l| l.starts_with(&today)).unwrap_or_else(|| panic!("{csv}"));
    assert_eq!(row.split(',').nth(3), Some("1"), "reopened today: {csv}");
    let audit = http.get(app.url("/t/acme/admin/audit?action=ticket.")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(audit.contains("ticket.reopened") && audit.contains("resolved → open by the customer") && audit.contains("ticket.status") && audit.contains("open → resolved"), "{audit}");
}

/// An admin runs the desk from the console: grants a role and blocks a
/// customer on the people page, adds a category and a canned answer, sees
/// the plugins' empty state, and unlinks the staff group on the settings
/// page. A role above the admin's own is refused, in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_people_categories_answers_and_the_staff_group_in_the_console() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let (carl, ann) = (801, 901);
    app.deliver(&t, &fixtures::message(1, carl, "Where is my parcel?")).await;
    let mut hello = fixtures::message(2, ann, "/start");
    hello["message"]["from"]["first_name"] = "Ann".into();
    hello["message"]["from"]["last_name"] = Value::Null;
    app.deliver(&t, &hello).await;
    let group = -1_001_000_000_777;
    app.fake.add_forum(&t.token, group);
    let mut link_group = fixtures::group_message(3, group, t.owner, "/staffgroup", true);
    link_group["message"]["from"]["first_name"] = "Olga".into();
    app.deliver(&t, &link_group).await;
    app.deliver(&t, &fixtures::message(5, 803, "Refund please")).await;
    for i in [1, 2, 3, 5] {
        app.wait_processed("acme", i).await;
    }

    let link = admin_link(&app, &t, 4, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;

    // People: Ann becomes a moderator; Carl is blocked.
    click_to(&c, "nav a[href$='/people']", "people").await;
    c.goto(&app.url("/t/acme/admin/people?show=all")).await.unwrap();
    on_page(&c, "people").await;
    let people = text_of(&c, "[data-testid=people]").await;
    assert!(people.contains("Ann") && people.contains("Test Firstname"), "{people}");
    let ann_id: i64 = c
        .execute("return Number([...document.querySelectorAll('tr[data-person]')].find(r => r.textContent.includes('Ann')).dataset.person)", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    c.execute(&format!("document.getElementById('role-{ann_id}').value = 'moderator'"), vec![]).await.unwrap();
    click_to(&c, &format!("tr[data-person='{ann_id}'] button[value=role]"), "people").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Saved.");
    let carl_id: i64 = c
        .execute("return Number([...document.querySelectorAll('tr[data-person]')].find(r => r.textContent.includes('Test Firstname')).dataset.person)", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    c.execute("window.confirm = () => true", vec![]).await.unwrap();
    click_to(&c, &format!("tr[data-person='{carl_id}'] button[value=block]"), "people").await;
    save_screenshot(&c, "console-people").await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, a) = app.tenant_get("acme", &format!("/users/{ann_id}"), &owner).await;
    assert_eq!(a["role"], "moderator", "{a}");
    let (_, cu) = app.tenant_get("acme", &format!("/users/{carl_id}"), &owner).await;
    assert_eq!(cu["blocked"], true, "{cu}");

    // Categories: one added, shown, and known to the API.
    click_to(&c, "nav a[href$='/categories']", "categories").await;
    assert!(text_of(&c, "main").await.contains("No categories yet"));
    c.find(Locator::Css("#new-icon")).await.unwrap().send_keys("📦").await.unwrap();
    c.find(Locator::Css("#new-name")).await.unwrap().send_keys("Delivery").await.unwrap();
    click_to(&c, "[data-testid=new-category] button", "categories").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Category saved.");
    let (_, cats) = app.tenant_get("acme", "/categories", &owner).await;
    assert!(cats.to_string().contains("Delivery"), "{cats}");
    save_screenshot(&c, "console-categories").await;

    // Canned answers: one added.
    click_to(&c, "nav a[href$='/canned']", "canned").await;
    c.find(Locator::Css("#new-shortcut")).await.unwrap().send_keys("/thanks").await.unwrap();
    c.find(Locator::Css("#new-text")).await.unwrap().send_keys("Thank you for waiting!").await.unwrap();
    click_to(&c, "[data-testid=new-canned] button", "canned").await;
    let list = text_of(&c, "[data-testid=canned-list]").await;
    assert!(list.contains("Thank you for waiting!"), "{list}");
    let (_, canned) = app.tenant_get("acme", "/canned", &owner).await;
    assert!(canned.to_string().contains("\"thanks\""), "the slash is not part of the shortcut: {canned}");
    save_screenshot(&c, "console-canned").await;

    // Plugins: none yet, and the page says where they come from.
    click_to(&c, "nav a[href$='/plugins']", "plugins").await;
    assert!(text_of(&c, "main").await.contains("No plugins installed"));

    // Settings: the staff group linked from Telegram, unlinked here.
    click_to(&c, "nav a[href$='/settings']", "settings").await;
    let group_card = text_of(&c, "[data-testid=staff-group]").await;
    assert!(group_card.contains("Acme staff") && group_card.contains("each ticket has its own topic"), "{group_card}");
    save_screenshot(&c, "console-settings").await;
    c.execute("window.confirm = () => true", vec![]).await.unwrap();
    click_to(&c, "[data-testid=staff-group] button[value=unlink]", "settings").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "The staff group is unlinked.");
    assert!(text_of(&c, "[data-testid=staff-group]").await.contains("No staff group"));

    // Service levels and working hours, set on the same page; a day that
    // ends before it starts is refused in words and nothing changes.
    c.find(Locator::Css("#sla-first-high")).await.unwrap().send_keys("30").await.unwrap();
    c.find(Locator::Css("#sla-res-high")).await.unwrap().send_keys("240").await.unwrap();
    c.find(Locator::Css("#sla-hours")).await.unwrap().click().await.unwrap();
    c.execute("document.getElementById('sla-start').value = '18:00'; document.getElementById('sla-end').value = '09:00'", vec![]).await.unwrap();
    click_to(&c, "[data-testid=sla-form] button", "settings").await;
    let refused = text_of(&c, "[data-testid=flash]").await;
    assert!(refused.contains("after the start"), "{refused}");
    let (_, sla) = app.tenant_get("acme", "/settings/sla", &owner).await;
    assert_eq!(sla["targets"], json!({}), "nothing saved: {sla}");
    c.execute("document.getElementById('sla-start').value = '09:00'; document.getElementById('sla-end').value = '18:00'; document.getElementById('sla-zone').value = 'Europe/Moscow'; document.getElementById('sla-holidays').value = '2026-12-31\\n2027-01-01'", vec![]).await.unwrap();
    click_to(&c, "[data-testid=sla-form] button", "settings").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Service levels saved.");
    let (_, sla) = app.tenant_get("acme", "/settings/sla", &owner).await;
    assert_eq!(sla["targets"]["high"], json!({"first_response_minutes": 30, "resolution_minutes": 240}), "{sla}");
    assert_eq!(
        sla["business_hours"],
        json!({"time_zone": "Europe/Moscow", "utc_offset": null, "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00", "holidays": ["2026-12-31", "2027-01-01"]}),
        "{sla}"
    );
    assert!(text_of(&c, "[data-testid=sla]").await.contains("Counted in working time: Mon, Tue, Wed, Thu, Fri 09:00–18:00, Europe/Moscow; holidays: 2026-12-31, 2027-01-01."));

    // Look and bot: a colour changed with its preview, the welcome rewritten
    // (a template that does not parse is refused, in words).
    click_to(&c, "nav a[href$='/look']", "look").await;
    c.execute("const p = document.getElementById('primary'); p.value = '#aa3366'; p.dispatchEvent(new Event('input', {bubbles: true}))", vec![]).await.unwrap();
    let shown: Value = c.execute("return getComputedStyle(document.querySelector('.pv-head')).backgroundColor", vec![]).await.unwrap();
    assert_eq!(shown, json!("rgb(170, 51, 102)"), "the preview follows the form");
    save_screenshot(&c, "console-look").await;
    click_to(&c, "[data-testid=theme-form] button", "look").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Look saved.");
    let (_, theme) = app.tenant_get("acme", "/theme", &owner).await;
    assert_eq!(theme["effective"]["primary_color"], "#aa3366", "{theme}");
    c.execute("document.getElementById('text-en-welcome').value = 'Hi {{ first_name }, welcome'", vec![]).await.unwrap();
    click_to(&c, "[data-testid=texts-form] button", "look").await;
    assert!(text_of(&c, "[data-testid=flash]").await.starts_with("Not saved"));
    c.execute("document.getElementById('text-en-welcome').value = 'Hi {{ first_name }}, welcome to Acme!'", vec![]).await.unwrap();
    click_to(&c, "[data-testid=texts-form] button", "look").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Texts saved.");
    app.deliver(&t, &fixtures::start(6, 804)).await;
    let hi = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, 804).into_iter().next() }).await;
    assert_eq!(hi.as_deref(), Some("Hi Test Firstname, welcome to Acme!"));

    // In Russian, chosen in the header: the same page, its words translated, and it stays chosen.
    click_to(&c, "[data-testid=lang]", "look").await;
    let nav = text_of(&c, "header").await;
    assert!(nav.contains("Обращения") && nav.contains("Настройки"), "{nav}");
    assert!(text_of(&c, "h1").await.contains("Вид и бот"));
    click_to(&c, "nav a[href$='/people']", "people").await;
    assert!(text_of(&c, "main").await.contains("Роль выдаёт тот, кто выше"));
    save_screenshot(&c, "console-people-ru").await;
    click_to(&c, "[data-testid=lang]", "people").await;
    assert!(text_of(&c, "header nav").await.contains("Tickets"));

    // The queue: both tickets selected (x on the keyboard, a click) and
    // given to Ann at once; the view saved under a name.
    click_to(&c, "nav a[href$='/admin/']", "queue").await;
    c.execute("document.activeElement.blur()", vec![]).await.unwrap();
    c.active_element().await.unwrap().send_keys("j").await.unwrap();
    c.active_element().await.unwrap().send_keys("x").await.unwrap();
    c.find(Locator::Css(".queue li:nth-child(2) .pick")).await.unwrap().click().await.unwrap();
    let picked: Value = c.execute("return document.querySelectorAll('.pick:checked').length", vec![]).await.unwrap();
    assert_eq!(picked, json!(2));
    c.execute(&format!("document.getElementById('bulk-assignee').value = '{ann_id}'"), vec![]).await.unwrap();
    click_to(&c, "[data-testid=bulk-apply]", "queue").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Tickets updated.");
    let (_, list) = app.tenant_get("acme", "/tickets?limit=10", &owner).await;
    let assigned: Vec<&Value> = list["items"].as_array().unwrap().iter().map(|t| &t["assignee_id"]).collect();
    assert_eq!(assigned, [&json!(ann_id), &json!(ann_id)], "{list}");
    c.find(Locator::Css("#view-name")).await.unwrap().send_keys("Mine").await.unwrap();
    click_to(&c, "[data-testid=save-view]", "queue").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "View saved for the desk.");
    assert_eq!(text_of(&c, "#saved-views a[data-view]").await, "Mine");
    // Shared: the desk's other staff see it too (through the API as well).
    let (_, views) = app.tenant_get("acme", "/views", &owner).await;
    assert_eq!(views["items"][0]["name"], "Mine", "{views}");
    save_screenshot(&c, "console-queue-bulk").await;

    // An admin cannot make an owner, nor a moderator an admin: refused, said on the page.
    let ann_cookie = app.console_cookie(&t, ann).await;
    let http = no_redirects();
    let page = http.get(app.url("/t/acme/admin/people?show=all")).header("cookie", &ann_cookie).send().await.unwrap().text().await.unwrap();
    let res = http
        .post(app.url(&format!("/t/acme/admin/people/{carl_id}")))
        .header("cookie", &ann_cookie)
        .form(&[("csrf", csrf_in(&page).as_str()), ("do", "role"), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert!(body.contains("data-testid=\"flash\"") && body.contains("moderator"), "{body}");
    let (_, cu) = app.tenant_get("acme", &format!("/users/{carl_id}"), &owner).await;
    assert_eq!(cu["role"], "user", "{cu}");
}

/// Presses Replay on the hostile plugin's `on-message` failure; the replay's text.
async fn replay_on_message_failure(c: &Client) -> String {
    c.execute(
        "const f = [...document.querySelectorAll('[data-plugin=hostile] details li')].find(li => li.querySelector('small').textContent.includes('on-message')); f.querySelector('button[value=replay]').setAttribute('data-pick', '1')",
        vec![],
    )
    .await
    .unwrap();
    click_to(c, "button[data-pick]", "plugins").await;
    text_of(c, "#replay").await
}

/// An admin installs a plugin from the console (a file input, not the API),
/// sets its configuration and its `on-schedule` time there, sees the
/// failures it causes with their input, and replays one: the broken
/// configuration fails again; after a fix the replay shows the plugin's
/// answer, and nothing reaches the customer (a dry run). Something that is
/// not a component is refused in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_uploads_schedules_and_replays_a_plugin_in_the_console() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let files = tempfile::tempdir().unwrap();
    let wasm = files.path().join("hostile.wasm");
    let built = tikethet_plugins::build::build_bundled("hostile").unwrap_or_else(|e| panic!("building the hostile plugin: {e:#}"));
    std::fs::copy(&built, &wasm).unwrap();
    let not_wasm = files.path().join("notes.wasm");
    std::fs::write(&not_wasm, "just some text").unwrap();

    let link = admin_link(&app, &t, 1, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    click_to(&c, "nav a[href$='/plugins']", "plugins").await;
    assert!(text_of(&c, "main").await.contains("No plugins installed"));

    // Not a component: refused, and nothing is installed.
    c.find(Locator::Css("#pu-name")).await.unwrap().send_keys("notes").await.unwrap();
    c.find(Locator::Css("#pu-file")).await.unwrap().send_keys(not_wasm.to_str().unwrap()).await.unwrap();
    click_to(&c, "#plugin-upload button", "plugins").await;
    let refused = text_of(&c, "[data-testid=flash]").await;
    assert!(refused.contains("component"), "{refused}");
    let owner = app.sign_in(&t, t.owner).await;
    let (_, list) = app.tenant_get("acme", "/plugins", &owner).await;
    assert_eq!(list["items"], json!([]), "{list}");

    // The real component: installed from the file input.
    c.find(Locator::Css("#pu-name")).await.unwrap().send_keys("hostile").await.unwrap();
    c.find(Locator::Css("#pu-file")).await.unwrap().send_keys(wasm.to_str().unwrap()).await.unwrap();
    click_to(&c, "#plugin-upload button", "plugins").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Plugin installed.");
    let (_, list) = app.tenant_get("acme", "/plugins", &owner).await;
    assert_eq!((list["items"][0]["name"].as_str(), list["items"][0]["enabled"].as_bool()), (Some("hostile"), Some(true)), "{list}");

    // Configuration and schedule, set on the page.
    let config = c.find(Locator::Css("#pc-hostile")).await.unwrap();
    config.clear().await.unwrap();
    config.send_keys(r#"{"mode": "trap"}"#).await.unwrap();
    c.find(Locator::Css("#ps-hostile")).await.unwrap().send_keys("0 3 * * *").await.unwrap();
    let wait = c.find(Locator::Css("#pw-hostile")).await.unwrap();
    wait.clear().await.unwrap();
    wait.send_keys("90").await.unwrap();
    click_to(&c, "[data-plugin=hostile] button[value=save]", "plugins").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Plugin saved.");
    let (_, list) = app.tenant_get("acme", "/plugins", &owner).await;
    let p = &list["items"][0];
    assert_eq!((&p["config"], p["schedule"].as_str(), p["schedule_waiting_minutes"].as_i64()), (&json!({"mode": "trap"}), Some("0 3 * * *"), Some(90)), "{p}");
    let next_run = p["next_run_at"].clone();
    assert!(text_of(&c, "[data-plugin=hostile] .schedule").await.contains("Next run"));

    // A customer's message makes it fail; the failure shows with its input.
    app.deliver(&t, &fixtures::message(2, 801, "Where is my parcel?")).await;
    app.wait_processed("acme", 2).await;
    let failures = wait_for(Duration::from_secs(10), || async {
        let (_, f) = app.tenant_get("acme", "/plugins/hostile/failures", &owner).await;
        f["items"].as_array().filter(|i| !i.is_empty()).cloned()
    })
    .await
    .expect("the failure is recorded");
    assert!(failures.iter().any(|f| f["hook"] == "on-message"), "{failures:?}");
    let sent_before = app.wait_outbox_settled("acme").await.len();
    c.goto(&app.url("/t/acme/admin/plugins")).await.unwrap();
    on_page(&c, "plugins").await;
    c.find(Locator::Css("[data-plugin=hostile] details summary")).await.unwrap().click().await.unwrap();
    let listed = text_of(&c, "[data-plugin=hostile] details").await;
    assert!(listed.contains("Where is my parcel?"), "the input is shown: {listed}");

    // Replay with the broken configuration: it fails again, in words.
    let replay = replay_on_message_failure(&c).await;
    assert!(replay.contains("It failed again") && replay.contains("trap"), "{replay}");

    // Fixed (echo mode), replayed: the answer shows; nothing is sent.
    let config = c.find(Locator::Css("#pc-hostile")).await.unwrap();
    config.clear().await.unwrap();
    config.send_keys(r#"{"mode": "echo"}"#).await.unwrap();
    click_to(&c, "[data-plugin=hostile] button[value=save]", "plugins").await;
    let (_, list) = app.tenant_get("acme", "/plugins", &owner).await;
    assert_eq!(list["items"][0]["next_run_at"], next_run, "saving the configuration leaves the schedule's due time");
    c.find(Locator::Css("[data-plugin=hostile] details summary")).await.unwrap().click().await.unwrap();
    let replay = replay_on_message_failure(&c).await;
    assert!(replay.contains("It answered") && replay.contains("echo: Where is my parcel?"), "{replay}");
    save_screenshot(&c, "console-plugins").await;
    assert_eq!(app.wait_outbox_settled("acme").await.len(), sent_before, "a replay sends nothing");

    // Clearing the schedule on the page removes it.
    let cron = c.find(Locator::Css("#ps-hostile")).await.unwrap();
    cron.clear().await.unwrap();
    click_to(&c, "[data-plugin=hostile] button[value=save]", "plugins").await;
    let (_, list) = app.tenant_get("acme", "/plugins", &owner).await;
    assert_eq!(list["items"][0]["schedule"], Value::Null, "{list}");
}

/// Every console page in a real browser, the one-time link's page and an
/// error page included: nothing a page loads (styles, scripts, images)
/// answers an error. Resource Timing's `responseStatus` says what each
/// load got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_console_page_loads_anything_that_answers_an_error() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    app.deliver(&t, &fixtures::message(1, 801, "Parcel never arrived")).await;
    app.wait_processed("acme", 1).await;
    let link = admin_link(&app, &t, 2, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    let failed = "return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])";
    let loads_well = async |what: &str| {
        let loads: Value = c.execute(failed, vec![]).await.unwrap();
        let loads = loads.as_array().unwrap().clone();
        assert!(!loads.is_empty(), "{what} loads its styles and script");
        let bad: Vec<&Value> = loads.iter().filter(|l| l[1].as_i64().is_none_or(|s| s >= 400)).collect();
        assert!(bad.is_empty(), "{what} loaded something that answered an error: {bad:?}");
    };
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    loads_well("the one-time link's page").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    let id = page["items"][0]["id"].as_i64().unwrap();
    let customer = page["items"][0]["customer_id"].as_i64().unwrap();
    // A note and attributes, for the customer page's screenshot.
    assert_eq!(app.tenant_post("acme", &format!("/users/{customer}/notes"), &owner, json!({ "text": "Ordered twice this month; prefers mornings." })).await.0, 201);
    assert_eq!(app.tenant_call(Method::PUT, "acme", &format!("/users/{customer}/attributes"), &owner, Some(json!({ "attributes": { "plan": "gold", "order": "A-1042" } }))).await.0, 200);
    // A team with a member, for the Teams page's screenshot.
    let (s, team) = app.tenant_post("acme", "/teams", &owner, json!({ "name": "Delivery", "rule": "round_robin", "takes_new": true })).await;
    assert_eq!(s, 201, "{team}");
    let (_, me) = app.tenant_get("acme", "/auth/me", &owner).await;
    let (s, _) = app.tenant_call(Method::PUT, "acme", &format!("/teams/{}/members/{}", team["id"], me["id"]), &owner, None).await;
    assert_eq!(s, 200);
    for (path, name) in [
        ("/".to_owned(), "queue"),
        (format!("/tickets/{id}"), "ticket"),
        ("/analytics".into(), "analytics"),
        ("/people".into(), "people"),
        ("/customers".into(), "customers"),
        (format!("/customers/{customer}"), "customer"),
        ("/teams".into(), "teams"),
        ("/categories".into(), "categories"),
        ("/canned".into(), "canned"),
        ("/macros".into(), "macros"),
        ("/plugins".into(), "plugins"),
        ("/look".into(), "look"),
        ("/settings".into(), "settings"),
        ("/audit".into(), "audit"),
        ("/billing".into(), "billing"),
        ("/domain".into(), "domain"),
        ("/sessions".into(), "sessions"),
        // A page of the console's error kind.
        ("/tickets/999999".into(), "error"),
    ] {
        c.goto(&app.url(&format!("/t/acme/admin{path}"))).await.unwrap();
        on_page(&c, name).await;
        loads_well(&path).await;
        if name == "teams" || name == "customer" || name == "audit" {
            save_screenshot(&c, &format!("console-{name}")).await;
        }
    }
}

/// Words a Russian page may show in Latin letters: names of products and
/// standards, and this test's own data (the desk, its bot, the customer's
/// Telegram name, ids).
const LATIN_ALLOWED: &[&str] = &[
    "Telegram", "Mini", "App", "CSAT", "SLA", "API", "IANA", "UTC", "Fluent", "Stripe", "CSV", "PNG", "JPEG", "PDF", "WASM", "JSON", "HTTPS", "URL", "TXT", "DNS", "ID", "id", "Europe", "Moscow", "Berlin",
    "English", "Español", "acme", "Support", "Test", "Firstname", "Lastname", "Owner", "owner", "bot", "GiB", "MiB", "KiB", "WebAssembly", "wasm", "px", "Enter", "Tab", "en", "ru", "uk", "es", "admin", "start", "help", "tikethet", "https", "http", "example", "com", "org", "www", "openstreetmap", "png", "svg",
];

/// Every console page rendered in Russian: no word of English in its text
/// or in what it says to screen readers and on hover (titles, labels,
/// placeholders). The check runs in the browser, on what the page shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_in_russian_has_no_english_words() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    app.deliver(&t, &fixtures::message(1, 801, "Посылка не пришла")).await;
    app.wait_processed("acme", 1).await;
    let link = admin_link(&app, &t, 2, t.owner).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    let id = page["items"][0]["id"].as_i64().unwrap();
    let customer = page["items"][0]["customer_id"].as_i64().unwrap();
    assert_eq!(app.tenant_post("acme", &format!("/users/{customer}/notes"), &owner, json!({ "text": "Звонить утром" })).await.0, 201);
    let (s, _) = app.tenant_post("acme", "/teams", &owner, json!({ "name": "Доставка", "rule": "round_robin", "takes_new": true })).await;
    assert_eq!(s, 201);
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    c.goto(&app.url("/t/acme/admin/lang?to=ru&back=/t/acme/admin/")).await.unwrap();
    on_page(&c, "queue").await;
    // Every text node and every title, aria-label, placeholder, alt and
    // confirmation, hidden ones included, but for what the page marks as
    // not words of its own: code, keys, `translate="no"` (names, user
    // agents) and parts in another language (`lang`, the log's records).
    let words = r#"
        const skip = (el) => el && el.closest('script, style, code, kbd, [translate="no"], [lang]:not([lang="ru"])');
        const out = [document.title];
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) { if (!skip(n.parentElement)) out.push(n.textContent); }
        for (const el of document.querySelectorAll('[title],[aria-label],[placeholder],[alt],[data-confirm]')) {
            if (skip(el)) continue;
            for (const a of ['title', 'aria-label', 'placeholder', 'alt', 'data-confirm']) { if (el.hasAttribute(a)) out.push(el.getAttribute(a)); }
        }
        return out.join('\n');"#;
    let mut found = Vec::new();
    for (path, name) in [
        ("/".to_owned(), "queue"),
        (format!("/tickets/{id}"), "ticket"),
        ("/analytics".into(), "analytics"),
        ("/people".into(), "people"),
        ("/customers".into(), "customers"),
        (format!("/customers/{customer}"), "customer"),
        ("/teams".into(), "teams"),
        ("/categories".into(), "categories"),
        ("/canned".into(), "canned"),
        ("/macros".into(), "macros"),
        ("/plugins".into(), "plugins"),
        ("/look".into(), "look"),
        ("/settings".into(), "settings"),
        ("/audit".into(), "audit"),
        ("/billing".into(), "billing"),
        ("/domain".into(), "domain"),
        ("/sessions".into(), "sessions"),
        ("/tickets/999999".into(), "error"),
    ] {
        c.goto(&app.url(&format!("/t/acme/admin{path}"))).await.unwrap();
        on_page(&c, name).await;
        let lang: Value = c.execute("return document.documentElement.lang", vec![]).await.unwrap();
        assert_eq!(lang, json!("ru"), "{name} says it is Russian");
        let text: Value = c.execute(words, vec![]).await.unwrap();
        for line in text.as_str().unwrap().lines() {
            // Addresses, paths, @usernames, identifiers and placeholders
            // (`{{ customer }}`, `{ $desk }`) are not words.
            let line = line.replace("{{ ", "{{").replace(" }}", "}}").replace("{ $", "{$").replace(" }", "}");
            let words: Vec<&str> = line
                .split_whitespace()
                .map(|w| w.trim_start_matches(['(', '«', '"', '“']))
                .filter(|w| !(w.contains("://") || w.starts_with('/') || w.starts_with('@') || w.contains('_') || w.contains('{')))
                // Host names: a dot between letters.
                .filter(|w| !w.trim_end_matches(['.', ',', ':', ')']).split('.').filter(|p| !p.is_empty()).nth(1).is_some())
                .collect();
            let words = words.join(" ");
            let english: Vec<&str> = words
                .split(|ch: char| !ch.is_alphabetic())
                .filter(|w| w.len() > 1 && w.chars().all(|ch| ch.is_ascii_alphabetic()) && !LATIN_ALLOWED.contains(w))
                // Ids and tokens mix letters with digits: not words.
                .filter(|w| w.chars().any(|ch| ch.is_ascii_lowercase()) || w.len() > 3)
                .collect();
            if !english.is_empty() {
                found.push(format!("{name}: {english:?} in {line:?}"));
            }
        }
    }
    found.dedup();
    assert!(found.is_empty(), "{} lines of English on Russian pages:\n{}", found.len(), found.join("\n"));
}

/// A macro in the browser: `m` picks it on the ticket page, Enter applies
/// it, and in one action the customer gets its answer (placeholders
/// filled), the ticket is resolved and tagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_macro_answers_resolves_and_tags_a_ticket_in_one_action() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 801;
    app.deliver(&t, &fixtures::message(1, customer, "My invoice is wrong")).await;
    app.wait_processed("acme", 1).await;
    let opened = app.wait_sent(&t, customer, 1).await.len();
    let owner = app.sign_in(&t, t.owner).await;
    let body = json!({ "name": "Solved", "reply": "Hi {{ customer }}, it is fixed now. {{ agent }}", "status": "resolved", "tags": ["Solved", "billing"] });
    let (s, m) = app.tenant_post("acme", "/macros", &owner, body).await;
    assert_eq!(s, 201, "{m}");
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    let id = page["items"][0]["id"].as_i64().unwrap();

    let link = admin_link(&app, &t, 2, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    c.goto(&app.url(&format!("/t/acme/admin/tickets/{id}"))).await.unwrap();
    on_page(&c, "ticket").await;
    c.execute("document.activeElement.blur()", vec![]).await.unwrap();
    c.active_element().await.unwrap().send_keys("m").await.unwrap();
    let focused: Value = c.execute("return document.activeElement.id", vec![]).await.unwrap();
    assert_eq!(focused, json!("macro"), "m picks the macro");
    save_screenshot(&c, "console-macro").await;
    c.execute("window.__before = true", vec![]).await.unwrap();
    c.active_element().await.unwrap().send_keys("\u{E007}").await.unwrap();
    on_page(&c, "ticket").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Macro applied.");
    let chips = text_of(&c, "[data-testid=tags]").await;
    assert!(chips.contains("billing") && chips.contains("solved"), "{chips}");

    let (_, ticket) = app.tenant_get("acme", &format!("/tickets/{id}"), &owner).await;
    assert_eq!(ticket["status"], "resolved", "{ticket}");
    let said = wait_for(Duration::from_secs(10), || async { app.fake.sent_to(&t.token, customer).into_iter().skip(opened).find(|m| m.contains("it is fixed now")) }).await;
    let said = said.expect("the customer gets the macro's answer");
    // (The owner's Telegram name, from their /admin message, is the agent's.)
    assert!(said.ends_with("Hi Test Firstname, it is fixed now. Test Firstname"), "{said}");
    let (_, log) = app.tenant_get("acme", &format!("/audit?ticket={id}"), &owner).await;
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["macro.applied", "ticket.status", "ticket.tagged"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

/// The console is live: with a ticket open, the customer's next message
/// (through the webhook) appears within 2 s without a reload; with the
/// queue open, a new ticket appears in it, marked as unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticket_page_and_the_queue_update_without_a_reload() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 801;
    app.deliver(&t, &fixtures::message(1, customer, "My parcel is late")).await;
    app.wait_processed("acme", 1).await;
    let link = admin_link(&app, &t, 2, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    let live_on = async || {
        let on = wait_for(Duration::from_secs(10), || async {
            let v: Value = c.execute("return document.body.dataset.live || null", vec![]).await.ok()?;
            (v == json!("on")).then_some(())
        })
        .await;
        assert!(on.is_some(), "the page's socket signed in with the console's session");
    };
    live_on().await;

    // The queue: a new ticket from another customer appears.
    c.execute("window.__marker = 1", vec![]).await.unwrap();
    app.deliver(&t, &fixtures::message(3, 802, "Wrong size delivered")).await;
    let shown = wait_for(Duration::from_secs(5), || async {
        let v: Value = c.execute("return Array.from(document.querySelectorAll('.queue li.unread .title')).map(e => e.textContent).join('|')", vec![]).await.ok()?;
        v.as_str().filter(|s| s.contains("Wrong size delivered")).map(str::to_owned)
    })
    .await;
    assert!(shown.is_some(), "the new ticket appeared in the queue, marked unread");
    let same: Value = c.execute("return window.__marker || null", vec![]).await.unwrap();
    assert_eq!(same, json!(1), "without a reload");
    save_screenshot(&c, "console-queue-live").await;

    // The ticket page: the customer's next message appears within 2 s.
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets?q=parcel", &owner).await;
    let id = page["items"][0]["id"].as_i64().unwrap();
    c.goto(&app.url(&format!("/t/acme/admin/tickets/{id}"))).await.unwrap();
    on_page(&c, "ticket").await;
    live_on().await;
    c.execute("window.__marker = 2", vec![]).await.unwrap();
    app.deliver(&t, &fixtures::message(4, customer, "Any news? It was due Monday.")).await;
    let arrived = wait_for(Duration::from_secs(2), || async {
        let v: Value = c.execute("return Array.from(document.querySelectorAll('[data-testid=messages] li.unread .text')).map(e => e.textContent).join('|')", vec![]).await.ok()?;
        v.as_str().filter(|s| s.contains("Any news?")).map(str::to_owned)
    })
    .await;
    assert!(arrived.is_some(), "the customer's message appeared within 2 s");
    let same: Value = c.execute("return window.__marker || null", vec![]).await.unwrap();
    assert_eq!(same, json!(2), "without a reload");
    // The reply written now is not refused as stale: the message is on screen.
    c.find(Locator::Css("[data-testid=reply]")).await.unwrap().send_keys("It ships today.").await.unwrap();
    click_to(&c, "[data-testid=send-reply]", "ticket").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Reply sent to the customer.");
}

/// Files in the console: the customer's photo is shown in the conversation
/// (through the console's own authenticated route), and an agent attaches
/// a PNG to a reply, which the customer receives as a photo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_the_customers_photo_and_attaches_a_png_the_customer_gets_as_a_photo() {
    const PNG: &[u8] = include_bytes!("../../fixtures/screenshot.png");
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 821;
    let (file_id, unique) = app.fake.add_file(&t.token, "photo.jpg", PNG, true);
    app.deliver(&t, &fixtures::photo(1, customer, &file_id, &unique, PNG.len(), Some("The screen flickers"))).await;
    app.wait_processed("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    let id = page["items"][0]["id"].as_i64().unwrap();

    let link = admin_link(&app, &t, 2, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    c.goto(&app.url(&format!("/t/acme/admin/tickets/{id}"))).await.unwrap();
    on_page(&c, "ticket").await;
    let loaded = wait_for(Duration::from_secs(10), || async {
        let w: Value = c.execute("var i = document.querySelector('[data-testid=inline-image]'); return i && i.complete ? i.naturalWidth : null", vec![]).await.ok()?;
        w.as_u64().filter(|w| *w > 0)
    })
    .await;
    assert!(loaded.is_some(), "the customer's photo is shown in the conversation");

    // A PNG attached to a reply (the file input, as the button and a drop fill it).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("label.png");
    std::fs::write(&path, PNG).unwrap();
    c.find(Locator::Css("[data-testid=attach-reply]")).await.unwrap().send_keys(path.to_str().unwrap()).await.unwrap();
    let chosen = text_of(&c, "#reply-form .chosen").await;
    assert_eq!(chosen, "label.png");
    c.find(Locator::Css("[data-testid=reply]")).await.unwrap().send_keys("Here is your return label.").await.unwrap();
    click_to(&c, "[data-testid=send-reply]", "ticket").await;
    assert_eq!(text_of(&c, "[data-testid=flash]").await, "Reply sent to the customer.");
    let photos = wait_for(Duration::from_secs(20), || async {
        let calls: Vec<_> = app.fake.calls(Some("sendPhoto")).into_iter().filter(|c| c.ok && c.chat_id() == Some(customer)).collect();
        (!calls.is_empty()).then_some(calls)
    })
    .await
    .expect("the customer receives the PNG as a photo");
    assert_eq!(photos[0].params["photo"]["file_bytes"].as_u64(), Some(PNG.len() as u64));
    let images: Value = c.execute("return document.querySelectorAll('[data-testid=inline-image]').length", vec![]).await.unwrap();
    assert_eq!(images, json!(2), "the agent's photo shows in the conversation too");
    save_screenshot(&c, "console-ticket-files").await;
}

/// On a wide screen the ticket page has three panes (the active queue, the
/// conversation, the customer and details), `j` goes to the next ticket of
/// the queue, and on a phone it is one column; light and dark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_screens_get_three_panes_and_j_moves_through_the_queue() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    for (i, (who, text)) in [(801, "Parcel never arrived"), (802, "Wrong size delivered"), (803, "Refund for order 1042")].into_iter().enumerate() {
        app.deliver(&t, &fixtures::message(i as i64 + 1, who, text)).await;
        app.wait_processed("acme", i as i64 + 1).await;
    }
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    let ids: Vec<i64> = page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    for dark in [false, true] {
        let link = admin_link(&app, &t, 10 + i64::from(dark), t.owner).await;
        let (_driver, c) = tikethet_tests::browser::browser_with(1500, 900, dark).await;
        c.goto(&app.url(&link)).await.unwrap();
        on_page(&c, "login").await;
        click_to(&c, "[data-testid=continue]", "queue").await;
        c.goto(&app.url(&format!("/t/acme/admin/tickets/{}", ids[0]))).await.unwrap();
        on_page(&c, "ticket").await;
        let shown: Value = c.execute("var p = document.querySelector('[data-testid=pane-queue]'); return p && p.offsetParent !== null ? p.querySelectorAll('li').length : 0", vec![]).await.unwrap();
        assert_eq!(shown, json!(3), "the queue beside the conversation");
        save_screenshot(&c, if dark { "console-three-pane-dark" } else { "console-three-pane" }).await;
        if !dark {
            c.execute("document.activeElement.blur(); window.__before = true", vec![]).await.unwrap();
            c.active_element().await.unwrap().send_keys("j").await.unwrap();
            on_page(&c, "ticket").await;
            let at: Value = c.execute("return document.querySelector('.ticket').dataset.ticket", vec![]).await.unwrap();
            assert_eq!(at, json!(ids[1].to_string()), "j opens the next ticket of the queue");
        }
    }
    // A phone: one column, the pane hidden.
    let link = admin_link(&app, &t, 20, t.owner).await;
    let (_driver, c) = browser_sized(390, 844).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    c.goto(&app.url(&format!("/t/acme/admin/tickets/{}", ids[0]))).await.unwrap();
    on_page(&c, "ticket").await;
    let hidden: Value = c.execute("return document.querySelector('[data-testid=pane-queue]').offsetParent === null", vec![]).await.unwrap();
    assert_eq!(hidden, json!(true), "one column on a phone");
}

/// In the browser, the queue's tag filter narrows it to the tagged tickets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tag_filter_narrows_the_queue_in_the_browser() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    for (i, (who, text)) in [(801, "Parcel never arrived"), (802, "Wrong size delivered"), (803, "Refund for order 1042")].into_iter().enumerate() {
        app.deliver(&t, &fixtures::message(i as i64 + 1, who, text)).await;
        app.wait_processed("acme", i as i64 + 1).await;
    }
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets?q=refund", &owner).await;
    let refund = page["items"][0]["id"].as_i64().unwrap();
    assert_eq!(app.tenant_post("acme", &format!("/tickets/{refund}/tags"), &owner, json!({ "tag": "billing" })).await.0, 200);
    let link = admin_link(&app, &t, 10, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    let count = async || -> Value { c.execute("return document.querySelectorAll('.queue li').length", vec![]).await.unwrap() };
    assert_eq!(count().await, json!(3));
    c.execute("document.getElementById('tag-filter').value = 'billing'", vec![]).await.unwrap();
    click_to(&c, "form[role=search] button[type=submit]", "queue").await;
    assert_eq!(count().await, json!(1), "narrowed to the tagged ticket");
    assert!(text_of(&c, ".queue li .title").await.contains("Refund for order 1042"));
}

/// What a customer sent from Telegram shows as itself on the ticket page:
/// a player for a voice note, a round video, the sticker, a map link, a
/// contact card, and a note naming a kind the desk cannot show; in Russian
/// too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_a_customer_sent_shows_as_itself_on_the_ticket_page() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    crate::browser::send_every_kind(&app, &t, 841, 10).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    let id = page["items"][0]["id"].as_i64().unwrap();
    let link = admin_link(&app, &t, 2, t.owner).await;
    let (_driver, c) = browser_sized(1280, 900).await;
    c.goto(&app.url(&link)).await.unwrap();
    on_page(&c, "login").await;
    click_to(&c, "[data-testid=continue]", "queue").await;
    c.goto(&app.url(&format!("/t/acme/admin/tickets/{id}"))).await.unwrap();
    on_page(&c, "ticket").await;
    for tid in crate::browser::KIND_ELEMENTS {
        c.find(Locator::Css(&format!("[data-testid=messages] [data-testid={tid}]"))).await.unwrap_or_else(|e| panic!("no {tid}: {e}"));
    }
    let map: Value = c.execute("return document.querySelector('[data-testid=map-link]').href", vec![]).await.unwrap();
    assert_eq!(map, json!("https://www.openstreetmap.org/?mlat=55.755800&mlon=37.617300#map=17/55.755800/37.617300"));
    // (Its parts sit side by side: the text is read with its spacing made plain.)
    assert_eq!(text_of(&c, "[data-testid=contact-card]").await.split_whitespace().collect::<Vec<_>>().join(" "), "👤 Ivan Petrov +79001234567");
    // The voice note plays from the console's own route, with the session.
    let fetched: Value = c
        .execute(
            "var x = new XMLHttpRequest(); x.open('GET', document.querySelector('[data-testid=audio-player]').getAttribute('src'), false); x.send(); \
             return x.status + ' ' + x.getResponseHeader('content-type')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fetched, json!("200 audio/ogg"));
    save_screenshot(&c, "console-message-kinds").await;
}
