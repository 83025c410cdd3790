//! The Mini App in headless Chromium (Debian's `chromium` and
//! `chromedriver`), opened exactly as Telegram opens it: the launch
//! parameters, with real initData signed with the tenant's bot token, in the
//! URL hash. Screenshots go to `$CARGO_TARGET_DIR/screenshots` (or
//! `target/screenshots`).

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::browser::{browser, save_screenshot};
use tikethet_tests::helpers::{Backend, TestApp, spawn_app};

fn launch_url(app: &TestApp, slug: &str, bot_token: &str, user: i64, dark: bool) -> String {
    tikethet_tests::browser::launch_url(&app.address, slug, bot_token, user, dark)
}

/// Waits until the page says it is ready on a view.
async fn wait_view(c: &Client, view: &str) {
    let js = "return [document.body.dataset.state, document.body.dataset.view]";
    let mut last = Value::Null;
    for _ in 0..200 {
        last = c.execute(js, vec![]).await.unwrap();
        if last == json!(["ready", view]) {
            return;
        }
        if last[0] == "error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap_or_default();
    panic!("the page did not get ready on {view}: {last}; it shows: {text}");
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

/// The page speaks the Telegram user's language: Ukrainian is built in
/// (fetched once the page knows, though the browser asked for English), and
/// a desk's own German, written through the API, shows to a German
/// speaker; everything German lacks comes from the desk's default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mini_app_speaks_the_users_language_and_a_desks_own() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (s, v) = app
        .tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": { "de": { "app.empty_title": "Noch keine Anfragen — schreib uns", "welcome": "Hallo { $first_name }!" } } })))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.tenant_call(Method::PUT, "acme", "/bot-texts", &owner, Some(json!({ "texts": { "de": { "app.empty_title": "{ $nobody }" } } }))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("text_invalid")), "{v}");
    let (s, _) = app.tenant_call(Method::PUT, "acme", "/languages", &owner, Some(json!({ "default_language": "ru" }))).await;
    assert_eq!(s, 200);
    let uk = tikethet_themes::miniapp::strings("uk", None, "en");
    let ru = tikethet_themes::miniapp::strings("ru", None, "en");
    let (_driver, c) = browser().await;
    for (user, code, title, button, lang) in [
        (818_301, "uk", uk["empty_title"].as_str().unwrap().to_owned(), uk["new_ticket"].as_str().unwrap().to_owned(), "uk"),
        (818_302, "de-AT", "Noch keine Anfragen — schreib uns".to_owned(), ru["new_ticket"].as_str().unwrap().to_owned(), "de"),
    ] {
        // A new page each time (only the hash would change: no reload).
        c.goto("about:blank").await.unwrap();
        c.goto(&tikethet_tests::browser::launch_url_in(&app.address, "acme", &t.token, user, false, Some(code))).await.unwrap();
        wait_view(&c, "list").await;
        assert_eq!(text_of(&c, "[data-testid=empty] h2").await, title, "{code}");
        assert_eq!(text_of(&c, "[data-testid=empty-new-ticket]").await, button, "{code}: what German lacks, in the default language");
        let at: Value = c.execute("return document.documentElement.lang", vec![]).await.unwrap();
        assert_eq!(at, json!(lang));
    }
    // In Russian, nothing on the page is in English (the desk's name aside).
    c.goto("about:blank").await.unwrap();
    c.goto(&tikethet_tests::browser::launch_url_in(&app.address, "acme", &t.token, 818_303, false, Some("ru"))).await.unwrap();
    wait_view(&c, "list").await;
    let words = "const out = [document.title, document.body.innerText]; \
        for (const el of document.querySelectorAll('[title],[aria-label],[placeholder],[alt]')) { for (const a of ['title', 'aria-label', 'placeholder', 'alt']) { if (el.hasAttribute(a)) out.push(el.getAttribute(a)); } } \
        return out.join(' ');";
    let text: Value = c.execute(words, vec![]).await.unwrap();
    let english: Vec<&str> = text.as_str().unwrap().split(|ch: char| !ch.is_ascii_alphabetic()).filter(|w| w.len() > 1 && !["acme", "Support", "Telegram"].contains(w)).collect();
    assert!(english.is_empty(), "English on the Russian page: {english:?} in {text}");
    // The words of another language are their own request, refused for one the desk does not speak.
    let res = app.http.get(app.url("/t/acme/app/strings/fr.json")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_opens_the_mini_app_from_telegram_and_opens_a_ticket_with_a_photo() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 818_181;
    let (_driver, c) = browser().await;
    c.goto(&launch_url(&app, "acme", &t.token, customer, false)).await.unwrap();
    wait_view(&c, "list").await;
    // A new customer: the empty state, in English, offering a ticket.
    c.find(Locator::Css("[data-testid=empty]")).await.expect("the empty state");
    save_screenshot(&c, "acme-light-empty").await;
    // The in-page bottom button stands in for Telegram's MainButton.
    c.find(Locator::Css("#main-button[data-testid=new-ticket]")).await.unwrap().click().await.unwrap();
    wait_view(&c, "new").await;
    c.wait().for_element(Locator::Css("[data-testid=new-title]")).await.unwrap().send_keys("Parcel never arrived").await.unwrap();
    c.find(Locator::Css("[data-testid=new-description]")).await.unwrap().send_keys("Order 1234 was due on Monday.").await.unwrap();
    // A photo of the label, picked from the device: uploaded at once.
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/screenshot.png");
    c.find(Locator::Css("[data-testid=new-file]")).await.unwrap().send_keys(photo.to_str().unwrap()).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-testid=new-attachments] [data-testid=attachment][data-state=done]"))
        .await
        .expect("the photo uploaded");
    c.find(Locator::Css("#main-button")).await.unwrap().click().await.unwrap();
    // The preview (with the photo), then send.
    let summary = text_of(&c, "[data-testid=new-summary]").await;
    assert!(summary.contains("Parcel never arrived") && summary.contains("screenshot.png"), "{summary}");
    c.find(Locator::Css("#main-button[data-testid=new-send]")).await.unwrap().click().await.unwrap();
    wait_view(&c, "ticket").await;
    let title = text_of(&c, "[data-testid=ticket-title]").await;
    assert_eq!(title, "Parcel never arrived");
    // The photo is in the conversation, fetched through the API and decoded.
    let decoded = "const i = document.querySelector('[data-testid=attachment-image]'); return !!i && i.complete && i.naturalWidth === 64 && i.naturalHeight === 48";
    let mut shown = false;
    for _ in 0..100 {
        if c.execute(decoded, vec![]).await.unwrap() == json!(true) {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown, "the photo is not shown in the conversation");
    save_screenshot(&c, "acme-light-ticket").await;
    // The ticket is the customer's, through the API too.
    let token = app.sign_in(&t, customer).await;
    let (s, page) = app.tenant_get("acme", "/tickets", &token).await;
    assert_eq!((s, page["total"].as_u64()), (200, Some(1)), "{page}");
    assert_eq!(page["items"][0]["title"], "Parcel never arrived");
    assert_eq!(page["items"][0]["description"], "Order 1234 was due on Monday.");
    let id = page["items"][0]["id"].as_i64().unwrap();
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{id}/messages"), &token).await;
    let file = &msgs["items"][0]["attachments"][0];
    assert_eq!((file["name"].as_str(), file["content_type"].as_str(), file["kind"].as_str()), (Some("screenshot.png"), Some("image/png"), Some("photo")), "{msgs}");
    // A staff answer appears in the open conversation without a reload
    // (over the live socket).
    let owner = app.sign_in(&t, t.owner).await;
    c.execute("window.__sameDocument = true; return true", vec![]).await.unwrap();
    let live = "return document.querySelector('[data-testid=messages]').textContent.includes('We are on it.')";
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{id}/messages"), &owner, json!({ "text": "We are on it." })).await;
    assert_eq!(s, 201);
    let mut shown = false;
    for _ in 0..100 {
        if c.execute(live, vec![]).await.unwrap() == json!(true) {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown, "the staff answer did not appear live: {}", text_of(&c, "[data-testid=messages]").await);
    assert_eq!(c.execute("return window.__sameDocument === true", vec![]).await.unwrap(), json!(true), "the page was reloaded");
    save_screenshot(&c, "acme-light-live-reply").await;
    // Back on the list the ticket waits for the customer.
    // A fresh launch (a new document, not a hash change).
    c.goto("about:blank").await.unwrap();
    c.goto(&launch_url(&app, "acme", &t.token, customer, true)).await.unwrap();
    wait_view(&c, "list").await;
    let item = c.find(Locator::Css("[data-testid=ticket-item]")).await.unwrap();
    assert_eq!(item.attr("data-status").await.unwrap().as_deref(), Some("waiting_response"));
    assert!(item.text().await.unwrap().contains("We are on it."), "the list previews the last message");
    save_screenshot(&c, "acme-dark-list").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_page_in_telegrams_light_and_dark_themes_and_in_two_brands() {
    let app = spawn_app(Backend::Sqlite).await;
    let acme = app.create_tenant("acme", 1).await;
    let globex = app.create_tenant("globex", 2).await;
    let res = app.operator(Method::PATCH, "/api/platform/v1/tenants/globex", Some(json!({ "theme": "sunrise" }))).await;
    assert_eq!(res.status(), 200);
    let customer = 828_282;
    for (t, slug) in [(&acme, "acme"), (&globex, "globex")] {
        let token = app.sign_in(t, customer).await;
        for i in 1..=3 {
            let (s, _) = app.tenant_post(slug, "/tickets", &token, json!({ "title": format!("Question {i}"), "description": "Details" })).await;
            assert_eq!(s, 201);
        }
    }
    let (_driver, c) = browser().await;
    let style = "const s = getComputedStyle(document.body); const r = getComputedStyle(document.documentElement); \
                 return [s.backgroundColor, s.color, r.getPropertyValue('--brand-primary').trim()]";
    let mut seen = Vec::new();
    for (t, slug) in [(&acme, "acme"), (&globex, "globex")] {
        for dark in [false, true] {
            c.goto("about:blank").await.unwrap();
            c.goto(&launch_url(&app, slug, &t.token, customer, dark)).await.unwrap();
            wait_view(&c, "list").await;
            let items = c.find_all(Locator::Css("[data-testid=ticket-item]")).await.unwrap();
            assert_eq!(items.len(), 3, "{slug}");
            let colours = c.execute(style, vec![]).await.unwrap();
            save_screenshot(&c, &format!("{slug}-{}-list", if dark { "dark" } else { "light" })).await;
            seen.push((slug, dark, colours));
        }
    }
    let bg = |i: usize| seen[i].2[0].as_str().unwrap().to_owned();
    let brand = |i: usize| seen[i].2[2].as_str().unwrap().to_owned();
    // Telegram's colours decide light and dark: the list sits on its
    // secondary background, #efeff3 in light and #232e3c in dark.
    assert_eq!(bg(0), "rgb(239, 239, 243)", "{seen:?}");
    assert_eq!(bg(1), "rgb(35, 46, 60)", "{seen:?}");
    assert_eq!((bg(2), bg(3)), (bg(0), bg(1)), "the brand is an accent, not a repaint: {seen:?}");
    // The brand is the tenant's, in both themes.
    assert_eq!((brand(0).as_str(), brand(1).as_str()), ("#2481cc", "#2481cc"), "{seen:?}");
    assert_eq!((brand(2).as_str(), brand(3).as_str()), ("#e8590c", "#e8590c"), "{seen:?}");
    c.close().await.unwrap();
}

/// Sends the kinds that look different on a page: a voice note, a round
/// video, a sticker, a location, a contact and a poll (unsupported).
pub async fn send_every_kind(app: &TestApp, t: &tikethet_tests::helpers::Tenant, customer: i64, first_update: i64) {
    use tikethet_tests::fixtures::{self, kinds};
    let (voice, vu) = app.fake.add_media(&t.token, "voice", "v.ogg", crate::kinds::OGG);
    let (note, nu) = app.fake.add_media(&t.token, "video_note", "n.mp4", crate::kinds::MP4);
    // A picture a browser draws (a real sticker is WebP; the page shows
    // whatever image the bytes are).
    const PNG: &[u8] = include_bytes!("../../fixtures/screenshot.png");
    let (sticker, su) = app.fake.add_media(&t.token, "sticker", "s.webp", PNG);
    let contents = [
        kinds::voice(&voice, &vu, crate::kinds::OGG.len(), 3),
        kinds::video_note(&note, &nu, crate::kinds::MP4.len()),
        kinds::sticker(&sticker, &su, PNG.len(), "😿"),
        kinds::location(55.7558, 37.6173),
        kinds::contact("+79001234567", "Ivan", "Petrov", 4242),
        kinds::poll("Was it broken in the box?"),
    ];
    for (i, content) in contents.into_iter().enumerate() {
        let update = first_update + i as i64;
        app.deliver(t, &fixtures::with_content(update, customer, content)).await;
        app.wait_processed(&t.slug, update).await;
    }
}

/// The kinds shown as themselves: a player, a round video, the sticker,
/// a map link, a contact card, an "unsupported" note.
pub const KIND_ELEMENTS: [&str; 6] = ["audio-player", "video-player", "sticker", "map-link", "contact-card", "unsupported"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_a_customer_sent_shows_as_itself_in_the_mini_app() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let customer = 838_383;
    send_every_kind(&app, &t, customer, 1).await;
    let (_driver, c) = browser().await;
    c.goto(&launch_url(&app, "acme", &t.token, customer, false)).await.unwrap();
    wait_view(&c, "list").await;
    c.find(Locator::Css("[data-testid=ticket-item]")).await.unwrap().click().await.unwrap();
    wait_view(&c, "ticket").await;
    for tid in KIND_ELEMENTS {
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(&format!("[data-testid=messages] [data-testid={tid}]"))).await.unwrap_or_else(|e| panic!("no {tid}: {e}"));
    }
    // The media are fetched through the API as blobs and given to their players.
    let loaded = "return ['audio-player', 'video-player', 'sticker'].every((t) => (document.querySelector('[data-testid=' + t + ']').src || '').startsWith('blob:'))";
    let mut ok = false;
    for _ in 0..100 {
        if c.execute(loaded, vec![]).await.unwrap() == json!(true) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the players did not get their files");
    // (Its parts sit side by side: the text is read with its spacing made plain.)
    assert_eq!(text_of(&c, "[data-testid=contact-card]").await.split_whitespace().collect::<Vec<_>>().join(" "), "👤 Ivan Petrov +79001234567");
    assert!(text_of(&c, "[data-testid=unsupported]").await.contains("poll"));
    let kinds: Value = c.execute("return [...document.querySelectorAll('[data-testid=messages] [data-kind]')].map((m) => m.dataset.kind)", vec![]).await.unwrap();
    assert_eq!(kinds, json!(["voice", "video_note", "sticker", "location", "contact", "unsupported"]));
    save_screenshot(&c, "acme-light-message-kinds").await;
    c.close().await.unwrap();
}
