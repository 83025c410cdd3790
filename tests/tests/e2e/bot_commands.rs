//! The bot's own commands for customers (`/start`, `/status`, `/tickets`,
//! `/support` step by step), in the customer's language, the Mini App
//! buttons under its messages and the chat menu button set at provisioning;
//! on a plain-HTTP development desk, links instead of buttons.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::helpers::{Backend, HTTPS_PUBLIC_URL, Options, TestApp, Tenant, spawn_app, spawn_app_with};

on_both!(
    customers_use_the_bots_commands_in_their_language_with_mini_app_buttons,
    a_desks_own_bot_texts_replace_ours_per_language,
    a_desks_texts_are_held_to_a_messages_worth_of_work,
    a_desk_speaks_its_customers_languages_and_one_of_its_own,
);

/// A tenant's template can ask one process, serving every tenant, for no
/// more than a few messages' worth of text: refused when saved if it is
/// plainly too long, and replaced by the built-in text when it grows only
/// for real customers.
async fn a_desks_texts_are_held_to_a_messages_worth_of_work(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    for (src, code) in [
        ("{% for i in range(20000) %}xxxxxxxxxx{% endfor %}", "text_too_long"),
        ("{{ 'x' * 20000 }}", "text_construct_not_allowed"),
        ("{% for i in range(1000) %}{{ \"x\" * 99999999 }}{% endfor %}", "text_construct_not_allowed"),
        ("{% set s = first_name %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}", "text_construct_not_allowed"),
    ] {
        let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": { "en": { "welcome": src } } }))).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some(code)), "{src}: {v}");
    }
    let plain = "x".repeat(20_000);
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": { "en": { "welcome": plain } } }))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("text_too_long")), "a 20,000-character welcome: {v}");

    // Passes with the sample name the check renders with, grows for anyone else.
    let sly = "{% if first_name != 'Ann' %}{% for i in range(40000) %}{{ first_name }}{% endfor %}{% else %}Hi Ann{% endif %}";
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": { "en": { "welcome": sly } } }))).await;
    assert_eq!(s, 200, "{v}");
    let (text, _) = says(&app, &t, 84_001, message(1, 84_001, "en", "/start")).await;
    assert!(text.contains("welcome to acme Support") && text.encode_utf16().count() < 1000, "the built-in welcome, bounded: {text}");
    let (s, v) = app.tenant_get("acme", "/bot-texts", &owner).await;
    assert_eq!(s, 200);
    let fell = &v["recent_fallbacks"][0];
    assert_eq!((fell["language"].as_str(), fell["text"].as_str(), fell["code"].as_str()), (Some("en"), Some("welcome"), Some("text_too_long")), "{v}");
    // The server stays healthy and answers the next customer too.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    let (text, _) = says(&app, &t, 84_002, message(2, 84_002, "en", "/start")).await;
    assert!(text.contains("welcome to acme Support"), "{text}");
    // Saving the texts again starts a clean record.
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": {} }))).await;
    assert_eq!((s, v["recent_fallbacks"].as_array().map(Vec::len)), (200, Some(0)), "{v}");
}

async fn a_desks_own_bot_texts_replace_ours_per_language(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, v) = app.tenant_get("acme", "/bot-texts", &owner).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["texts"], json!({}));
    assert!(v["built_in"]["ru"]["welcome"].as_str().unwrap().contains("Здравствуйте, { $first_name }"), "{v}");
    assert!(v["built_in"]["uk"]["welcome"].as_str().is_some(), "Ukrainian is built in: {v}");

    let mine = json!({ "texts": { "ru": { "welcome": "Привет, {{ first_name }}! Пишите в {{ desk }}." } } });
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(mine)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["texts"]["ru"]["welcome"], "Привет, {{ first_name }}! Пишите в {{ desk }}.");
    let (text, _) = says(&app, &t, 83_001, message(1, 83_001, "ru", "/start")).await;
    assert_eq!(text, "Привет, Test Firstname! Пишите в acme Support.");
    let (text, _) = says(&app, &t, 83_002, message(2, 83_002, "en", "/start")).await;
    assert!(text.contains("welcome to acme Support"), "English speakers keep the built-in text: {text}");

    // Refused with the reason, and nothing changes.
    for (bad, why) in [
        (json!({ "ru": { "welcome": "{% if %}" } }), "texts.ru.welcome"),
        (json!({ "de de": { "welcome": "Hallo" } }), "not a language tag"),
        (json!({ "de": { "welcome": "Hallo { $nobody }" } }), "unknown variable $nobody"),
        (json!({ "de": { "welcome": "Hallo { $first_name" } }), "not a Fluent text"),
        (json!({ "en": { "goodbye": "Bye" } }), "unknown text"),
    ] {
        let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": bad }))).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{bad}: {v}");
    }
    let (_, v) = app.tenant_get("acme", "/bot-texts", &owner).await;
    assert!(v["texts"]["ru"]["welcome"].as_str().unwrap().starts_with("Привет"), "{v}");
    // Back to the built-in texts.
    let (s, _) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": {} }))).await;
    assert_eq!(s, 200);
    let (text, _) = says(&app, &t, 83_001, message(3, 83_001, "ru", "/start")).await;
    assert!(text.contains("Здравствуйте"), "{text}");
}

/// Ukrainian and Spanish are built in; a desk writes its own Spanish
/// welcome, adds German as a language of its own and makes Russian its
/// default: each customer is answered in theirs, what a language lacks
/// comes from the default, and a default without texts is refused.
async fn a_desk_speaks_its_customers_languages_and_one_of_its_own(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;

    let (text, _) = says(&app, &t, 85_001, message(1, 85_001, "uk", "/start")).await;
    assert!(text.contains("acme Support") && text.contains("Вітаємо"), "Ukrainian: {text}");
    let (text, _) = says(&app, &t, 85_001, message(2, 85_001, "uk", "Лампа не світить")).await;
    assert!(text.starts_with("Звернення №1"), "the ticket's opening in Ukrainian: {text}");

    // German is not ours: refused as a default until the desk writes texts in it.
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/languages", &owner, Some(json!({ "default_language": "de" }))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_request")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("no texts in this language"), "{v}");

    let mine = json!({ "texts": {
        "es": { "welcome": "¡Hola, { $first_name }! Somos { $desk }, escríbenos aquí." },
        "de": { "welcome": "Hallo { $first_name }, willkommen bei { $desk }!" },
    } });
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(mine)).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/languages", &owner, Some(json!({ "default_language": "ru" }))).await;
    assert_eq!((s, v["default_language"].as_str()), (200, Some("ru")), "{v}");
    let (s, v) = app.tenant_get("acme", "/languages", &owner).await;
    assert_eq!(s, 200);
    let de = v["languages"].as_array().unwrap().iter().find(|l| l["code"] == "de").cloned().unwrap_or_else(|| panic!("German is listed: {v}"));
    assert_eq!((de["built_in"].as_bool(), de["own_texts"].as_u64()), (Some(false), Some(1)), "{v}");

    // Spanish: the desk's welcome, then our Spanish for the rest.
    let (text, _) = says(&app, &t, 85_002, message(3, 85_002, "es-MX", "/start")).await;
    assert_eq!(text, "¡Hola, Test Firstname! Somos acme Support, escríbenos aquí.");
    let (text, _) = says(&app, &t, 85_002, message(4, 85_002, "es", "La lámpara no funciona")).await;
    assert!(text.contains("#2") && text.contains("está abierto"), "the built-in Spanish: {text}");
    // German: the desk's own welcome, the default (Russian) for what it lacks.
    let (text, _) = says(&app, &t, 85_003, message(5, 85_003, "de", "/start")).await;
    assert_eq!(text, "Hallo Test Firstname, willkommen bei acme Support!");
    let (text, _) = says(&app, &t, 85_003, message(6, 85_003, "de", "Die Lampe geht nicht")).await;
    assert!(text.starts_with("Обращение №3"), "the default language's text: {text}");
    // A language nobody here speaks: the default.
    let (text, _) = says(&app, &t, 85_004, message(7, 85_004, "fr", "/start")).await;
    assert!(text.contains("Здравствуйте"), "{text}");

    // The default's own texts cannot go while it is the default.
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/languages", &owner, Some(json!({ "default_language": "de" }))).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": {} }))).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("default language"), "{v}");
    let (_, v) = app.tenant_get("acme", "/bot-texts", &owner).await;
    assert_eq!(v["texts"]["de"]["welcome"], "Hallo { $first_name }, willkommen bei { $desk }!", "nothing changed: {v}");
}

/// A private message as Telegram delivers it, from a user with a language.
fn message(update_id: i64, user: i64, lang: &str, text: &str) -> Value {
    let mut v = tikethet_tests::fixtures::message(update_id, user, text);
    v["message"]["from"]["language_code"] = json!(lang);
    v
}

fn press(update_id: i64, user: i64, data: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("88{update_id}"),
            "from": { "id": user, "is_bot": false, "first_name": "Ира", "language_code": "ru" },
            "message": { "message_id": 5, "date": 1_700_000_000, "chat": { "id": user, "type": "private", "first_name": "Ира" }, "text": "topics" },
            "chat_instance": "-1",
            "data": data
        }
    })
}

/// Delivers an update and returns the bot's next message to that chat
/// (its text and reply_markup), once sent.
async fn says(app: &TestApp, t: &Tenant, chat: i64, update: Value) -> (String, Value) {
    let before = app.fake.sends_to(&t.token, chat).len();
    assert_eq!(app.deliver(t, &update).await, 200);
    app.wait_sent(t, chat, before + 1).await;
    let call = app.fake.sends_to(&t.token, chat).into_iter().nth(before).unwrap();
    assert!(call.ok, "{call:?}");
    (call.text().unwrap().to_owned(), call.params.get("reply_markup").cloned().unwrap_or(Value::Null))
}

fn web_app(markup: &Value) -> (&str, &str) {
    let b = &markup["inline_keyboard"][0][0];
    (b["text"].as_str().unwrap_or_else(|| panic!("no button: {markup}")), b["web_app"]["url"].as_str().unwrap_or_else(|| panic!("not a web_app button: {markup}")))
}

async fn customers_use_the_bots_commands_in_their_language_with_mini_app_buttons(b: Backend) {
    let app = spawn_app_with(b, Options { https_public_url: true, ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let app_url = format!("{HTTPS_PUBLIC_URL}/t/acme/app/");
    assert_eq!(
        app.fake.menu_button(&t.token),
        Some(json!({ "type": "web_app", "text": "Support", "web_app": { "url": app_url } })),
        "the chat menu opens the Mini App"
    );
    let ira = 81_001;

    let (text, markup) = says(&app, &t, ira, message(1, ira, "ru", "/start")).await;
    assert!(text.contains("Здравствуйте"), "Russian welcome: {text}");
    assert_eq!(web_app(&markup), ("Мои обращения", app_url.as_str()));

    let (text, markup) = says(&app, &t, ira, message(2, ira, "ru", "/status")).await;
    assert!(text.starts_with("Открытых обращений нет"), "{text}");
    assert_eq!(markup, Value::Null);

    let (text, markup) = says(&app, &t, ira, message(3, ira, "ru", "Лампа мигает")).await;
    assert!(text.contains("Обращение №") && text.contains("«Лампа мигает»"), "{text}");
    let first: i64 = text.split('№').nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(web_app(&markup), (format!("Открыть обращение №{first}").as_str(), format!("{app_url}?tgWebAppStartParam=ticket-{first}").as_str()));

    let (text, markup) = says(&app, &t, ira, message(4, ira, "ru", "/status")).await;
    assert!(text.contains(&format!("№{first} Лампа мигает – открыто")), "{text}");
    assert_eq!(web_app(&markup).1, format!("{app_url}?tgWebAppStartParam=ticket-{first}"), "one open ticket: its own button");

    // /support offers the active topics in their order, then "other".
    let owner = app.sign_in(&t, t.owner).await;
    let (s, billing) = app.tenant_post("acme", "/categories", &owner, json!({ "name": "Billing", "icon": "💳", "position": 1 })).await;
    assert_eq!(s, 201, "{billing}");
    let (s, _) = app.tenant_post("acme", "/categories", &owner, json!({ "name": "Delivery", "position": 2 })).await;
    assert_eq!(s, 201);
    let (s, _) = app.tenant_post("acme", "/categories", &owner, json!({ "name": "Retired", "position": 0, "active": false })).await;
    assert_eq!(s, 201);
    let billing_id = billing["id"].as_i64().unwrap();
    let (text, markup) = says(&app, &t, ira, message(5, ira, "ru", "/support")).await;
    assert!(text.contains("Выберите тему"), "{text}");
    let buttons: Vec<(String, String)> = markup["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row[0]["text"].as_str().unwrap().to_owned(), row[0]["callback_data"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(buttons[0], ("💳 Billing".to_owned(), format!("tt:support:{billing_id}")), "{markup}");
    assert_eq!(buttons[1].0, "Delivery");
    assert_eq!(buttons[2], ("Другое".to_owned(), "tt:support:0".to_owned()), "{markup}");
    assert_eq!(buttons.len(), 3, "inactive topics are not offered: {markup}");

    // A topic, then the description: a new ticket beside the open one.
    let (text, _) = says(&app, &t, ira, press(6, ira, &format!("tt:support:{billing_id}"))).await;
    assert!(text.starts_with("Billing. Опишите проблему"), "{text}");
    assert!(app.fake.calls(Some("answerCallbackQuery")).iter().any(|c| c.params["callback_query_id"] == "886"), "the press was answered");
    let (text, markup) = says(&app, &t, ira, message(7, ira, "ru", "Счёт неверный")).await;
    let second: i64 = text.split('№').nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert_ne!(second, first, "/support opens a new ticket: {text}");
    assert_eq!(web_app(&markup).1, format!("{app_url}?tgWebAppStartParam=ticket-{second}"));
    let (_, page) = app.tenant_get("acme", &format!("/tickets/{second}"), &owner).await;
    assert_eq!((page["category_id"].as_i64(), page["title"].as_str()), (Some(billing_id), Some("Счёт неверный")), "{page}");
    // The step is over: the next message continues the newest open ticket.
    assert_eq!(app.deliver(&t, &message(8, ira, "ru", "и ещё")).await, 200);
    app.wait_processed("acme", 8).await;
    let (_, list) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(list["total"], 2, "no third ticket: {list}");
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{second}/messages"), &owner).await;
    assert_eq!(msgs["items"].as_array().unwrap().last().unwrap()["text"], "и ещё", "{msgs}");

    // A staff answer carries the button that opens its ticket.
    let before = app.fake.sends_to(&t.token, ira).len();
    let (s, _) = app.tenant_call(Method::POST, "acme", &format!("/tickets/{first}/messages"), &owner, Some(json!({ "text": "Замените лампу" }))).await;
    assert_eq!(s, 201);
    app.wait_sent(&t, ira, before + 1).await;
    let reply = app.fake.sends_to(&t.token, ira).into_iter().nth(before).unwrap();
    assert!(reply.text().unwrap().contains(&format!("№{first}: Замените лампу")), "{reply:?}");
    assert_eq!(web_app(&reply.params["reply_markup"]), (format!("Открыть обращение №{first}").as_str(), format!("{app_url}?tgWebAppStartParam=ticket-{first}").as_str()));

    // Someone writing in English gets English.
    let (text, markup) = says(&app, &t, 81_002, message(9, 81_002, "en", "/tickets")).await;
    assert!(text.starts_with("Your tickets with acme Support"), "{text}");
    assert_eq!(web_app(&markup), ("Open my tickets", app_url.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_desk_sends_links_instead_of_mini_app_buttons() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    assert_eq!(app.fake.menu_button(&t.token), None, "Telegram refuses a menu button that is not https");
    let (text, markup) = says(&app, &t, 82_001, message(1, 82_001, "en", "/tickets")).await;
    assert_eq!(text, format!("Your tickets with acme Support are at {}/t/acme/app/", app.address));
    assert_eq!(markup, Value::Null);
    let (text, markup) = says(&app, &t, 82_001, message(2, 82_001, "en", "My lamp")).await;
    assert!(text.contains("is open"), "{text}");
    assert_eq!(markup, Value::Null, "no web_app button over plain HTTP");
    // Every send was accepted (a web_app button over HTTP would be a 400).
    assert!(app.fake.calls(Some("sendMessage")).iter().all(|c| c.ok));
}
