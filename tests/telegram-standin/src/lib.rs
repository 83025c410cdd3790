//! A stand-in for the Telegram Bot API: a real HTTP server speaking the
//! documented protocol (<https://core.telegram.org/bots/api#making-requests>)
//! for the methods the platform calls, and as strict as Telegram where the
//! platform could get it wrong:
//!
//! - unknown tokens are 401; errors are `{"ok":false,"error_code","description"}`
//!   with Telegram's own descriptions, and `parameters.retry_after` on 429;
//! - `sendMessage` text is 1-4096 characters, captions at most 1024
//!   (<https://core.telegram.org/bots/api#sendmessage>);
//! - `setWebhook` wants HTTPS on port 443, 80, 88 or 8443
//!   (<https://core.telegram.org/bots/api#setwebhook>) unless the test allows
//!   insecure webhooks ([`FakeTelegram::allow_insecure_webhooks`]);
//! - a bot cannot write first: a private chat must have been started (an
//!   update from it was delivered, or [`FakeTelegram::start_chat`]); a user
//!   who blocked the bot answers 403;
//! - delivery honours the webhook's `allowed_updates`;
//! - per-chat and per-bot pacing answered with 429
//!   (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>);
//! - multipart fields are strings, as Telegram reads them;
//! - forum topics: `createForumTopic` only in a supergroup with topics
//!   ([`FakeTelegram::add_forum`]), names of 1-128 characters; a
//!   `message_thread_id` must name a topic that exists
//!   (<https://core.telegram.org/bots/api#createforumtopic>);
//! - files: `sendPhoto` takes images only (up to 10 MB), uploads up to 50 MB,
//!   a `file_id` only of the bot's own files and only with its own kind's
//!   method (`sendVoice` for a voice note's, …) or `sendDocument`; `getFile` and the download URL serve files up to 20 MB
//!   (<https://core.telegram.org/bots/api#sending-files>).
//!
//! It records every call with the instant it arrived, can be told to fail the
//! next calls or to answer slowly, and plays Telegram's part in webhook
//! delivery. Used by the tests, the benchmarks, the `fake-telegram` binary
//! and `tikethet demo` (served in the same process, for a newcomer with no
//! bot token); never by `tikethet serve`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json, Multipart, Path, Query};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, handler, post};
use serde::Deserialize;
use serde_json::{Value, json};

/// Longest `sendMessage` text, in characters after entity parsing.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest media caption, in characters after entity parsing.
pub const MAX_CAPTION_CHARS: usize = 1024;

/// Per-chat pacing: Telegram allows about one message a second in a chat
/// with a short burst. The burst here (5) is the product's (3) plus slack
/// for requests the network delivers closer together than they were sent.
pub const CHAT_PER_SECOND: f64 = 1.0;
pub const CHAT_BURST: u32 = 5;
/// Per-bot pacing: about 30 messages a second in all. Burst: the product's
/// (30) plus slack, as above.
pub const BOT_PER_SECOND: f64 = 30.0;
pub const BOT_BURST: u32 = 45;
/// Per-group pacing: "no more than 20 messages per minute in the same
/// group" (the Bot FAQ), counted here over any 60 seconds, exactly.
pub const GROUP_PER_MINUTE: usize = 20;

/// Update kinds Telegram leaves out when `allowed_updates` is not set
/// (<https://core.telegram.org/bots/api#getupdates>).
pub const NOT_DELIVERED_BY_DEFAULT: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// One recorded Bot API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub token: String,
    /// Lowercase method name (`sendmessage`): teloxide sends PascalCase.
    pub method: String,
    pub params: Value,
    /// Whether the stand-in answered with success.
    pub ok: bool,
    /// The HTTP status answered.
    pub status: u16,
    /// The `result` answered on success (the sent message, with its
    /// `message_id`).
    pub result: Option<Value>,
    /// Telegram's `description` when the call was refused.
    pub description: Option<String>,
    /// When the request arrived.
    pub at: Instant,
}

impl Call {
    /// The `chat_id` parameter, whether sent as a number or a string.
    pub fn chat_id(&self) -> Option<i64> {
        match self.params.get("chat_id") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        self.params.get("text").and_then(Value::as_str)
    }

    /// The `message_thread_id` parameter (a forum topic), as a number or a string.
    pub fn thread_id(&self) -> Option<i64> {
        match self.params.get("message_thread_id") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    /// As Telegram parsed it (a JSON array), whether it came as JSON or as a
    /// JSON-serialised form field.
    pub allowed_updates: Option<Value>,
}

#[derive(Debug, Clone)]
struct Bot {
    id: i64,
    username: String,
    webhook: Option<Webhook>,
    /// The default menu button (`setChatMenuButton` without a chat).
    menu_button: Option<Value>,
}

/// A scripted failure of the next call(s) to a method.
#[derive(Debug, Clone, Deserialize)]
pub struct Failure {
    /// Lowercase method name, or `*` for any.
    pub method: String,
    /// 429, 403, 500, 502 (or any other error status).
    pub status: u16,
    #[serde(default)]
    pub retry_after: Option<u32>,
    #[serde(default = "one")]
    pub times: u32,
    /// Telegram's description; by default the text Telegram gives for the
    /// status (see [`Failure::default_description`]).
    #[serde(default)]
    pub description: Option<String>,
}

fn one() -> u32 {
    1
}

impl Failure {
    /// `times` answers of `status` with Telegram's usual description.
    pub fn status(method: &str, status: u16, times: u32) -> Failure {
        Failure { method: method.into(), status, retry_after: None, times, description: None }
    }

    /// `times` answers of 429 asking to retry after `secs` seconds.
    pub fn retry_after(method: &str, secs: u32, times: u32) -> Failure {
        Failure { method: method.into(), status: 429, retry_after: Some(secs), times, description: None }
    }

    /// What Telegram says with each status.
    pub fn default_description(status: u16, retry_after: u32) -> String {
        match status {
            400 => "Bad Request".into(),
            401 => "Unauthorized".into(),
            403 => "Forbidden: bot was blocked by the user".into(),
            429 => format!("Too Many Requests: retry after {retry_after}"),
            500 => "Internal Server Error".into(),
            502 => "Bad Gateway".into(),
            s => StatusCode::from_u16(s).ok().and_then(|s| s.canonical_reason()).unwrap_or("Internal Server Error").into(),
        }
    }
}

/// GCRA state of one key: the theoretical arrival time.
#[derive(Default)]
struct Pacing {
    tat: HashMap<String, Instant>,
}

impl Pacing {
    /// How long until a slot under `key` is free; `None`: free now.
    fn wait(&self, key: &str, now: Instant, per_second: f64, burst: u32) -> Option<Duration> {
        let interval = Duration::from_secs_f64(1.0 / per_second);
        let tolerance = interval * burst.saturating_sub(1);
        let tat = self.tat.get(key).copied().unwrap_or(now).max(now);
        (tat - now).checked_sub(tolerance).filter(|w| !w.is_zero())
    }

    /// Takes a slot under `key` (after [`Pacing::wait`] said it is free).
    fn take(&mut self, key: &str, now: Instant, per_second: f64) {
        let tat = self.tat.get(key).copied().unwrap_or(now).max(now);
        self.tat.insert(key.to_owned(), tat + Duration::from_secs_f64(1.0 / per_second));
    }
}

struct State {
    bots: HashMap<String, Bot>,
    calls: Vec<Call>,
    failures: VecDeque<Failure>,
    next_message_id: i64,
    /// (token, chat) pairs where the bot may write.
    started: HashSet<(String, i64)>,
    /// (token, chat) pairs that blocked the bot.
    blocked: HashSet<(String, i64)>,
    insecure_webhooks: bool,
    /// Accept `http://` Web App URLs (`tikethet demo` on loopback).
    insecure_web_apps: bool,
    /// Webhook origins delivered elsewhere (a test's https public URL
    /// served on loopback), like a DNS entry.
    origins: Vec<(String, String)>,
    rate_limits: bool,
    pacing: Pacing,
    /// When each group's recent messages were sent, per bot and group.
    group_sends: HashMap<(i64, i64), VecDeque<Instant>>,
    /// Answers to these methods (lowercase) wait this long first.
    delays: HashMap<String, Duration>,
    /// Files by `file_id`.
    files: HashMap<String, StoredFile>,
    next_file: u64,
    /// Supergroups with topics, by (token, chat): their topics by thread id.
    forums: HashMap<(String, i64), HashMap<i64, String>>,
    /// The bots' messages as sent (and edited since), by (token, chat,
    /// message_id).
    sent: HashMap<(String, i64, i64), Value>,
    /// Forum topics closed, by (token, chat, thread).
    closed_topics: HashSet<(String, i64, i64)>,
}

/// A running stand-in. Cheap to clone.
#[derive(Clone)]
pub struct FakeTelegram {
    pub url: String,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
}

/// A refusal, as Telegram words it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub description: String,
    pub retry_after: Option<u32>,
}

impl Refusal {
    fn new(status: u16, description: impl Into<String>) -> Refusal {
        Refusal { status, description: description.into(), retry_after: None }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({ "ok": false, "error_code": self.status, "description": self.description });
        if let Some(after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": after });
        }
        (status, Json(body)).into_response()
    }
}

type Answer = Result<Value, Refusal>;

/// A file sent in a multipart request.
#[derive(Debug, Clone)]
struct Part {
    field: String,
    name: String,
    bytes: Vec<u8>,
}

/// A file Telegram holds: one a bot uploaded, or one a user sent
/// ([`FakeTelegram::add_file`]). File ids belong to one bot.
#[derive(Debug, Clone)]
struct StoredFile {
    token: String,
    /// The Bot API field it came in (`photo`, `voice`, …).
    kind: String,
    unique_id: String,
    path: String,
    name: String,
    bytes: Vec<u8>,
}

/// Bot messages kept for edits before the stand-in forgets them.
const MAX_KEPT_MESSAGES: usize = 200_000;

/// Largest photo a bot may upload (<https://core.telegram.org/bots/api#sendphoto>),
/// other files (<https://core.telegram.org/bots/api#sending-files>), and a
/// file a bot may download (<https://core.telegram.org/bots/api#getfile>).
pub const MAX_PHOTO_UPLOAD: usize = 10 * 1000 * 1000;
pub const MAX_FILE_UPLOAD: usize = 50 * 1000 * 1000;
pub const MAX_DOWNLOAD: usize = 20 * 1024 * 1024;

/// Whether bytes are an image Telegram can show as a photo.
fn is_image(b: &[u8]) -> bool {
    b.starts_with(&[0xff, 0xd8, 0xff]) || b.starts_with(b"\x89PNG\r\n\x1a\n") || b.starts_with(b"GIF8") || (b.len() > 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP")
}

async fn read_params(req: &Request, body: poem::Body) -> Result<(Value, Vec<Part>), Refusal> {
    let ct = req.content_type().unwrap_or_default().to_owned();
    let mut map = serde_json::Map::new();
    let mut parts = Vec::new();
    if let Some(q) = req.uri().query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    if ct.starts_with("application/json") {
        let bytes = body.into_bytes().await.map_err(|_| Refusal::new(400, "Bad Request: can't read request body"))?;
        if !bytes.is_empty() {
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(o)) => map.extend(o),
                _ => return Err(Refusal::new(400, "Bad Request: can't parse JSON object")),
            }
        }
    } else if ct.starts_with("multipart/form-data") {
        let mut mp = <Multipart as poem::FromRequest>::from_request(req, &mut poem::RequestBody::new(body))
            .await
            .map_err(|_| Refusal::new(400, "Bad Request: can't parse multipart form"))?;
        while let Ok(Some(field)) = mp.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|_| Refusal::new(400, "Bad Request: can't read multipart field"))?;
            // Telegram reads every field as a string; structured ones
            // (reply_markup, allowed_updates) are JSON-serialised strings.
            let v = match &file_name {
                Some(f) => json!({ "file_bytes": bytes.len(), "file_name": f }),
                None => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            };
            if let Some(f) = file_name {
                parts.push(Part { field: name.clone(), name: f, bytes });
            }
            map.insert(name, v);
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let bytes = body.into_bytes().await.map_err(|_| Refusal::new(400, "Bad Request: can't read request body"))?;
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    Ok((Value::Object(map), parts))
}

/// A structured parameter: JSON as is, or a JSON-serialised string.
fn structured(params: &Value, name: &str) -> Result<Option<Value>, ()> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// Text length as Telegram counts it, after entity parsing.
fn visible_chars(text: &str, parse_mode: Option<&str>) -> usize {
    if parse_mode.is_some_and(|m| m.eq_ignore_ascii_case("html")) {
        let mut out = String::new();
        let mut in_tag = false;
        for c in text.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&").chars().count()
    } else {
        text.chars().count()
    }
}

/// The `message_id` parameter of an edit or deletion, as a number or a string.
fn message_id_param(params: &Value) -> Result<i64, Refusal> {
    params
        .get("message_id")
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .ok_or_else(|| Refusal::new(400, "Bad Request: message identifier is not specified"))
}

/// A kept message after an edit: its new keyboard (none: taken off) and
/// the edit's date, as Telegram answers it.
fn edited(message: &mut Value, markup: Option<Value>) -> Value {
    match markup {
        Some(m) => message["reply_markup"] = m,
        None => {
            message.as_object_mut().expect("a message").remove("reply_markup");
        }
    }
    message["edit_date"] = json!(chrono::Utc::now().timestamp());
    message.clone()
}

fn chat_id_param(params: &Value) -> Option<i64> {
    match params.get("chat_id") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// The chat an update comes from, whose conversation it starts.
fn update_chat(update: &Value) -> Option<i64> {
    let obj = update.as_object()?.iter().find(|(k, _)| k.as_str() != "update_id")?.1;
    obj.pointer("/chat/id")
        .or_else(|| obj.pointer("/message/chat/id"))
        .or_else(|| obj.pointer("/from/id"))
        .or_else(|| obj.pointer("/user/id"))
        .and_then(Value::as_i64)
}

/// The kind of an update: its one field besides `update_id`.
pub fn update_kind(update: &Value) -> Option<String> {
    update.as_object()?.keys().find(|k| k.as_str() != "update_id").cloned()
}

fn webhook_url_allowed(url: &str) -> Result<(), Refusal> {
    let parsed = url::Url::parse(url).map_err(|_| Refusal::new(400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known"))?;
    if parsed.scheme() != "https" {
        return Err(Refusal::new(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook"));
    }
    if !matches!(parsed.port_or_known_default(), Some(443 | 80 | 88 | 8443)) {
        return Err(Refusal::new(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"));
    }
    Ok(())
}

/// An inline keyboard as Telegram checks it: rows of buttons, each with
/// exactly one action; callback data of 1-64 bytes; Web App URLs https only.
fn inline_keyboard_allowed(markup: &Value, http_web_apps: bool) -> Result<(), Refusal> {
    let Some(rows) = markup.get("inline_keyboard") else { return Ok(()) };
    let rows = rows.as_array().ok_or_else(|| Refusal::new(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays"))?;
    for row in rows {
        let row = row.as_array().ok_or_else(|| Refusal::new(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays"))?;
        for b in row {
            if b.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(Refusal::new(400, "Bad Request: can't parse inline keyboard button: Text must be non-empty"));
            }
            let actions = ["url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat", "copy_text", "pay"];
            if actions.iter().filter(|a| b.get(**a).is_some()).count() != 1 {
                return Err(Refusal::new(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"));
            }
            if let Some(d) = b.get("callback_data") {
                if d.as_str().is_none_or(|d| d.is_empty() || d.len() > 64) {
                    return Err(Refusal::new(400, "Bad Request: BUTTON_DATA_INVALID"));
                }
            }
            if let Some(w) = b.get("web_app") {
                web_app_url_allowed(w, "inline keyboard button", http_web_apps)?;
            }
        }
    }
    Ok(())
}

fn web_app_url_allowed(web_app: &Value, what: &str, http_ok: bool) -> Result<(), Refusal> {
    let url = web_app.get("url").and_then(Value::as_str).unwrap_or_default();
    if !url::Url::parse(url).is_ok_and(|u| u.scheme() == "https" || (http_ok && u.scheme() == "http")) {
        return Err(Refusal::new(400, format!("Bad Request: {what} Web App URL '{url}' is invalid: Only HTTPS links are allowed")));
    }
    Ok(())
}

impl State {
    fn new() -> State {
        State {
            bots: HashMap::new(),
            calls: Vec::new(),
            failures: VecDeque::new(),
            next_message_id: 1000,
            started: HashSet::new(),
            blocked: HashSet::new(),
            insecure_webhooks: false,
            insecure_web_apps: false,
            origins: Vec::new(),
            rate_limits: true,
            pacing: Pacing::default(),
            group_sends: HashMap::new(),
            delays: HashMap::new(),
            files: HashMap::new(),
            next_file: 1,
            forums: HashMap::new(),
            sent: HashMap::new(),
            closed_topics: HashSet::new(),
        }
    }

    /// Keeps a file for a bot; returns its `file_id` and `file_unique_id`.
    fn keep_file(&mut self, token: &str, name: &str, bytes: Vec<u8>, kind: &str) -> (String, String) {
        let n = self.next_file;
        self.next_file += 1;
        // Telegram's file ids start with a few characters that differ by kind.
        let (prefix, folder) = match kind {
            "photo" => ("Ag", "photos"),
            "voice" => ("Aw", "voice"),
            "audio" => ("CQ", "music"),
            "video" => ("BA", "videos"),
            "video_note" => ("DQ", "video_notes"),
            "animation" => ("Cg", "animations"),
            "sticker" => ("CA", "stickers"),
            _ => ("BQ", "documents"),
        };
        let (id, unique) = (format!("{prefix}ACAgIAAxkBAAI{n:06}"), format!("AQAD{n:06}"));
        let path = format!("{folder}/file_{n}{}", std::path::Path::new(name).extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default());
        self.files.insert(id.clone(), StoredFile { token: token.to_owned(), kind: kind.to_owned(), unique_id: unique.clone(), path, name: name.to_owned(), bytes });
        (id, unique)
    }

    /// May the bot write to this chat? Positive ids are users (a private
    /// chat's id is the user's); others are groups and channels, which the
    /// bot knows only once it received an update from them.
    fn may_write(&self, token: &str, chat: i64) -> Result<(), Refusal> {
        let key = (token.to_owned(), chat);
        if self.blocked.contains(&key) {
            return Err(Refusal::new(403, "Forbidden: bot was blocked by the user"));
        }
        if self.started.contains(&key) {
            return Ok(());
        }
        if chat > 0 {
            Err(Refusal::new(403, "Forbidden: bot can't initiate conversation with a user"))
        } else {
            Err(Refusal::new(400, "Bad Request: chat not found"))
        }
    }

    fn pace(&mut self, bot_id: i64, chat: i64, now: Instant) -> Result<(), Refusal> {
        if !self.rate_limits {
            return Ok(());
        }
        // Check both before taking either, so a refusal costs no slot.
        let chat_key = format!("chat:{bot_id}:{chat}");
        let bot_key = format!("bot:{bot_id}");
        let minute = Duration::from_secs(60);
        let group_wait = (chat < 0)
            .then(|| self.group_sends.get_mut(&(bot_id, chat)))
            .flatten()
            .and_then(|sent| {
                while sent.front().is_some_and(|t| now.saturating_duration_since(*t) >= minute) {
                    sent.pop_front();
                }
                (sent.len() >= GROUP_PER_MINUTE).then(|| minute - now.saturating_duration_since(sent[0]))
            });
        let wait = group_wait.or_else(|| self.pacing.wait(&chat_key, now, CHAT_PER_SECOND, CHAT_BURST)).or_else(|| self.pacing.wait(&bot_key, now, BOT_PER_SECOND, BOT_BURST));
        if let Some(wait) = wait {
            let after = wait.as_secs_f64().ceil().max(1.0) as u32;
            return Err(Refusal { status: 429, description: format!("Too Many Requests: retry after {after}"), retry_after: Some(after) });
        }
        self.pacing.take(&chat_key, now, CHAT_PER_SECOND);
        self.pacing.take(&bot_key, now, BOT_PER_SECOND);
        if chat < 0 {
            self.group_sends.entry((bot_id, chat)).or_default().push_back(now);
        }
        Ok(())
    }

    fn answer(&mut self, token: &str, method: &str, params: &Value, parts: &[Part], now: Instant) -> Answer {
        let bot = self.bots.get(token).cloned().ok_or_else(|| Refusal::new(401, "Unauthorized"))?;
        if let Some(pos) = self.failures.iter().position(|f| f.method == "*" || f.method == method) {
            let f = self.failures[pos].clone();
            if f.times <= 1 {
                self.failures.remove(pos);
            } else {
                self.failures[pos].times -= 1;
            }
            let after = f.retry_after.unwrap_or(1);
            let description = f.description.clone().unwrap_or_else(|| Failure::default_description(f.status, after));
            let retry_after = (f.status == 429).then_some(after);
            return Err(Refusal { status: f.status, description, retry_after });
        }
        let bot_user = json!({ "id": bot.id, "is_bot": true, "first_name": bot.username, "username": bot.username });
        match method {
            "getme" => {
                let mut me = bot_user;
                me["can_join_groups"] = json!(true);
                me["can_read_all_group_messages"] = json!(false);
                me["supports_inline_queries"] = json!(false);
                me["has_main_web_app"] = json!(false);
                Ok(me)
            }
            "setwebhook" => {
                let url = params.get("url").and_then(Value::as_str).unwrap_or_default();
                if url.is_empty() {
                    // An empty URL removes the webhook.
                    self.bots.get_mut(token).unwrap().webhook = None;
                    return Ok(json!(true));
                }
                if !self.insecure_webhooks {
                    webhook_url_allowed(url)?;
                }
                let allowed_updates = structured(params, "allowed_updates").map_err(|_| Refusal::new(400, "Bad Request: can't parse allowed updates"))?;
                if allowed_updates.as_ref().is_some_and(|a| !a.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
                    return Err(Refusal::new(400, "Bad Request: can't parse allowed updates"));
                }
                let wh = Webhook { url: url.to_owned(), secret_token: params.get("secret_token").and_then(Value::as_str).map(str::to_owned), allowed_updates };
                if let Some(s) = &wh.secret_token {
                    if s.is_empty() || s.len() > 256 || !s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
                        return Err(Refusal::new(400, "Bad Request: secret token contains unallowed characters"));
                    }
                }
                self.bots.get_mut(token).unwrap().webhook = Some(wh);
                Ok(json!(true))
            }
            "deletewebhook" => {
                self.bots.get_mut(token).unwrap().webhook = None;
                Ok(json!(true))
            }
            "getwebhookinfo" => {
                let url = bot.webhook.map(|w| w.url).unwrap_or_default();
                Ok(json!({ "url": url, "has_custom_certificate": false, "pending_update_count": 0 }))
            }
            "sendmessage" | "sendphoto" | "senddocument" | "sendvoice" | "sendaudio" | "sendvideo" | "sendvideonote" | "sendanimation" | "sendsticker" => {
                let chat = chat_id_param(params).ok_or_else(|| Refusal::new(400, "Bad Request: chat_id is empty"))?;
                let parse_mode = params.get("parse_mode").and_then(Value::as_str);
                let forum = self.forums.get(&(token.to_owned(), chat));
                let chat_json = match forum {
                    Some(_) => json!({ "id": chat, "type": "supergroup", "title": "Staff", "is_forum": true }),
                    None if chat > 0 => json!({ "id": chat, "type": "private", "first_name": "Customer" }),
                    None => json!({ "id": chat, "type": "group", "title": "Group" }),
                };
                let mut message = json!({ "date": chrono::Utc::now().timestamp(), "chat": chat_json, "from": bot_user });
                let thread = params.get("message_thread_id").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
                if let Some(t) = thread {
                    if !forum.is_some_and(|f| f.contains_key(&t)) {
                        return Err(Refusal::new(400, "Bad Request: message thread not found"));
                    }
                    message["message_thread_id"] = json!(t);
                    message["is_topic_message"] = json!(true);
                }
                if method == "sendmessage" {
                    let text = params.get("text").and_then(Value::as_str).unwrap_or_default();
                    let n = visible_chars(text, parse_mode);
                    if text.trim().is_empty() || n == 0 {
                        return Err(Refusal::new(400, "Bad Request: message text is empty"));
                    }
                    if n > MAX_TEXT_CHARS {
                        return Err(Refusal::new(400, "Bad Request: message is too long"));
                    }
                    message["text"] = json!(text);
                } else {
                    let field = match method {
                        "sendphoto" => "photo",
                        "sendvoice" => "voice",
                        "sendaudio" => "audio",
                        "sendvideo" => "video",
                        "sendvideonote" => "video_note",
                        "sendanimation" => "animation",
                        "sendsticker" => "sticker",
                        _ => "document",
                    };
                    // Either a new file (multipart) or the file_id of one
                    // this bot already has.
                    let upload = parts.iter().find(|p| p.field == field);
                    let existing = match (upload, params.get(field).and_then(Value::as_str)) {
                        (Some(p), _) => {
                            if field == "photo" && (p.bytes.len() > MAX_PHOTO_UPLOAD || !is_image(&p.bytes)) {
                                return Err(Refusal::new(400, "Bad Request: IMAGE_PROCESS_FAILED"));
                            }
                            if p.bytes.len() > MAX_FILE_UPLOAD {
                                return Err(Refusal::new(413, "Request Entity Too Large"));
                            }
                            None
                        }
                        (None, Some(id)) if !id.is_empty() => match self.files.get(id).filter(|f| f.token == token) {
                            // A photo, voice note, video… goes with its own
                            // kind's method; anything may go as a document.
                            Some(f) if f.kind == field || field == "document" => Some(id.to_owned()),
                            Some(_) => return Err(Refusal::new(400, "Bad Request: type of file mismatch")),
                            None => return Err(Refusal::new(400, "Bad Request: wrong file identifier/HTTP URL specified")),
                        },
                        _ => return Err(Refusal::new(400, format!("Bad Request: there is no {field} in the request"))),
                    };
                    if let Some(caption) = params.get("caption").and_then(Value::as_str) {
                        if visible_chars(caption, parse_mode) > MAX_CAPTION_CHARS {
                            return Err(Refusal::new(400, "Bad Request: message caption is too long"));
                        }
                        message["caption"] = json!(caption);
                    }
                    match structured(params, "reply_markup") {
                        Err(()) => return Err(Refusal::new(400, "Bad Request: can't parse reply keyboard markup JSON object")),
                        Ok(Some(markup)) => inline_keyboard_allowed(&markup, self.insecure_web_apps)?,
                        Ok(None) => {}
                    }
                    self.may_write(token, chat)?;
                    self.pace(bot.id, chat, now)?;
                    let (id, unique) = match existing {
                        Some(id) => (id.clone(), self.files[&id].unique_id.clone()),
                        None => {
                            let p = upload.expect("an upload");
                            self.keep_file(token, &p.name, p.bytes.clone(), field)
                        }
                    };
                    let f = self.files[&id].clone();
                    message[field] = if field == "photo" {
                        // Telegram answers with the sizes it made, the largest last.
                        json!([{ "file_id": format!("{id}_thumb"), "file_unique_id": format!("{unique}_t"), "width": 90, "height": 90, "file_size": 1024 },
                               { "file_id": id, "file_unique_id": unique, "width": 800, "height": 600, "file_size": f.bytes.len() }])
                    } else {
                        // The fields each kind's object has
                        // (<https://core.telegram.org/bots/api#voice> and its neighbours).
                        let mut o = json!({ "file_id": id, "file_unique_id": unique, "file_size": f.bytes.len() });
                        let extra = match field {
                            "voice" => json!({ "duration": 1, "mime_type": "audio/ogg" }),
                            "audio" => json!({ "duration": 1, "file_name": f.name, "mime_type": "audio/mpeg" }),
                            "video" | "animation" => json!({ "duration": 1, "width": 640, "height": 360, "file_name": f.name, "mime_type": "video/mp4" }),
                            "video_note" => json!({ "duration": 1, "length": 240 }),
                            "sticker" => json!({ "type": "regular", "width": 512, "height": 512, "is_animated": false, "is_video": false }),
                            _ => json!({ "file_name": f.name }),
                        };
                        o.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
                        if field == "animation" {
                            // Telegram repeats an animation as a document.
                            message["document"] = o.clone();
                        }
                        o
                    };
                    self.next_message_id += 1;
                    message["message_id"] = json!(self.next_message_id);
                    self.sent.insert((token.to_owned(), chat, self.next_message_id), message.clone());
                    return Ok(message);
                }
                let markup = match structured(params, "reply_markup") {
                    Err(()) => return Err(Refusal::new(400, "Bad Request: can't parse reply keyboard markup JSON object")),
                    Ok(Some(markup)) => {
                        inline_keyboard_allowed(&markup, self.insecure_web_apps)?;
                        Some(markup)
                    }
                    Ok(None) => None,
                };
                self.may_write(token, chat)?;
                self.pace(bot.id, chat, now)?;
                self.next_message_id += 1;
                message["message_id"] = json!(self.next_message_id);
                if let Some(m) = markup {
                    message["reply_markup"] = m;
                }
                if self.sent.len() >= MAX_KEPT_MESSAGES {
                    // A benchmark's millions of messages: the stand-in
                    // forgets, as a test never edits that far back.
                    self.sent.clear();
                }
                self.sent.insert((token.to_owned(), chat, self.next_message_id), message.clone());
                Ok(message)
            }
            "editmessagereplymarkup" => {
                // (<https://core.telegram.org/bots/api#editmessagereplymarkup>)
                // A markup left out removes the keyboard.
                let chat = chat_id_param(params).ok_or_else(|| Refusal::new(400, "Bad Request: chat_id is empty"))?;
                let id = message_id_param(params)?;
                let markup = structured(params, "reply_markup").map_err(|_| Refusal::new(400, "Bad Request: can't parse reply keyboard markup JSON object"))?;
                if let Some(m) = &markup {
                    inline_keyboard_allowed(m, self.insecure_web_apps)?;
                }
                let Some(message) = self.sent.get_mut(&(token.to_owned(), chat, id)) else {
                    return Err(Refusal::new(400, "Bad Request: message to edit not found"));
                };
                let none = |m: Option<&Value>| m.is_none_or(|m| m["inline_keyboard"].as_array().is_none_or(Vec::is_empty));
                if message.get("reply_markup") == markup.as_ref() || (none(message.get("reply_markup")) && none(markup.as_ref())) {
                    return Err(Refusal::new(
                        400,
                        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                    ));
                }
                Ok(edited(message, markup))
            }
            "createforumtopic" => {
                let chat = chat_id_param(params).ok_or_else(|| Refusal::new(400, "Bad Request: chat_id is empty"))?;
                let name = params.get("name").and_then(Value::as_str).unwrap_or_default();
                let key = (token.to_owned(), chat);
                if !self.forums.contains_key(&key) {
                    self.may_write(token, chat)?;
                    return Err(Refusal::new(400, "Bad Request: the chat is not a forum"));
                }
                let n = name.chars().count();
                if n == 0 || n > 128 {
                    return Err(Refusal::new(400, "Bad Request: TOPIC_NAME_INVALID"));
                }
                // Making a topic posts a service message: paced like one.
                self.pace(bot.id, chat, now)?;
                self.next_message_id += 1;
                let thread = self.next_message_id;
                self.forums.get_mut(&key).expect("a forum").insert(thread, name.to_owned());
                Ok(json!({ "message_thread_id": thread, "name": name, "icon_color": 7322096 }))
            }
            "editforumtopic" | "closeforumtopic" | "reopenforumtopic" => {
                // (<https://core.telegram.org/bots/api#editforumtopic> and
                // its neighbours.) A change to what is already so is refused
                // as Telegram refuses it.
                let chat = chat_id_param(params).ok_or_else(|| Refusal::new(400, "Bad Request: chat_id is empty"))?;
                let thread = params.get("message_thread_id").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
                let key = (token.to_owned(), chat);
                let Some(thread) = thread.filter(|t| self.forums.get(&key).is_some_and(|f| f.contains_key(t))) else {
                    return Err(Refusal::new(400, "Bad Request: TOPIC_ID_INVALID"));
                };
                let closed = self.closed_topics.contains(&(token.to_owned(), chat, thread));
                match method {
                    "editforumtopic" => {
                        let name = params.get("name").and_then(Value::as_str).unwrap_or_default();
                        let n = name.chars().count();
                        if n == 0 || n > 128 {
                            return Err(Refusal::new(400, "Bad Request: TOPIC_NAME_INVALID"));
                        }
                        let topics = self.forums.get_mut(&key).expect("a forum");
                        if topics[&thread] == name {
                            return Err(Refusal::new(400, "Bad Request: TOPIC_NOT_MODIFIED"));
                        }
                        topics.insert(thread, name.to_owned());
                    }
                    "closeforumtopic" if closed => return Err(Refusal::new(400, "Bad Request: TOPIC_NOT_MODIFIED")),
                    "closeforumtopic" => {
                        self.closed_topics.insert((token.to_owned(), chat, thread));
                    }
                    _ if !closed => return Err(Refusal::new(400, "Bad Request: TOPIC_NOT_MODIFIED")),
                    _ => {
                        self.closed_topics.remove(&(token.to_owned(), chat, thread));
                    }
                }
                Ok(json!(true))
            }
            "deleteforumtopic" => {
                let chat = chat_id_param(params).ok_or_else(|| Refusal::new(400, "Bad Request: chat_id is empty"))?;
                let thread = params.get("message_thread_id").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
                let removed = match (self.forums.get_mut(&(token.to_owned(), chat)), thread) {
                    (Some(topics), Some(t)) => topics.remove(&t).is_some(),
                    _ => false,
                };
                if removed { Ok(json!(true)) } else { Err(Refusal::new(400, "Bad Request: TOPIC_ID_INVALID")) }
            }
            "answercallbackquery" => {
                if params.get("callback_query_id").and_then(Value::as_str).is_none_or(str::is_empty) {
                    return Err(Refusal::new(400, "Bad Request: query is too old and response timeout expired or query ID is invalid"));
                }
                if params.get("text").and_then(Value::as_str).is_some_and(|t| t.chars().count() > 200) {
                    return Err(Refusal::new(400, "Bad Request: MESSAGE_TOO_LONG"));
                }
                Ok(json!(true))
            }
            "getfile" => {
                let Some(file_id) = params.get("file_id").and_then(Value::as_str).filter(|f| !f.is_empty()) else {
                    return Err(Refusal::new(400, "Bad Request: invalid file_id"));
                };
                let Some(f) = self.files.get(file_id).filter(|f| f.token == token) else {
                    return Err(Refusal::new(400, "Bad Request: invalid file_id"));
                };
                if f.bytes.len() > MAX_DOWNLOAD {
                    return Err(Refusal::new(400, "Bad Request: file is too big"));
                }
                Ok(json!({ "file_id": file_id, "file_unique_id": f.unique_id, "file_size": f.bytes.len(), "file_path": f.path }))
            }
            "setchatmenubutton" => {
                let button = structured(params, "menu_button").map_err(|_| Refusal::new(400, "Bad Request: can't parse menu button JSON object"))?;
                if let Some(b) = &button {
                    match b.get("type").and_then(Value::as_str) {
                        Some("web_app") => {
                            if b.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
                                return Err(Refusal::new(400, "Bad Request: menu button text must be non-empty"));
                            }
                            web_app_url_allowed(b.get("web_app").unwrap_or(&Value::Null), "menu button", self.insecure_web_apps)?;
                        }
                        Some("commands" | "default") => {}
                        _ => return Err(Refusal::new(400, "Bad Request: unsupported menu button type")),
                    }
                }
                if params.get("chat_id").is_none() {
                    self.bots.get_mut(token).unwrap().menu_button = button;
                }
                Ok(json!(true))
            }
            "getchatmenubutton" => Ok(bot.menu_button.clone().unwrap_or_else(|| json!({ "type": "default" }))),
            "editmessagetext" => {
                // (<https://core.telegram.org/bots/api#editmessagetext>)
                let chat = chat_id_param(params).ok_or_else(|| Refusal::new(400, "Bad Request: chat_id is empty"))?;
                let id = message_id_param(params)?;
                let text = params.get("text").and_then(Value::as_str).unwrap_or_default();
                let n = visible_chars(text, params.get("parse_mode").and_then(Value::as_str));
                if text.trim().is_empty() || n == 0 {
                    return Err(Refusal::new(400, "Bad Request: message text is empty"));
                }
                if n > MAX_TEXT_CHARS {
                    return Err(Refusal::new(400, "Bad Request: MESSAGE_TOO_LONG"));
                }
                let markup = structured(params, "reply_markup").map_err(|_| Refusal::new(400, "Bad Request: can't parse reply keyboard markup JSON object"))?;
                if let Some(m) = &markup {
                    inline_keyboard_allowed(m, self.insecure_web_apps)?;
                }
                let Some(message) = self.sent.get_mut(&(token.to_owned(), chat, id)) else {
                    return Err(Refusal::new(400, "Bad Request: message to edit not found"));
                };
                if message.get("text").is_none() {
                    return Err(Refusal::new(400, "Bad Request: there is no text in the message to edit"));
                }
                if message["text"] == text && message.get("reply_markup") == markup.as_ref() {
                    return Err(Refusal::new(
                        400,
                        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                    ));
                }
                message["text"] = json!(text);
                Ok(edited(message, markup))
            }
            "deletemessage" => {
                // (<https://core.telegram.org/bots/api#deletemessage>: a
                // bot's own message in a private chat, for 48 hours.)
                let chat = chat_id_param(params).ok_or_else(|| Refusal::new(400, "Bad Request: chat_id is empty"))?;
                let id = message_id_param(params)?;
                let key = (token.to_owned(), chat, id);
                let Some(message) = self.sent.get(&key) else {
                    return Err(Refusal::new(400, "Bad Request: message to delete not found"));
                };
                if chrono::Utc::now().timestamp() - message["date"].as_i64().unwrap_or_default() > 48 * 3600 {
                    return Err(Refusal::new(400, "Bad Request: message can't be deleted for everyone"));
                }
                self.sent.remove(&key);
                Ok(json!(true))
            }
            "sendchataction" | "setmycommands" => Ok(json!(true)),
            _ => Err(Refusal::new(404, "Not Found: method not found")),
        }
    }
}

#[handler]
async fn bot_api(Path((botseg, method)): Path<(String, String)>, req: &Request, body: poem::Body, Data(fake): Data<&FakeTelegram>) -> Response {
    let at = Instant::now();
    let Some(token) = botseg.strip_prefix("bot").map(str::to_owned) else { return Refusal::new(404, "Not Found").into_response() };
    let method = method.to_ascii_lowercase();
    let (params, parts) = match read_params(req, body).await {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let delay = fake.state.lock().unwrap().delays.get(&method).copied();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let mut st = fake.state.lock().unwrap();
    let answer = st.answer(&token, &method, &params, &parts, at);
    let (status, description) = match &answer {
        Ok(_) => (200, None),
        Err(r) => (r.status, Some(r.description.clone())),
    };
    let result = answer.as_ref().ok().cloned();
    st.calls.push(Call { token, method, params, ok: answer.is_ok(), status, description, result, at });
    drop(st);
    match answer {
        Ok(result) => Json(json!({ "ok": true, "result": result })).into_response(),
        Err(r) => r.into_response(),
    }
}

/// `GET /file/bot{token}/{file_path}`: a file's bytes, as Telegram serves
/// them after `getFile`.
#[handler]
async fn file_download(Path((botseg, path)): Path<(String, String)>, Data(fake): Data<&FakeTelegram>) -> Response {
    let token = botseg.strip_prefix("bot").unwrap_or_default();
    let st = fake.state.lock().unwrap();
    match st.files.values().find(|f| f.token == token && f.path == path) {
        Some(f) => f.bytes.clone().into_response(),
        None => Refusal::new(404, "Not Found").into_response(),
    }
}

#[derive(Deserialize)]
struct NewBot {
    token: String,
    username: String,
}

#[handler]
async fn control_add_bot(Json(b): Json<NewBot>, Data(fake): Data<&FakeTelegram>) -> Response {
    fake.add_bot(&b.token, &b.username);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct CallsQuery {
    method: Option<String>,
}

#[handler]
async fn control_calls(Query(q): Query<CallsQuery>, Data(fake): Data<&FakeTelegram>) -> Response {
    let calls: Vec<Value> = fake
        .calls(q.method.as_deref())
        .into_iter()
        .map(|c| json!({ "token": c.token, "method": c.method, "params": c.params, "ok": c.ok, "status": c.status, "description": c.description }))
        .collect();
    Json(calls).into_response()
}

#[handler]
async fn control_fail(Json(f): Json<Failure>, Data(fake): Data<&FakeTelegram>) -> Response {
    fake.fail(f);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Deliver {
    token: String,
    update: Value,
}

#[handler]
async fn control_deliver(Json(d): Json<Deliver>, Data(fake): Data<&FakeTelegram>) -> Response {
    match fake.deliver(&d.token, &d.update).await {
        Ok(status) => Json(json!({ "status": status })).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

impl FakeTelegram {
    /// Starts on a free loopback port, as strict as Telegram: insecure
    /// webhooks refused, rate limits on.
    pub async fn start() -> anyhow::Result<FakeTelegram> {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> anyhow::Result<FakeTelegram> {
        let acceptor = TcpListener::bind(addr.to_owned()).into_acceptor().await?;
        let port = acceptor.local_addr()[0].as_socket_addr().map(|a| a.port()).unwrap_or(0);
        let state = State::new();
        let fake = FakeTelegram {
            url: format!("http://127.0.0.1:{port}"),
            state: Arc::new(Mutex::new(state)),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        };
        let app = Route::new()
            .at("/_fake/bots", post(control_add_bot))
            .at("/_fake/calls", control_calls)
            .at("/_fake/failures", post(control_fail))
            .at("/_fake/deliver", post(control_deliver))
            .at("/:botseg/:method", bot_api)
            .at("/file/:botseg/*path", poem::get(file_download))
            .data(fake.clone());
        tokio::spawn(async move {
            if let Err(e) = poem::Server::new_with_acceptor(acceptor).run(app).await {
                eprintln!("the Telegram stand-in stopped: {e}");
            }
        });
        Ok(fake)
    }

    /// Accepts plain-HTTP webhooks on any port, for a server on loopback.
    /// Telegram never does; tests that spawn the server turn this on.
    /// Delivers webhooks registered under `public` (`https://desk.example.com`)
    /// to `actual` (`http://127.0.0.1:PORT`) instead, as a DNS entry and a
    /// TLS-terminating proxy would.
    pub fn route_origin(&self, public: &str, actual: &str) {
        self.state.lock().unwrap().origins.push((public.trim_end_matches('/').to_owned(), actual.trim_end_matches('/').to_owned()));
    }

    pub fn allow_insecure_webhooks(&self, allow: bool) {
        self.state.lock().unwrap().insecure_webhooks = allow;
    }

    /// Accepts Mini App (Web App) URLs on plain HTTP in buttons and the menu
    /// button, which Telegram refuses: for `tikethet demo`, whose browser
    /// runs on the same machine.
    pub fn allow_insecure_web_apps(&self, allow: bool) {
        self.state.lock().unwrap().insecure_web_apps = allow;
    }

    /// Turns Telegram's pacing (429 with `retry_after`) on or off.
    pub fn rate_limits(&self, on: bool) {
        self.state.lock().unwrap().rate_limits = on;
    }

    /// Makes a token valid; the bot's id is the token's numeric prefix.
    pub fn add_bot(&self, token: &str, username: &str) {
        let id = token.split(':').next().and_then(|s| s.parse().ok()).unwrap_or(1);
        self.state.lock().unwrap().bots.insert(token.to_owned(), Bot { id, username: username.to_owned(), webhook: None, menu_button: None });
    }

    /// The user (or group) `chat` has started a conversation with the bot.
    pub fn start_chat(&self, token: &str, chat: i64) {
        self.state.lock().unwrap().started.insert((token.to_owned(), chat));
    }

    /// A supergroup with topics that the bot is in (and may manage topics of).
    pub fn add_forum(&self, token: &str, chat: i64) {
        let mut st = self.state.lock().unwrap();
        st.started.insert((token.to_owned(), chat));
        st.forums.entry((token.to_owned(), chat)).or_default();
    }

    /// The forum's topics: thread id and name, oldest first.
    pub fn topics(&self, token: &str, chat: i64) -> Vec<(i64, String)> {
        let st = self.state.lock().unwrap();
        let mut t: Vec<(i64, String)> = st.forums.get(&(token.to_owned(), chat)).map(|f| f.iter().map(|(k, v)| (*k, v.clone())).collect()).unwrap_or_default();
        t.sort();
        t
    }

    /// Someone deleted a topic in the group.
    pub fn delete_topic(&self, token: &str, chat: i64, thread: i64) {
        if let Some(f) = self.state.lock().unwrap().forums.get_mut(&(token.to_owned(), chat)) {
            f.remove(&thread);
        }
    }

    /// Texts a bot delivered into one topic of a forum, in order.
    pub fn sent_to_topic(&self, token: &str, chat: i64, thread: i64) -> Vec<String> {
        self.sends_to(token, chat).into_iter().filter(|c| c.ok && c.thread_id() == Some(thread)).filter_map(|c| c.text().map(str::to_owned)).collect()
    }

    /// A file a user sends the bot (put it in an update's `photo` or
    /// `document`); returns its `file_id` and `file_unique_id`.
    pub fn add_file(&self, token: &str, name: &str, bytes: &[u8], photo: bool) -> (String, String) {
        self.state.lock().unwrap().keep_file(token, name, bytes.to_vec(), if photo { "photo" } else { "document" })
    }

    /// A file of any kind a user sends the bot (`voice`, `sticker`, …: the
    /// update's field it goes in); returns its `file_id` and `file_unique_id`.
    pub fn add_media(&self, token: &str, kind: &str, name: &str, bytes: &[u8]) -> (String, String) {
        self.state.lock().unwrap().keep_file(token, name, bytes.to_vec(), kind)
    }

    /// The inline keyboard under a bot's message now (after any edits);
    /// `None` when it has none or the message is unknown.
    pub fn keyboard_of(&self, token: &str, chat: i64, message_id: i64) -> Option<Value> {
        self.state.lock().unwrap().sent.get(&(token.to_owned(), chat, message_id)).and_then(|m| m.get("reply_markup").cloned())
    }

    /// Whether a forum topic is closed.
    pub fn topic_closed(&self, token: &str, chat: i64, thread: i64) -> bool {
        self.state.lock().unwrap().closed_topics.contains(&(token.to_owned(), chat, thread))
    }

    /// A bot's message as the chat shows it now (after edits); `None` once
    /// deleted, or never sent.
    pub fn message_in(&self, token: &str, chat: i64, message_id: i64) -> Option<Value> {
        self.state.lock().unwrap().sent.get(&(token.to_owned(), chat, message_id)).cloned()
    }

    /// The bytes Telegram holds under a `file_id`.
    pub fn file(&self, file_id: &str) -> Option<Vec<u8>> {
        self.state.lock().unwrap().files.get(file_id).map(|f| f.bytes.clone())
    }

    /// The user `chat` blocked the bot.
    pub fn block(&self, token: &str, chat: i64) {
        self.state.lock().unwrap().blocked.insert((token.to_owned(), chat));
    }

    /// The user `chat` unblocked the bot (as writing to it again does).
    pub fn unblock(&self, token: &str, chat: i64) {
        self.state.lock().unwrap().blocked.remove(&(token.to_owned(), chat));
    }

    /// Answers to `method` wait `delay` first (`Duration::ZERO` to stop).
    pub fn slow_down(&self, method: &str, delay: Duration) {
        let mut st = self.state.lock().unwrap();
        if delay.is_zero() {
            st.delays.remove(&method.to_ascii_lowercase());
        } else {
            st.delays.insert(method.to_ascii_lowercase(), delay);
        }
    }

    /// Recorded calls, optionally of one method (any case), in the order
    /// they were answered.
    pub fn calls(&self, method: Option<&str>) -> Vec<Call> {
        let m = method.map(str::to_ascii_lowercase);
        self.state.lock().unwrap().calls.iter().filter(|c| m.as_ref().is_none_or(|m| &c.method == m)).cloned().collect()
    }

    /// How many texts equal to `text` the bot delivered, over all chats
    /// (counted under the lock, without copying the calls).
    pub fn delivered_count(&self, token: &str, text: &str) -> usize {
        self.state.lock().unwrap().calls.iter().filter(|c| c.ok && c.method == "sendmessage" && c.token == token && c.text() == Some(text)).count()
    }

    /// The first text delivered to a chat that contains `needle` (searched
    /// under the lock, without copying the calls).
    pub fn find_sent(&self, token: &str, chat: i64, needle: &str) -> Option<String> {
        let st = self.state.lock().unwrap();
        st.calls.iter().filter(|c| c.ok && c.method == "sendmessage" && c.token == token && c.chat_id() == Some(chat)).filter_map(|c| c.text()).find(|t| t.contains(needle)).map(str::to_owned)
    }

    /// `sendMessage` calls of a bot to a chat, successful or not.
    pub fn sends_to(&self, token: &str, chat_id: i64) -> Vec<Call> {
        self.calls(Some("sendMessage")).into_iter().filter(|c| c.token == token && c.chat_id() == Some(chat_id)).collect()
    }

    /// Texts a bot delivered to a chat, in order (failed attempts excluded).
    pub fn sent_to(&self, token: &str, chat_id: i64) -> Vec<String> {
        self.sends_to(token, chat_id).into_iter().filter(|c| c.ok).filter_map(|c| c.text().map(str::to_owned)).collect()
    }

    pub fn fail(&self, f: Failure) {
        let mut f = f;
        f.method = f.method.to_ascii_lowercase();
        self.state.lock().unwrap().failures.push_back(f);
    }

    /// Forgets the scripted failures not yet used.
    pub fn clear_failures(&self) {
        self.state.lock().unwrap().failures.clear();
    }

    pub fn webhook(&self, token: &str) -> Option<Webhook> {
        self.state.lock().unwrap().bots.get(token).and_then(|b| b.webhook.clone())
    }

    /// The bot's default menu button, as `setChatMenuButton` left it.
    pub fn menu_button(&self, token: &str) -> Option<Value> {
        self.state.lock().unwrap().bots.get(token).and_then(|b| b.menu_button.clone())
    }

    /// Marks the conversation of an update as started, as delivering it
    /// would; for tests that post to the webhook themselves.
    pub fn note_update(&self, token: &str, update: &Value) {
        if let Some(chat) = update_chat(update) {
            self.start_chat(token, chat);
        }
    }

    /// Plays Telegram: posts an update to the bot's webhook with its secret.
    /// Refuses (without posting) an update whose kind the webhook did not
    /// ask for in `allowed_updates`.
    pub async fn deliver(&self, token: &str, update: &Value) -> anyhow::Result<u16> {
        let wh = self.webhook(token).ok_or_else(|| anyhow::anyhow!("bot has no webhook"))?;
        let kind = update_kind(update).ok_or_else(|| anyhow::anyhow!("not an update: {update}"))?;
        let wanted = match wh.allowed_updates.as_ref().and_then(Value::as_array) {
            Some(list) if !list.is_empty() => list.iter().any(|k| k.as_str() == Some(kind.as_str())),
            _ => !NOT_DELIVERED_BY_DEFAULT.contains(&kind.as_str()),
        };
        anyhow::ensure!(wanted, "Telegram would not deliver a {kind} update: the webhook's allowed_updates are {:?}", wh.allowed_updates);
        self.note_update(token, update);
        let url = {
            let st = self.state.lock().unwrap();
            st.origins.iter().find_map(|(public, actual)| wh.url.strip_prefix(public.as_str()).map(|rest| format!("{actual}{rest}"))).unwrap_or_else(|| wh.url.clone())
        };
        let mut req = self.http.post(&url).json(update);
        if let Some(s) = &wh.secret_token {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        Ok(req.send().await?.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    async fn fake() -> FakeTelegram {
        let f = FakeTelegram::start().await.unwrap();
        f.add_bot(TOKEN, "test_bot");
        f
    }

    async fn call(f: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
        call_as(f, TOKEN, method, body).await
    }

    async fn call_as(f: &FakeTelegram, token: &str, method: &str, body: Value) -> (u16, Value) {
        let res = reqwest::Client::new().post(format!("{}/bot{token}/{method}", f.url)).json(&body).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    fn refused(code: u16, description: &str) -> Value {
        json!({ "ok": false, "error_code": code, "description": description })
    }

    #[tokio::test]
    async fn unknown_tokens_and_methods() {
        let f = fake().await;
        let res = reqwest::Client::new().post(format!("{}/bot1:nope/getMe", f.url)).send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.json::<Value>().await.unwrap(), refused(401, "Unauthorized"));
        assert_eq!(call(&f, "getMe", json!({})).await.1["result"]["username"], "test_bot");
        assert_eq!(call(&f, "noSuchMethod", json!({})).await, (404, refused(404, "Not Found: method not found")));
    }

    #[tokio::test]
    async fn each_kind_of_file_goes_with_its_own_method() {
        let f = fake().await;
        f.start_chat(TOKEN, 7);
        f.rate_limits(false);
        let (voice, _) = f.add_media(TOKEN, "voice", "v.ogg", b"OggS voice");
        let (s, body) = call(&f, "sendVoice", json!({ "chat_id": 7, "voice": voice })).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!((body["result"]["voice"]["file_id"].as_str(), body["result"]["voice"]["mime_type"].as_str()), (Some(voice.as_str()), Some("audio/ogg")));
        let (s, body) = call(&f, "sendVideo", json!({ "chat_id": 7, "video": voice })).await;
        assert_eq!((s, body["description"].as_str()), (400, Some("Bad Request: type of file mismatch")), "a voice note's file_id is not a video's");
        let (gif, _) = f.add_media(TOKEN, "animation", "cat.mp4", b"\0\0\0\x20ftypisom");
        let (_, body) = call(&f, "sendAnimation", json!({ "chat_id": 7, "animation": gif })).await;
        assert_eq!(body["result"]["animation"]["file_id"], body["result"]["document"]["file_id"], "an animation is repeated as a document");
        assert_eq!(call(&f, "sendDocument", json!({ "chat_id": 7, "document": gif })).await.0, 200);
        let (sticker, _) = f.add_media(TOKEN, "sticker", "s.webp", b"RIFF\0\0\0\0WEBPVP8 ");
        let (_, body) = call(&f, "sendSticker", json!({ "chat_id": 7, "sticker": sticker })).await;
        assert_eq!(body["result"]["sticker"]["type"], "regular", "{body}");
        assert_eq!(call(&f, "sendVideoNote", json!({ "chat_id": 7 })).await, (400, refused(400, "Bad Request: there is no video_note in the request")));
    }

    #[tokio::test]
    async fn text_length_is_one_to_4096_characters() {
        let f = fake().await;
        f.start_chat(TOKEN, 7);
        // 4096 characters of two bytes each: fine; one more is too long.
        let (s, body) = call(&f, "sendMessage", json!({ "chat_id": 7, "text": "é".repeat(4096) })).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["result"]["text"].as_str().unwrap().chars().count(), 4096);
        f.rate_limits(false);
        assert_eq!(call(&f, "sendMessage", json!({ "chat_id": 7, "text": "é".repeat(4097) })).await, (400, refused(400, "Bad Request: message is too long")));
        assert_eq!(call(&f, "sendMessage", json!({ "chat_id": 7, "text": "" })).await, (400, refused(400, "Bad Request: message text is empty")));
        assert_eq!(call(&f, "sendMessage", json!({ "chat_id": 7 })).await, (400, refused(400, "Bad Request: message text is empty")));
        // HTML entities count as what they show.
        let tagged = format!("<b>{}</b>", "x".repeat(4096));
        assert_eq!(call(&f, "sendMessage", json!({ "chat_id": 7, "text": tagged, "parse_mode": "HTML" })).await.0, 200);
        let calls = f.calls(Some("sendMessage"));
        assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [200, 400, 400, 400, 200]);
        assert_eq!(calls[1].description.as_deref(), Some("Bad Request: message is too long"));
        assert_eq!(f.sent_to(TOKEN, 7).len(), 2);
    }

    #[tokio::test]
    async fn captions_are_at_most_1024_characters() {
        let f = fake().await;
        f.start_chat(TOKEN, 7);
        let (photo, _) = f.add_file(TOKEN, "a.png", PNG, true);
        let ok = call(&f, "sendPhoto", json!({ "chat_id": 7, "photo": photo, "caption": "c".repeat(1024) })).await;
        assert_eq!(ok.0, 200, "{}", ok.1);
        assert_eq!(ok.1["result"]["caption"].as_str().unwrap().len(), 1024);
        assert!(ok.1["result"]["photo"].is_array());
        assert_eq!(
            call(&f, "sendDocument", json!({ "chat_id": 7, "document": photo, "caption": "c".repeat(1025) })).await,
            (400, refused(400, "Bad Request: message caption is too long"))
        );
        assert_eq!(call(&f, "sendDocument", json!({ "chat_id": 7 })).await, (400, refused(400, "Bad Request: there is no document in the request")));
    }

    #[tokio::test]
    async fn webhooks_must_be_https_on_an_allowed_port() {
        let f = fake().await;
        let set = |url: &str| call(&f, "setWebhook", json!({ "url": url, "secret_token": "s3cret_-" }));
        assert_eq!(set("http://127.0.0.1:8080/tg/x").await, (400, refused(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")));
        assert_eq!(
            set("https://example.com:8080/tg/x").await,
            (400, refused(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"))
        );
        assert!(f.webhook(TOKEN).is_none(), "a refused webhook is not set");
        for url in ["https://example.com/tg/x", "https://example.com:8443/tg/x", "https://example.com:88/tg/x"] {
            assert_eq!(set(url).await.0, 200, "{url}");
            assert_eq!(f.webhook(TOKEN).unwrap().url, url);
        }
        f.allow_insecure_webhooks(true);
        assert_eq!(set("http://127.0.0.1:8080/tg/x").await.0, 200);
        assert_eq!(call(&f, "setWebhook", json!({ "url": "https://example.com/", "secret_token": "bad secret!" })).await.0, 400);
    }

    #[tokio::test]
    async fn a_bot_cannot_write_first_nor_to_a_user_who_blocked_it() {
        let f = fake().await;
        f.rate_limits(false);
        let send = |chat: i64| call(&f, "sendMessage", json!({ "chat_id": chat, "text": "hi" }));
        assert_eq!(send(42).await, (403, refused(403, "Forbidden: bot can't initiate conversation with a user")));
        assert_eq!(send(-100123).await, (400, refused(400, "Bad Request: chat not found")));
        f.start_chat(TOKEN, 42);
        assert_eq!(send(42).await.0, 200);
        f.block(TOKEN, 42);
        assert_eq!(send(42).await, (403, refused(403, "Forbidden: bot was blocked by the user")));
        // Another bot's conversation with the same user is its own.
        f.add_bot("999:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "other_bot");
        let res = reqwest::Client::new().post(format!("{}/bot999:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage", f.url)).json(&json!({"chat_id": 42, "text": "hi"})).send().await.unwrap();
        assert_eq!(res.status(), 403);
    }

    #[tokio::test]
    async fn delivery_starts_the_chat_and_honours_allowed_updates() {
        let f = fake().await;
        f.allow_insecure_webhooks(true);
        // A webhook that counts what reaches it.
        let hits = Arc::new(Mutex::new(Vec::<Value>::new()));
        let h = hits.clone();
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let app = poem::endpoint::make(move |req: Request| {
            let h = h.clone();
            async move {
                let v: Value = req.into_body().into_json().await.unwrap();
                h.lock().unwrap().push(v);
                "ok"
            }
        });
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        let url = format!("http://127.0.0.1:{port}/hook");
        // Multipart, as teloxide sends it: allowed_updates is a JSON string.
        let form = reqwest::multipart::Form::new().text("url", url.clone()).text("allowed_updates", r#"["message"]"#);
        let res = reqwest::Client::new().post(format!("{}/bot{TOKEN}/setWebhook", f.url)).multipart(form).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(f.calls(Some("setWebhook"))[0].params["allowed_updates"], json!(r#"["message"]"#), "multipart fields are strings");
        assert_eq!(f.webhook(TOKEN).unwrap().allowed_updates, Some(json!(["message"])));

        let msg = json!({ "update_id": 1, "message": { "message_id": 1, "date": 0, "chat": { "id": 42, "type": "private" }, "from": { "id": 42, "is_bot": false, "first_name": "A" }, "text": "hi" } });
        assert_eq!(f.deliver(TOKEN, &msg).await.unwrap(), 200);
        let edited = json!({ "update_id": 2, "edited_message": { "message_id": 1, "date": 0, "chat": { "id": 43, "type": "private" }, "text": "hi" } });
        let err = f.deliver(TOKEN, &edited).await.unwrap_err();
        assert!(err.to_string().contains("edited_message"), "{err}");
        assert_eq!(hits.lock().unwrap().len(), 1, "a refused update is not posted");
        assert_eq!(call(&f, "sendMessage", json!({ "chat_id": 42, "text": "hello" })).await.0, 200, "delivery started the chat");
        assert_eq!(call(&f, "sendMessage", json!({ "chat_id": 43, "text": "hello" })).await.0, 403, "an undelivered update starts nothing");

        // Unset allowed_updates: everything but the documented exceptions.
        assert_eq!(call(&f, "setWebhook", json!({ "url": url })).await.0, 200);
        assert_eq!(f.deliver(TOKEN, &edited).await.unwrap(), 200);
        let reaction = json!({ "update_id": 3, "message_reaction": { "chat": { "id": 42, "type": "private" }, "message_id": 1, "date": 0, "old_reaction": [], "new_reaction": [] } });
        assert!(f.deliver(TOKEN, &reaction).await.is_err());
        assert_eq!(hits.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_group_gets_twenty_messages_a_minute() {
        let mut st = State::new();
        st.rate_limits = true;
        let (bot, group) = (123_456, -100_42);
        let t0 = Instant::now();
        // Two seconds apart (within the per-chat pace): 20, then refused.
        for i in 0..GROUP_PER_MINUTE as u64 {
            assert_eq!(st.pace(bot, group, t0 + Duration::from_secs(2 * i)).map_err(|r| r.status), Ok(()), "message {i}");
        }
        let at = t0 + Duration::from_secs(40);
        let r = st.pace(bot, group, at).unwrap_err();
        assert_eq!((r.status, r.retry_after), (429, Some(20)), "until the first leaves the minute: {}", r.description);
        assert!(st.pace(bot, -100_43, at).is_ok(), "another group is not held");
        assert!(st.pace(bot, group, t0 + Duration::from_secs(60)).is_ok(), "a minute after the first");
    }

    #[test]
    fn pacing_per_chat_and_per_bot() {
        // The limiter on a fixed clock, so that a slow machine cannot free
        // a slot in the middle of the count.
        let mut st = State::new();
        st.rate_limits = true;
        let bot = 123_456;
        let t0 = Instant::now();
        // Per chat: the burst, then refused with Telegram's text.
        for _ in 0..CHAT_BURST {
            assert_eq!(st.pace(bot, 1, t0).map_err(|r| r.status), Ok(()));
        }
        let r = st.pace(bot, 1, t0).unwrap_err();
        assert_eq!((r.status, r.retry_after), (429, Some(1)));
        assert_eq!(r.description, "Too Many Requests: retry after 1");
        // One interval later, one more.
        let later = t0 + Duration::from_secs_f64(1.0 / CHAT_PER_SECOND);
        assert!(st.pace(bot, 1, later).is_ok());
        assert!(st.pace(bot, 1, later).is_err());
        // Per bot: distinct chats, one each; the bot's burst runs out, then
        // 429. By `later` the chat-1 sends at t0 have all drained from the
        // bot's bucket but the one at `later` still counts.
        let mut ok = 0;
        let mut refused = 0;
        for chat in 2..=(BOT_BURST as i64 + 10) {
            match st.pace(bot, chat, later) {
                Ok(()) => ok += 1,
                Err(r) => {
                    assert_eq!(r.status, 429);
                    refused += 1;
                }
            }
        }
        assert_eq!((ok, refused), (BOT_BURST - 1, 10), "sent, refused");
        // Another bot is not slowed by this one.
        assert!(st.pace(bot + 1, 2, later).is_ok());
        st.rate_limits = false;
        assert!(st.pace(bot, 1, later).is_ok());
    }

    #[tokio::test]
    async fn a_paced_send_over_http_is_answered_429_with_retry_after() {
        let f = fake().await;
        f.start_chat(TOKEN, 1);
        // Use up chat 1's slots for the next ten seconds, then ask over HTTP.
        {
            let mut st = f.state.lock().unwrap();
            let now = Instant::now();
            for _ in 0..10 + CHAT_BURST {
                st.pacing.take(&format!("chat:{}:1", 123_456), now, CHAT_PER_SECOND);
            }
        }
        let (s, body) = call(&f, "sendMessage", json!({ "chat_id": 1, "text": "x" })).await;
        assert_eq!(s, 429, "{body}");
        let after = body["parameters"]["retry_after"].as_u64().expect("retry_after");
        assert!((1..=11).contains(&after), "{body}");
        assert_eq!(body["description"], format!("Too Many Requests: retry after {after}"));
        assert_eq!(f.sent_to(TOKEN, 1), Vec::<String>::new());
    }

    #[tokio::test]
    async fn scripted_failures_speak_like_telegram() {
        let f = fake().await;
        f.start_chat(TOKEN, 5);
        f.rate_limits(false);
        f.fail(Failure::status("sendMessage", 403, 1));
        f.fail(Failure::status("sendMessage", 500, 1));
        f.fail(Failure::status("sendMessage", 502, 1));
        f.fail(Failure::retry_after("sendMessage", 3, 1));
        let send = || call(&f, "sendMessage", json!({ "chat_id": 5, "text": "x" }));
        assert_eq!(send().await, (403, refused(403, "Forbidden: bot was blocked by the user")));
        assert_eq!(send().await, (500, refused(500, "Internal Server Error")));
        assert_eq!(send().await, (502, refused(502, "Bad Gateway")));
        let (s, body) = send().await;
        assert_eq!((s, body["parameters"]["retry_after"].as_u64(), body["description"].as_str()), (429, Some(3), Some("Too Many Requests: retry after 3")));
        assert_eq!(send().await.0, 200);
        let calls = f.calls(Some("sendMessage"));
        assert_eq!(calls.len(), 5);
        assert!(calls.windows(2).all(|w| w[0].at <= w[1].at), "calls carry their arrival time");
    }

    #[tokio::test]
    async fn stubs_answer_plausibly() {
        let f = fake().await;
        assert_eq!(call(&f, "answerCallbackQuery", json!({ "callback_query_id": "42" })).await.1["result"], true);
        assert_eq!(call(&f, "answerCallbackQuery", json!({})).await.0, 400);
        assert_eq!(call(&f, "getFile", json!({ "file_id": "BQAC" })).await, (400, refused(400, "Bad Request: invalid file_id")));
        assert_eq!(call(&f, "getFile", json!({})).await, (400, refused(400, "Bad Request: invalid file_id")));
        // Malformed reply_markup in a form is refused.
        f.start_chat(TOKEN, 9);
        let form = reqwest::multipart::Form::new().text("chat_id", "9").text("text", "hi").text("reply_markup", "{not json");
        let res = reqwest::Client::new().post(format!("{}/bot{TOKEN}/sendMessage", f.url)).multipart(form).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let form = reqwest::multipart::Form::new().text("chat_id", "9").text("text", "hi").text("reply_markup", r#"{"inline_keyboard":[]}"#);
        let res = reqwest::Client::new().post(format!("{}/bot{TOKEN}/sendMessage", f.url)).multipart(form).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR fake image";

    #[tokio::test]
    async fn files_are_uploaded_resent_by_id_and_downloaded_like_telegram() {
        let f = fake().await;
        f.start_chat(TOKEN, 7);
        let http = reqwest::Client::new();
        let upload = |method: &'static str, field: &'static str, name: &'static str, bytes: Vec<u8>| {
            let form = reqwest::multipart::Form::new().text("chat_id", "7").part(field, reqwest::multipart::Part::bytes(bytes).file_name(name));
            http.post(format!("{}/bot{TOKEN}/{method}", f.url)).multipart(form).send()
        };
        // A photo must be an image.
        let res = upload("sendPhoto", "photo", "notes.txt", b"just text".to_vec()).await.unwrap();
        assert_eq!((res.status().as_u16(), res.json::<Value>().await.unwrap()), (400, refused(400, "Bad Request: IMAGE_PROCESS_FAILED")));
        let res: Value = upload("sendPhoto", "photo", "cat.png", PNG.to_vec()).await.unwrap().json().await.unwrap();
        let sizes = res["result"]["photo"].as_array().unwrap();
        let id = sizes.last().unwrap()["file_id"].as_str().unwrap().to_owned();
        assert_eq!(f.file(&id).unwrap(), PNG, "the largest size is the uploaded file");
        // Sent again by its id, without the bytes.
        assert_eq!(call(&f, "sendPhoto", json!({ "chat_id": 7, "photo": id })).await.0, 200);
        assert_eq!(call(&f, "sendPhoto", json!({ "chat_id": 7, "photo": "AgACnope" })).await, (400, refused(400, "Bad Request: wrong file identifier/HTTP URL specified")));
        // Any file as a document; getFile then the download URL.
        let res: Value = upload("sendDocument", "document", "report.pdf", b"%PDF-1.7 body".to_vec()).await.unwrap().json().await.unwrap();
        let doc = res["result"]["document"]["file_id"].as_str().unwrap().to_owned();
        assert_eq!(res["result"]["document"]["file_name"], "report.pdf");
        let (s, file) = call(&f, "getFile", json!({ "file_id": doc })).await;
        assert_eq!(s, 200);
        let path = file["result"]["file_path"].as_str().unwrap();
        assert!(path.starts_with("documents/") && path.ends_with(".pdf"), "{path}");
        let got = http.get(format!("{}/file/bot{TOKEN}/{path}", f.url)).send().await.unwrap();
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"%PDF-1.7 body");
        assert_eq!(http.get(format!("{}/file/bot{TOKEN}/documents/nope.pdf", f.url)).send().await.unwrap().status(), 404);
        // File ids belong to one bot.
        f.add_bot("999:other", "other_bot");
        let (s, _) = call_as(&f, "999:other", "getFile", json!({ "file_id": doc })).await;
        assert_eq!(s, 400);
        // A file a user sent the bot is there for getFile.
        let (sent, _) = f.add_file(TOKEN, "screen.jpg", b"\xff\xd8\xff\xe0 jpeg", true);
        assert_eq!(call(&f, "getFile", json!({ "file_id": sent })).await.0, 200);
    }

    #[tokio::test]
    async fn inline_buttons_and_the_menu_button_are_checked_like_telegram() {
        let f = fake().await;
        f.start_chat(TOKEN, 9);
        let send = |markup: Value| call(&f, "sendMessage", json!({ "chat_id": 9, "text": "hi", "reply_markup": markup }));
        let http_app = json!({ "inline_keyboard": [[{ "text": "Open", "web_app": { "url": "http://desk.example.com/app/" } }]] });
        assert_eq!(
            send(http_app).await,
            (400, refused(400, "Bad Request: inline keyboard button Web App URL 'http://desk.example.com/app/' is invalid: Only HTTPS links are allowed"))
        );
        let text_only = json!({ "inline_keyboard": [[{ "text": "Open" }]] });
        assert_eq!(send(text_only).await.0, 400);
        let long_data = json!({ "inline_keyboard": [[{ "text": "x", "callback_data": "d".repeat(65) }]] });
        assert_eq!(send(long_data).await, (400, refused(400, "Bad Request: BUTTON_DATA_INVALID")));
        let fine = json!({ "inline_keyboard": [[{ "text": "Open", "web_app": { "url": "https://desk.example.com/app/" } }], [{ "text": "y", "callback_data": "tt:1" }]] });
        assert_eq!(send(fine).await.0, 200);

        let menu = |url: &str| json!({ "menu_button": { "type": "web_app", "text": "Support", "web_app": { "url": url } } });
        assert_eq!(call(&f, "setChatMenuButton", menu("http://desk.example.com/app/")).await.0, 400);
        assert_eq!(f.menu_button(TOKEN), None);
        assert_eq!(call(&f, "setChatMenuButton", menu("https://desk.example.com/app/")).await.0, 200);
        assert_eq!(f.menu_button(TOKEN).unwrap()["web_app"]["url"], "https://desk.example.com/app/");
        let (s, got) = call(&f, "getChatMenuButton", json!({})).await;
        assert_eq!((s, &got["result"]["type"]), (200, &json!("web_app")));
    }
}
