//! `/demo/…`: the demo's pages, only under `tikethet demo` (404 otherwise).
//!
//! - `/demo/`: where to start, every face of the product in one list;
//! - `/demo/app/{slug}`, `/demo/console/{slug}`, `/demo/operator`: sign in
//!   through the real routes (fresh initData, a one-time console link from
//!   the desk's API, an operator session) and go there, so the links never
//!   go stale;
//! - `/demo/chat?desk={slug}`: the chat simulator, with its feed
//!   (`…/chat/{slug}/feed`) and what the customer sends (`…/send`,
//!   `…/press`), delivered by the Telegram stand-in to the desk's webhook.

use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Json, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::demo::{DESKS, Demo, Desk, SIGNUP, desk, with_launch_params};


/// The demo's pages, parsed once.
struct Pages(tikethet_themes::pages::PageSet);

impl Pages {
    fn new() -> Pages {
        Pages(tikethet_themes::pages::PageSet::new(
            &[("index.html", include_str!("../demo/templates/index.html")), ("chat.html", include_str!("../demo/templates/chat.html"))],
            env!("CARGO_PKG_VERSION"),
        ))
    }
}

fn pages() -> &'static Pages {
    static PAGES: std::sync::OnceLock<Pages> = std::sync::OnceLock::new();
    PAGES.get_or_init(Pages::new)
}

fn demo(state: &AppState) -> Result<Arc<Demo>, Response> {
    state.demo.get().cloned().ok_or_else(|| (StatusCode::NOT_FOUND, "The demo pages exist only under `tikethet demo`.").into_response())
}

fn the_desk(slug: &str) -> Result<&'static Desk, Response> {
    desk(slug).ok_or_else(|| (StatusCode::NOT_FOUND, format!("There is no demo desk {slug:?}; the demo has {}.", DESKS.map(|d| d.slug).join(" and "))).into_response())
}

/// The demo and the desk named `slug`, or the 404 that says which is missing.
fn demo_desk(state: &AppState, slug: &str) -> Result<(Arc<Demo>, &'static Desk), Response> {
    Ok((demo(state)?, the_desk(slug)?))
}

fn page(name: &str, view: impl Serialize) -> Response {
    match pages().0.render(name, view) {
        Ok(body) => super::web::page(StatusCode::OK, body),
        Err(e) => {
            tracing::error!(error = %e, page = name, "a demo page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "This page could not be shown; the server's log says why.").into_response()
        }
    }
}

#[derive(Serialize)]
struct DeskView {
    slug: &'static str,
    name: &'static str,
    bot: &'static str,
    theme: &'static str,
    language: &'static str,
    customer: &'static str,
    owner: &'static str,
}

fn view(d: &'static Desk) -> DeskView {
    DeskView {
        slug: d.slug,
        name: d.name,
        bot: d.bot_username,
        theme: d.theme,
        language: if d.language == "ru" { "Russian" } else { "English" },
        customer: d.customer.first_name,
        owner: d.owner.first_name,
    }
}

fn desk_views() -> Vec<DeskView> {
    DESKS.iter().map(view).collect()
}

/// `GET /demo/`
#[handler]
pub async fn index(Data(state): Data<&AppState>) -> Response {
    if let Err(r) = demo(state) {
        return r;
    }
    page("index.html", json!({ "desks": desk_views(), "signup": { "bot": SIGNUP.bot_username, "token": SIGNUP.bot_token } }))
}

/// `GET /demo/app/{slug}`: the Mini App as the desk's customer opens it.
#[handler]
pub async fn app(Path(slug): Path<String>, Data(state): Data<&AppState>) -> Response {
    let d = match demo_desk(state, &slug) {
        Ok((_, d)) => d,
        Err(r) => return r,
    };
    let base = state.settings.public_url.as_str().trim_end_matches('/');
    super::web::see_other(&with_launch_params(&format!("{base}/t/{}/app/", d.slug), d, d.customer))
}

/// `GET /demo/console/{slug}`: the owner signs in through the desk's API
/// (initData), asks it for a one-time console link, and follows it.
#[handler]
pub async fn console(Path(slug): Path<String>, Data(state): Data<&AppState>) -> Response {
    let d = match demo_desk(state, &slug) {
        Ok((_, d)) => d,
        Err(r) => return r,
    };
    match console_link(state, d).await {
        Ok(url) => super::web::see_other(&url),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("The owner could not be signed in: {e:#}")).into_response(),
    }
}

async fn console_link(state: &AppState, d: &Desk) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let base = state.settings.public_url.as_str().trim_end_matches('/');
    let http = reqwest::Client::new();
    let access = crate::demo::sign_in(&http, base, d, d.owner).await?;
    let res = http.post(format!("{base}/t/{}/api/v1/console/link", d.slug)).bearer_auth(access).json(&json!({})).send().await?;
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    Ok(body["url"].as_str().with_context(|| format!("the console link answered {status}: {body}"))?.to_owned())
}

/// `GET /demo/operator`: an operator session, then the dashboard.
#[handler]
pub async fn operator(req: &Request, Data(state): Data<&AppState>) -> Response {
    if let Err(r) = demo(state) {
        return r;
    }
    super::dashboard::session::start(state, req.cookie());
    super::web::see_other("/operator/")
}

#[derive(Deserialize)]
pub struct ChatQuery {
    desk: Option<String>,
}

/// `GET /demo/chat?desk={slug}`: the chat simulator.
#[handler]
pub async fn chat(Query(q): Query<ChatQuery>, Data(state): Data<&AppState>) -> Response {
    if let Err(r) = demo(state) {
        return r;
    }
    let d = match the_desk(q.desk.as_deref().unwrap_or(DESKS[0].slug)) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut desks = desk_views();
    desks.push(view(&SIGNUP));
    page("chat.html", json!({ "desk": view(d), "desks": desks }))
}

/// `GET /demo/chat/{slug}/feed`
#[handler]
pub async fn feed(Path(slug): Path<String>, Data(state): Data<&AppState>) -> Response {
    let (demo, d) = match demo_desk(state, &slug) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut r = Json(demo.feed(d)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("a header value"));
    r
}

#[derive(Deserialize)]
pub struct Said {
    text: String,
}

#[derive(Deserialize)]
pub struct Pressed {
    data: String,
    message_id: i64,
    label: String,
}

fn delivered(r: anyhow::Result<u16>) -> Response {
    match r {
        Ok(status) if (200..300).contains(&status) => Json(json!({ "status": status })).into_response(),
        Ok(status) => (StatusCode::BAD_GATEWAY, Json(json!({ "error": format!("the desk answered the webhook with {status}") }))).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, Json(json!({ "error": format!("{e:#}") }))).into_response(),
    }
}

/// `POST /demo/chat/{slug}/send` `{"text"}`: the customer sends a message.
#[handler]
pub async fn send(Path(slug): Path<String>, Json(said): Json<Said>, Data(state): Data<&AppState>) -> Response {
    let (demo, d) = match demo_desk(state, &slug) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let text = said.text.trim();
    if text.is_empty() || text.chars().count() > 4096 {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "A message is 1 to 4096 characters, as in Telegram." }))).into_response();
    }
    delivered(demo.send(d, text).await)
}

/// `POST /demo/chat/{slug}/press` `{"data", "message_id", "label"}`: the
/// customer presses an inline button.
#[handler]
pub async fn press(Path(slug): Path<String>, Json(p): Json<Pressed>, Data(state): Data<&AppState>) -> Response {
    let (demo, d) = match demo_desk(state, &slug) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if p.data.is_empty() || p.data.len() > 64 {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "callback data is 1 to 64 bytes, as in Telegram." }))).into_response();
    }
    delivered(demo.press(d, &p.data, p.message_id, &p.label).await)
}

/// `GET /demo/assets/chat.js`
#[handler]
pub async fn chat_js() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(include_str!("../demo/templates/chat.js"))
}
