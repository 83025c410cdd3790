//! Self-serve signup: a desk opened from `/api/v1/signup` (and the
//! `/signup` page) with a bot token the Telegram stand-in knows, claimed by
//! the first `/start {code}` sent to its bot, then served like any other;
//! every refusal clear and leaving nothing behind; the trial's reminders
//! and its end; an unclaimed desk removed after a day; limits on signups
//! that leave the other desks serving.

use std::time::Duration;

use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use serde_json::{Value, json};
use tikethet_platform::control::entity as tenants;
use tikethet_runtime::auth::throttle::Policy;
use tikethet_runtime::outbound::limiter::Rate;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Limits, Options, TestApp, bot_token, connect_control, spawn_app_with, wait_for, wait_until};

on_both!(
    a_signup_is_claimed_by_the_first_start_with_its_code_and_then_served,
    a_refused_signup_says_why_and_leaves_nothing_behind,
    a_trial_reminds_its_owner_and_falls_to_the_free_plan_when_it_ends,
    an_unclaimed_desk_is_removed_after_a_day_and_its_bot_may_sign_up_again,
);

const OPEN: &[(&str, &str)] = &[("TIKETHET_SIGNUP", "open")];

async fn spawn(b: Backend, env: &'static [(&'static str, &'static str)]) -> TestApp {
    spawn_app_with(b, Options { env, ..Options::default() }).await
}

async fn signup(app: &TestApp, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = app.http.post(app.url("/api/v1/signup")).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

/// A bot the stand-in knows; returns its token.
fn new_bot(app: &TestApp, n: u32, username: &str) -> String {
    let token = bot_token(n);
    app.fake.add_bot(&token, username);
    token
}

fn code_of(claim_link: &str) -> String {
    claim_link.split_once("?start=").map(|(_, c)| c.to_owned()).unwrap_or_else(|| panic!("a claim link: {claim_link}"))
}

async fn tenant(app: &TestApp, slug: &str) -> (u16, Value) {
    let res = app.operator(Method::GET, &format!("/api/platform/v1/tenants/{slug}"), None).await;
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// Waits until the bot has sent a text containing `needle` to `chat`.
async fn said(app: &TestApp, token: &str, chat: i64, needle: &str) -> String {
    wait_until(Duration::from_secs(20), || app.fake.find_sent(token, chat, needle))
        .await
        .unwrap_or_else(|| panic!("the bot never said {needle:?} to {chat}; it said {:?}", app.fake.sent_to(token, chat)))
}

async fn a_signup_is_claimed_by_the_first_start_with_its_code_and_then_served(b: Backend) {
    let app = spawn(b, OPEN).await;
    let token = new_bot(&app, 1, "acme_help_bot");
    let (s, body, _) = signup(&app, json!({ "name": "Acme Support", "bot_token": token })).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["slug"], "acme-support", "made from the name: {body}");
    assert_eq!(body["bot_username"], "acme_help_bot");
    assert_eq!(body["plan"], "pro", "the built-in trial's plan: {body}");
    assert_eq!(body["trial_days"], 14);
    let link = body["claim_link"].as_str().unwrap().to_owned();
    assert!(link.starts_with("https://t.me/acme_help_bot?start="), "{link}");
    let code = code_of(&link);
    let expires: chrono::DateTime<chrono::Utc> = body["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(29) && left <= chrono::Duration::minutes(30), "valid 30 minutes: {left}");
    // Telegram delivers to the desk's webhook, registered at signup.
    assert!(app.fake.webhook(&token).is_some(), "the webhook is registered");
    let (s, rec) = tenant(&app, "acme-support").await;
    assert_eq!((s, rec["status"].clone()), (200, json!("unclaimed")), "{rec}");

    // Unclaimed, the desk serves nobody.
    let app_page = app.http.get(app.url("/t/acme-support/app/")).send().await.unwrap();
    assert_eq!(app_page.status(), 404, "no Mini App before the claim");
    let customer = 7_100_001;
    app.fake.deliver(&token, &fixtures::message(1, customer, "hello?")).await.unwrap();
    said(&app, &token, customer, "is being set up").await;
    app.fake.deliver(&token, &fixtures::message(2, customer, "/start not-the-code")).await.unwrap();
    said(&app, &token, customer, "not valid for this bot").await;
    assert_eq!(tenant(&app, "acme-support").await.1["status"], "unclaimed", "a wrong code claims nothing");

    // The first /start with the code: its sender owns the desk and gets the console.
    let owner = 7_100_002;
    let status = app.fake.deliver(&token, &fixtures::message(3, owner, &format!("/start {code}"))).await.unwrap();
    assert_eq!(status, 200);
    let welcome = said(&app, &token, owner, "is yours").await;
    let (_, rec) = tenant(&app, "acme-support").await;
    assert_eq!((rec["status"].clone(), rec["owner_telegram_id"].clone(), rec["plan"].clone()), (json!("active"), json!(owner), json!("pro")), "{rec}");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = app.redeem_console_link(&no_redirects, &TestApp::console_path(&welcome), None).await;
    assert_eq!(res.status(), 303, "the link in the bot's answer signs the owner in");
    // The owner signs in to the Mini App as the owner.
    let t = tikethet_tests::helpers::Tenant { slug: "acme-support".into(), token: token.clone(), owner, body: rec.clone() };
    let access = app.sign_in(&t, owner).await;
    let (s, me) = app.tenant_get("acme-support", "/auth/me", &access).await;
    assert_eq!((s, me["role"].clone()), (200, json!("owner")), "{me}");

    // A second claim with the same code is refused; the owner's gets a new link.
    let other = 7_100_003;
    app.fake.deliver(&token, &fixtures::message(4, other, &format!("/start {code}"))).await.unwrap();
    said(&app, &token, other, "already has an owner").await;
    assert_eq!(tenant(&app, "acme-support").await.1["owner_telegram_id"], owner, "the owner stays");
    // The desk now serves customers: a message opens a ticket.
    app.fake.deliver(&token, &fixtures::message(5, customer, "My order is late")).await.unwrap();
    let opened = wait_for(Duration::from_secs(20), || async {
        let (s, list) = app.tenant_get("acme-support", "/tickets", &access).await;
        (s == 200 && list["items"].as_array().is_some_and(|i| i.len() == 1)).then_some(list)
    })
    .await;
    assert!(opened.is_some(), "the claimed desk opens tickets");
    // And the bot is no longer free for another signup.
    let (s, body, _) = signup(&app, json!({ "name": "Another", "bot_token": token })).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("bot_taken")), "{body}");
    // The operator's funnel counts it.
    let f = app.state.control.funnel().await.unwrap();
    assert_eq!((f.started, f.claimed, f.trialling, f.paying), (1, 1, 1, 0), "{f:?}");
}

async fn a_refused_signup_says_why_and_leaves_nothing_behind(b: Backend) {
    // Two signups a client may make at once; the third waits.
    let policy = Policy { signups_per_ip: Rate::per_minute(2, 2), ..Policy::default() };
    let app = spawn_app_with(b, Options { env: OPEN, limits: Limits::Custom(policy), ..Options::default() }).await;
    let existing = app.create_tenant("acme", 1).await;
    let count = || async { app.operator(Method::GET, "/api/platform/v1/tenants", None).await.json::<Value>().await.unwrap()["items"].as_array().map(Vec::len) };
    assert_eq!(count().await, Some(1));

    // A token Telegram refuses.
    let (s, body, _) = signup(&app, json!({ "name": "Ghost", "bot_token": bot_token(99) })).await;
    assert_eq!((s, body["error"]["code"].clone()), (422, json!("bot_token_invalid")), "{body}");
    // A bot already serving a desk.
    let (s, body, _) = signup(&app, json!({ "name": "Copy", "bot_token": existing.token })).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("bot_taken")), "{body}");
    assert_eq!(count().await, Some(1), "nothing left behind");
    // Past the limit: 429 with Retry-After, before Telegram is asked.
    let token = new_bot(&app, 2, "shop_bot");
    let (s, body, headers) = signup(&app, json!({ "name": "Shop", "bot_token": token, "slug": "acme" })).await;
    assert_eq!((s, body["error"]["code"].clone()), (429, json!("rate_limited")), "{body}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    // Other desks keep serving meanwhile.
    let owner = app.sign_in(&existing, existing.owner).await;
    assert_eq!(app.tenant_get("acme", "/tickets", &owner).await.0, 200);
    assert_eq!(count().await, Some(1));
    drop(app);

    // Limits off for the rest (each refusal below is the signup's own).
    let app = spawn_app_with(b, Options { env: OPEN, limits: Limits::Off, ..Options::default() }).await;
    app.create_tenant("acme", 1).await;
    let token = new_bot(&app, 2, "shop_bot");
    let (s, body, _) = signup(&app, json!({ "name": "Shop", "bot_token": token, "slug": "acme" })).await;
    assert_eq!((s, body["error"]["code"].clone()), (409, json!("slug_taken")), "{body}");
    let (s, body, _) = signup(&app, json!({ "name": "Shop", "bot_token": token, "slug": "Not A Slug" })).await;
    assert_eq!((s, body["error"]["code"].clone()), (400, json!("invalid_request")), "{body}");
    let (s, body, _) = signup(&app, json!({ "name": "Shop", "bot_token": token, "language": "de" })).await;
    assert_eq!((s, body["error"]["code"].clone()), (400, json!("invalid_request")), "{body}");
    assert!(app.fake.webhook(&token).is_none(), "no webhook registered for a refused signup");
    let list = app.operator(Method::GET, "/api/platform/v1/tenants", None).await.json::<Value>().await.unwrap();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    // The page shows the reason beside what was typed.
    let page = app
        .http
        .post(app.url("/signup"))
        .form(&[("name", "Shop"), ("bot_token", token.as_str()), ("slug", "acme"), ("language", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 409);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="signup-error">the address &#x22;acme&#x22; is taken"#) || html.contains("is taken: choose another"), "{html}");
    assert!(html.contains(r#"value="Shop""#), "what was typed stays: {html}");
    drop(app);

    // Signups off (the default): the page says so and the API refuses.
    let app = spawn(b, &[]).await;
    let token = new_bot(&app, 3, "closed_bot");
    let (s, body, _) = signup(&app, json!({ "name": "Shop", "bot_token": token })).await;
    assert_eq!((s, body["error"]["code"].clone()), (403, json!("signup_closed")), "{body}");
    let page = app.http.get(app.url("/signup")).header("accept-language", "ru-RU,ru;q=0.9").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Регистрация закрыта"), "{page}");
    drop(app);

    // By invitation: none, a wrong one, then a code the operator made (once).
    let app = spawn(b, &[("TIKETHET_SIGNUP", "invite")]).await;
    let token = new_bot(&app, 4, "invited_bot");
    let (s, body, _) = signup(&app, json!({ "name": "Invited", "bot_token": token })).await;
    assert_eq!((s, body["error"]["code"].clone()), (403, json!("invite_invalid")), "{body}");
    let (s, body, _) = signup(&app, json!({ "name": "Invited", "bot_token": token, "invite": "made-up" })).await;
    assert_eq!((s, body["error"]["code"].clone()), (403, json!("invite_invalid")), "{body}");
    // The operator makes a code in the dashboard; it is shown once.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = http.post(app.url("/operator/login")).form(&[("token", tikethet_tests::helpers::OPERATOR_TOKEN), ("next", "/operator/")]).send().await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let overview = http.get(app.url("/operator/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let at = overview.find(r#"name="csrf" value=""#).expect("a form") + r#"name="csrf" value=""#.len();
    let csrf = overview[at..].split('"').next().unwrap().to_owned();
    let made = http.post(app.url("/operator/invites")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("note", "Acme's friend")]).send().await.unwrap();
    assert_eq!(made.status(), 201);
    let page = made.text().await.unwrap();
    let at = page.find(r#"data-testid="new-invite">"#).expect("the new code on the page");
    let code = page[at..].split("<code>").nth(1).unwrap().split("</code>").next().unwrap().to_owned();
    assert_eq!(code.len(), 24, "{code}");
    let (s, body, _) = signup(&app, json!({ "name": "Invited", "bot_token": token, "invite": code })).await;
    assert_eq!(s, 201, "{body}");
    let token2 = new_bot(&app, 5, "second_bot");
    let (s, body, _) = signup(&app, json!({ "name": "Second", "bot_token": token2, "invite": code })).await;
    assert_eq!((s, body["error"]["code"].clone()), (403, json!("invite_invalid")), "an invitation opens one desk: {body}");
    let invites = app.state.control.invites().await.unwrap();
    assert_eq!((invites.len(), invites[0].note.as_str(), invites[0].used_by.as_deref()), (1, "Acme's friend", Some("invited")), "{invites:?}");
    // The dashboard's funnel counts the signup.
    let overview = http.get(app.url("/operator/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(overview.contains("<tbody><tr><td>1</td><td>0</td><td>0</td><td>0</td><td>0</td></tr></tbody>"), "{overview}");
}

/// Moves a desk's trial end, as days passing would.
async fn set_trial_end(app: &TestApp, b: Backend, slug: &str, at: chrono::DateTime<chrono::Utc>) {
    let control = connect_control(b, &app.data_dir(), app.pg_schema().unwrap_or_default()).await.unwrap();
    tenants::Entity::update_many()
        .col_expr(tenants::Column::TrialEndsAt, Expr::value(at))
        .filter(tenants::Column::Slug.eq(slug))
        .exec(&control)
        .await
        .unwrap();
    control.close().await.ok();
}

async fn claimed(app: &TestApp, n: u32, name: &str, owner: i64) -> (String, Value) {
    let token = new_bot(app, n, &format!("{}_bot", name.to_lowercase()));
    let (s, body, _) = signup(app, json!({ "name": name, "bot_token": token, "language": "ru" })).await;
    assert_eq!(s, 201, "{body}");
    let code = code_of(body["claim_link"].as_str().unwrap());
    app.fake.deliver(&token, &fixtures::message(1, owner, &format!("/start {code}"))).await.unwrap();
    said(app, &token, owner, "/t/").await;
    (token, body)
}

async fn a_trial_reminds_its_owner_and_falls_to_the_free_plan_when_it_ends(b: Backend) {
    let app = spawn(b, OPEN).await;
    let owner = 7_200_001;
    let (token, body) = claimed(&app, 1, "Bistro", owner).await;
    let slug = body["slug"].as_str().unwrap().to_owned();
    let (_, rec) = tenant(&app, &slug).await;
    assert_eq!((rec["plan"].clone(), rec["limits"]["agents"].clone()), (json!("pro"), json!(15)), "{rec}");

    // Two days before its end: one reminder (the 3-day one), sent once.
    set_trial_end(&app, b, &slug, chrono::Utc::now() + chrono::Duration::hours(47)).await;
    let reminder = said(&app, &token, owner, "ends in 2 days").await;
    assert!(reminder.contains("Pro") && reminder.contains("Free"), "{reminder}");
    // A few syncs later there is still one.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let reminders = app.fake.sent_to(&token, owner).into_iter().filter(|t| t.contains("ends in")).count();
    assert_eq!(reminders, 1, "{:?}", app.fake.sent_to(&token, owner));

    // It ends: the desk falls to Free's limits and the owner is told.
    set_trial_end(&app, b, &slug, chrono::Utc::now() - chrono::Duration::minutes(1)).await;
    said(&app, &token, owner, "has ended").await;
    let fell = wait_for(Duration::from_secs(20), || async { Some(tenant(&app, &slug).await.1).filter(|r| r["plan"] == "free") }).await;
    let rec = fell.unwrap_or_else(|| panic!("the desk did not fall to the free plan when its trial ended"));
    assert_eq!(rec["limits"]["agents"], 2, "{rec}");
    // The desk still serves: a customer's message opens a ticket.
    let customer = 7_200_002;
    app.fake.deliver(&token, &fixtures::message(2, customer, "Table for two?")).await.unwrap();
    said(&app, &token, customer, "").await;
}

async fn an_unclaimed_desk_is_removed_after_a_day_and_its_bot_may_sign_up_again(b: Backend) {
    let app = spawn(b, OPEN).await;
    let token = new_bot(&app, 1, "late_bot");
    let (s, first, _) = signup(&app, json!({ "name": "Late Shop", "bot_token": token })).await;
    assert_eq!(s, 201, "{first}");
    // Signing up again with the same bot before a claim: a new desk and
    // link replace the first (an expired link is never a dead end).
    let (s, second, _) = signup(&app, json!({ "name": "Late Shop", "bot_token": token, "slug": "late" })).await;
    assert_eq!(s, 201, "{second}");
    assert_eq!(tenant(&app, "late-shop").await.0, 404, "the first desk is gone");
    let old = code_of(first["claim_link"].as_str().unwrap());
    let someone = 7_300_001;
    app.fake.deliver(&token, &fixtures::message(1, someone, &format!("/start {old}"))).await.unwrap();
    said(&app, &token, someone, "not valid for this bot").await;

    // A day passes and nobody claims it: it goes, webhook and all.
    let control = connect_control(b, &app.data_dir(), app.pg_schema().unwrap_or_default()).await.unwrap();
    tenants::Entity::update_many()
        .col_expr(tenants::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::hours(25)))
        .filter(tenants::Column::Slug.eq("late"))
        .exec(&control)
        .await
        .unwrap();
    control.close().await.ok();
    let gone = wait_for(Duration::from_secs(20), || async { (tenant(&app, "late").await.0 == 404).then_some(()) }).await;
    assert!(gone.is_some(), "the unclaimed desk was not removed: {}", tenant(&app, "late").await.1);
    assert!(app.fake.webhook(&token).is_none(), "its webhook is removed");
    // The desk goes first, then its signup is marked removed: wait for the mark.
    let counted = wait_for(Duration::from_secs(20), || async {
        let f = app.state.control.funnel().await.unwrap();
        (f.expired == 2).then_some(f)
    })
    .await;
    let f = match counted {
        Some(f) => f,
        None => panic!("the funnel did not count both removals: {:?}", app.state.control.funnel().await.unwrap()),
    };
    assert_eq!((f.started, f.claimed, f.expired), (2, 0, 2), "{f:?}");
    // The bot may sign up again.
    let (s, body, _) = signup(&app, json!({ "name": "Late Shop", "bot_token": token })).await;
    assert_eq!(s, 201, "{body}");
}

/// The whole signup in Chromium, as a visitor does it: the form, the claim
/// page with its link and QR code, `/start {code}` from Telegram, and the
/// console opened from the bot's link; screenshots of the form (phone,
/// light and dark, desktop) and of the claim page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_signs_up_in_the_browser_claims_the_desk_in_telegram_and_opens_the_console() {
    use fantoccini::Locator;
    use tikethet_tests::browser::{browser_with, save_screenshot};
    let app = spawn(Backend::Sqlite, OPEN).await;
    let token = new_bot(&app, 1, "corner_shop_bot");

    // Dark and Russian, at a phone's width, then the desktop's layout.
    {
        let (_driver, c) = browser_with(390, 844, true).await;
        c.goto(&app.url("/signup?lang=ru")).await.unwrap();
        let dark = c.execute("return matchMedia('(prefers-color-scheme: dark)').matches", vec![]).await.unwrap();
        assert_eq!(dark, json!(true), "the browser asks for the dark scheme");
        let h1 = c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
        assert_eq!(h1, "Откройте свою службу поддержки");
        save_screenshot(&c, "signup-dark-ru-phone").await;
        c.close().await.ok();
    }
    {
        let (_driver, c) = browser_with(1280, 800, false).await;
        c.goto(&app.url("/signup?lang=en")).await.unwrap();
        save_screenshot(&c, "signup-light-desktop").await;
        c.close().await.ok();
    }

    let (_driver, c) = browser_with(390, 844, false).await;
    c.goto(&app.url("/signup")).await.unwrap();
    save_screenshot(&c, "signup-light-phone").await;
    c.find(Locator::Css("#name")).await.unwrap().send_keys("Corner Shop").await.unwrap();
    c.find(Locator::Css("#bot_token")).await.unwrap().send_keys(&token).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let link = c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#claim-link")).await.unwrap();
    let href = link.attr("href").await.unwrap().expect("the claim link");
    assert!(href.starts_with("https://t.me/corner_shop_bot?start="), "{href}");
    assert!(c.find(Locator::Css(".qr svg")).await.is_ok(), "the QR code is on the page");
    save_screenshot(&c, "signup-claim-light-phone").await;

    // In Telegram: Start, from the account that will own the desk.
    let owner = 7_400_001;
    app.fake.deliver(&token, &fixtures::message(1, owner, &format!("/start {}", code_of(&href)))).await.unwrap();
    let welcome = said(&app, &token, owner, "is yours").await;
    // The link from the bot opens the console.
    c.goto(&app.url(&TestApp::console_path(&welcome))).await.unwrap();
    c.find(Locator::Css("form button")).await.unwrap().click().await.unwrap();
    let mut url = String::new();
    for _ in 0..100 {
        url = c.current_url().await.unwrap().to_string();
        if url.ends_with("/t/corner-shop/admin/") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(url.ends_with("/t/corner-shop/admin/"), "the console opens: {url}");
    save_screenshot(&c, "signup-console-first-visit").await;
    c.close().await.ok();
}

/// Plans for the billing walk: Free first (a signup's plan without a
/// trial), Starter and Pro sold through Stripe.
const SOLD_PLANS: &str = r#"
[[plan]]
id = "free"
name = "Free"
monthly_price_cents = 0
currency = "usd"

[[plan]]
id = "starter"
name = "Starter"
monthly_price_cents = 1900
currency = "usd"
stripe_price = "price_walk_starter"

[[plan]]
id = "pro"
name = "Pro"
monthly_price_cents = 4900
currency = "usd"
stripe_price = "price_walk_pro"
"#;

/// Waits until the page at the browser's address shows `needle`, reloading.
async fn page_shows(c: &fantoccini::Client, needle: &str) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = c.source().await.unwrap();
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.refresh().await.unwrap();
    }
    panic!("the page never showed {needle:?}: {text}");
}

/// After signing up and claiming, the owner finds Billing in the console,
/// subscribes through Checkout, changes plan with the prorated amount shown
/// first (the same subscription), and cancels; screenshots of the billing
/// page light, dark and at a phone's width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_subscribes_changes_plan_with_the_proration_shown_and_cancels_in_the_console() {
    use fantoccini::Locator;
    use tikethet_tests::browser::{browser_with, save_screenshot};
    use tikethet_tests::fake_stripe::FakeStripe;
    let stripe = FakeStripe::start().await.unwrap();
    stripe.set_price("price_walk_starter", 1900);
    stripe.set_price("price_walk_pro", 4900);
    let plans = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(plans.path(), SOLD_PLANS).unwrap();
    let env = stripe.server_env(plans.path(), &[("TIKETHET_SIGNUP", "open")]);
    let app = spawn(Backend::Sqlite, env).await;
    stripe.set_webhook(&app.url("/billing/stripe/webhook"));
    let token = new_bot(&app, 1, "bakery_bot");
    let (s, body, _) = signup(&app, json!({ "name": "Bakery", "bot_token": token })).await;
    assert_eq!((s, body["plan"].clone()), (201, json!("free")), "{body}");
    let owner = 7_500_001;
    app.fake.deliver(&token, &fixtures::message(1, owner, &format!("/start {}", code_of(body["claim_link"].as_str().unwrap())))).await.unwrap();
    let welcome = said(&app, &token, owner, "is yours").await;

    let (_driver, c) = browser_with(390, 844, false).await;
    c.goto(&app.url(&TestApp::console_path(&welcome))).await.unwrap();
    c.find(Locator::Css("form button")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("nav a[href$='/billing']")).await.unwrap().click().await.unwrap();
    let html = page_shows(&c, r#"data-testid="billing-plan-name">Free<"#).await;
    assert!(html.contains(r#"data-testid="billing-choose-starter""#), "Starter is offered: {html}");
    save_screenshot(&c, "billing-free-light-phone").await;

    // Checkout: to Stripe, who takes the payment and reports it.
    c.find(Locator::Css("[data-testid=billing-choose-starter]")).await.unwrap().click().await.unwrap();
    let mut at = String::new();
    for _ in 0..100 {
        at = c.current_url().await.unwrap().to_string();
        if at.contains("/pay/cs_") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let session = at.rsplit('/').next().filter(|s| s.starts_with("cs_")).unwrap_or_else(|| panic!("sent to Stripe's Checkout: {at}")).to_owned();
    stripe.complete_checkout(&session, "active").await.unwrap();
    c.goto(&app.url("/t/bakery/admin/billing?billing=paid")).await.unwrap();
    page_shows(&c, r#"data-testid="billing-plan-name">Starter<"#).await;

    // A second plan: the prorated amount first, then the change.
    c.find(Locator::Css("[data-testid=billing-choose-pro]")).await.unwrap().click().await.unwrap();
    let amount = c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-testid=billing-preview-amount]")).await.unwrap().text().await.unwrap();
    assert!(amount.starts_with("$29.") || amount == "$30.00", "the rest of the month at 49 less 19 dollars: {amount}");
    save_screenshot(&c, "billing-preview-light-phone").await;
    c.find(Locator::Css("[data-testid=billing-confirm]")).await.unwrap().click().await.unwrap();
    page_shows(&c, r#"data-testid="billing-plan-name">Pro<"#).await;
    let customer = stripe.customers()[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.subscriptions_of(&customer).len(), 1, "one subscription");
    assert_eq!(stripe.invoices()[0]["total"].as_i64().map(|t| format!("${}.{:02}", t / 100, t % 100)), Some(amount), "charged what was shown");

    // Cancel at the period's end (the page asks first).
    c.find(Locator::Css("[data-testid=billing-cancel]")).await.unwrap().click().await.unwrap();
    c.accept_alert().await.unwrap();
    page_shows(&c, r#"data-testid="billing-resume""#).await;
    assert_eq!(stripe.subscriptions_of(&customer)[0]["cancel_at_period_end"], true);
    save_screenshot(&c, "billing-cancelled-light-phone").await;
    c.close().await.ok();

    // The same page dark and on a desktop, signed in through a new link.
    for (dark, w, h, name) in [(true, 390, 844, "billing-dark-phone"), (false, 1280, 900, "billing-light-desktop")] {
        let before = app.fake.sent_to(&token, owner).len();
        app.fake.deliver(&token, &fixtures::message(10 + u32::from(dark) as i64, owner, "/admin")).await.unwrap();
        let link = wait_until(Duration::from_secs(20), || app.fake.sent_to(&token, owner).into_iter().skip(before).find(|m| m.contains("/admin/login?token="))).await.expect("a new console link");
        let (_d, c) = browser_with(w, h, dark).await;
        c.goto(&app.url(&TestApp::console_path(&link))).await.unwrap();
        c.find(Locator::Css("form button")).await.unwrap().click().await.unwrap();
        c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("nav a[href$='/billing']")).await.unwrap();
        c.goto(&app.url("/t/bakery/admin/billing")).await.unwrap();
        page_shows(&c, r#"data-testid="billing-plan-name">Pro<"#).await;
        let fits: Value = c.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await.unwrap();
        assert_eq!(fits, json!(true), "{name}: nothing wider than the screen");
        save_screenshot(&c, name).await;
        c.close().await.ok();
    }
}
