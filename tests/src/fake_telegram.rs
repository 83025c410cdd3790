//! A stand-in for the Telegram Bot API: a real HTTP server speaking the
//! documented protocol (<https://core.telegram.org/bots/api#making-requests>)
//! for the methods the platform calls. It knows only the bots it is told
//! about (401 for any other token), records every call, can be told to fail
//! the next calls with 429 or 500, and can play Telegram's part in webhook
//! delivery. Used by the tests, the benchmark and the `fake-telegram` demo
//! binary; never by the product.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json, Multipart, Path, Query};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, handler, post};
use serde::Deserialize;
use serde_json::{Value, json};

/// One recorded Bot API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub token: String,
    /// Lowercase method name (`sendmessage`): teloxide sends PascalCase.
    pub method: String,
    pub params: Value,
    /// Whether the stand-in answered with success.
    pub ok: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub allowed_updates: Option<Value>,
}

#[derive(Debug, Clone)]
struct Bot {
    id: i64,
    username: String,
    webhook: Option<Webhook>,
}

/// A scripted failure of the next call(s) to a method.
#[derive(Debug, Clone, Deserialize)]
pub struct Failure {
    /// Lowercase method name, or `*` for any.
    pub method: String,
    /// 429 or 500 (or any other error status).
    pub status: u16,
    #[serde(default)]
    pub retry_after: Option<u32>,
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Default)]
struct State {
    bots: HashMap<String, Bot>,
    calls: Vec<Call>,
    failures: VecDeque<Failure>,
    next_message_id: i64,
}

/// A running stand-in. Cheap to clone.
#[derive(Clone)]
pub struct FakeTelegram {
    pub url: String,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
}

fn ok(result: Value) -> Response {
    Json(json!({ "ok": true, "result": result })).into_response()
}

fn err(status: StatusCode, description: &str, extra: Option<Value>) -> Response {
    let mut body = json!({ "ok": false, "error_code": status.as_u16(), "description": description });
    if let Some(p) = extra {
        body["parameters"] = p;
    }
    (status, Json(body)).into_response()
}

async fn read_params(req: &Request, body: poem::Body) -> Value {
    let ct = req.content_type().unwrap_or_default().to_owned();
    let mut map = serde_json::Map::new();
    if let Some(q) = req.uri().query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    if ct.starts_with("application/json") {
        if let Ok(bytes) = body.into_bytes().await {
            if let Ok(Value::Object(o)) = serde_json::from_slice(&bytes) {
                map.extend(o);
            }
        }
    } else if ct.starts_with("multipart/form-data") {
        let (req2, mut b2) = (req, body);
        if let Ok(mut mp) = <Multipart as poem::FromRequest>::from_request(req2, &mut poem::RequestBody::new(std::mem::take(&mut b2))).await {
            while let Ok(Some(field)) = mp.next_field().await {
                let name = field.name().unwrap_or_default().to_owned();
                if let Ok(text) = field.text().await {
                    // Structured fields (allowed_updates, reply_markup) arrive as JSON text.
                    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    map.insert(name, v);
                }
            }
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        if let Ok(bytes) = body.into_bytes().await {
            for (k, v) in url::form_urlencoded::parse(&bytes) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    Value::Object(map)
}

#[handler]
async fn bot_api(Path((botseg, method)): Path<(String, String)>, req: &Request, body: poem::Body, Data(fake): Data<&FakeTelegram>) -> Response {
    let Some(token) = botseg.strip_prefix("bot") else { return err(StatusCode::NOT_FOUND, "Not Found", None) };
    let method = method.to_ascii_lowercase();
    let params = read_params(req, body).await;
    let mut st = fake.state.lock().unwrap();
    let known = st.bots.contains_key(token);
    let failing = known && st.failures.iter().any(|f| f.method == "*" || f.method == method);
    st.calls.push(Call { token: token.to_owned(), method: method.clone(), params: params.clone(), ok: known && !failing });
    let Some(bot) = st.bots.get(token).cloned() else { return err(StatusCode::UNAUTHORIZED, "Unauthorized", None) };
    if let Some(pos) = st.failures.iter().position(|f| f.method == "*" || f.method == method) {
        let f = st.failures[pos].clone();
        if f.times <= 1 {
            st.failures.remove(pos);
        } else {
            st.failures[pos].times -= 1;
        }
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return if status == StatusCode::TOO_MANY_REQUESTS {
            let after = f.retry_after.unwrap_or(1);
            err(status, &format!("Too Many Requests: retry after {after}"), Some(json!({ "retry_after": after })))
        } else {
            err(status, status.canonical_reason().unwrap_or("Internal Server Error"), None)
        };
    }
    let bot_user = json!({ "id": bot.id, "is_bot": true, "first_name": bot.username, "username": bot.username });
    match method.as_str() {
        "getme" => {
            let mut me = bot_user;
            me["can_join_groups"] = json!(true);
            me["can_read_all_group_messages"] = json!(false);
            me["supports_inline_queries"] = json!(false);
            me["has_main_web_app"] = json!(false);
            ok(me)
        }
        "setwebhook" => {
            let Some(url) = params.get("url").and_then(Value::as_str) else {
                return err(StatusCode::BAD_REQUEST, "Bad Request: bad webhook: URL must be provided", None);
            };
            let wh = Webhook {
                url: url.to_owned(),
                secret_token: params.get("secret_token").and_then(Value::as_str).map(str::to_owned),
                allowed_updates: params.get("allowed_updates").cloned(),
            };
            st.bots.get_mut(token).unwrap().webhook = Some(wh);
            ok(json!(true))
        }
        "deletewebhook" => {
            st.bots.get_mut(token).unwrap().webhook = None;
            ok(json!(true))
        }
        "getwebhookinfo" => {
            let url = bot.webhook.map(|w| w.url).unwrap_or_default();
            ok(json!({ "url": url, "has_custom_certificate": false, "pending_update_count": 0 }))
        }
        "sendmessage" => {
            let chat_id = match params.get("chat_id") {
                Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
                Some(Value::String(s)) => s.parse().unwrap_or(0),
                _ => 0,
            };
            let Some(text) = params.get("text").and_then(Value::as_str) else {
                return err(StatusCode::BAD_REQUEST, "Bad Request: message text is empty", None);
            };
            if chat_id == 0 {
                return err(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            }
            st.next_message_id += 1;
            ok(json!({
                "message_id": st.next_message_id,
                "date": chrono::Utc::now().timestamp(),
                "chat": { "id": chat_id, "type": "private", "first_name": "Customer" },
                "from": bot_user,
                "text": text,
            }))
        }
        "answercallbackquery" | "sendchataction" | "setmycommands" | "deletemessage" => ok(json!(true)),
        _ => err(StatusCode::NOT_FOUND, "Not Found: method not found", None),
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
        .map(|c| json!({ "token": c.token, "method": c.method, "params": c.params, "ok": c.ok }))
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
    /// Starts on a free loopback port.
    pub async fn start() -> anyhow::Result<FakeTelegram> {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> anyhow::Result<FakeTelegram> {
        let acceptor = TcpListener::bind(addr.to_owned()).into_acceptor().await?;
        let port = acceptor.local_addr()[0].as_socket_addr().map(|a| a.port()).unwrap_or(0);
        let fake = FakeTelegram {
            url: format!("http://127.0.0.1:{port}"),
            state: Arc::new(Mutex::new(State { next_message_id: 1000, ..Default::default() })),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        };
        let app = Route::new()
            .at("/_fake/bots", post(control_add_bot))
            .at("/_fake/calls", control_calls)
            .at("/_fake/failures", post(control_fail))
            .at("/_fake/deliver", post(control_deliver))
            .at("/:botseg/:method", bot_api)
            .data(fake.clone());
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Ok(fake)
    }

    /// Makes a token valid; the bot's id is the token's numeric prefix.
    pub fn add_bot(&self, token: &str, username: &str) {
        let id = token.split(':').next().and_then(|s| s.parse().ok()).unwrap_or(1);
        self.state.lock().unwrap().bots.insert(token.to_owned(), Bot { id, username: username.to_owned(), webhook: None });
    }

    /// Recorded calls, optionally of one method (any case).
    pub fn calls(&self, method: Option<&str>) -> Vec<Call> {
        let m = method.map(str::to_ascii_lowercase);
        self.state.lock().unwrap().calls.iter().filter(|c| m.as_ref().is_none_or(|m| &c.method == m)).cloned().collect()
    }

    /// Texts a bot delivered to a chat, in order (failed attempts excluded).
    pub fn sent_to(&self, token: &str, chat_id: i64) -> Vec<String> {
        self.calls(Some("sendMessage"))
            .into_iter()
            .filter(|c| c.token == token && c.ok)
            .filter(|c| match c.params.get("chat_id") {
                Some(Value::Number(n)) => n.as_i64() == Some(chat_id),
                Some(Value::String(s)) => s.parse::<i64>().ok() == Some(chat_id),
                _ => false,
            })
            .filter_map(|c| c.params.get("text").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    pub fn fail(&self, f: Failure) {
        let mut f = f;
        f.method = f.method.to_ascii_lowercase();
        self.state.lock().unwrap().failures.push_back(f);
    }

    pub fn webhook(&self, token: &str) -> Option<Webhook> {
        self.state.lock().unwrap().bots.get(token).and_then(|b| b.webhook.clone())
    }

    /// Plays Telegram: posts an update to the bot's webhook with its secret.
    pub async fn deliver(&self, token: &str, update: &Value) -> anyhow::Result<u16> {
        let wh = self.webhook(token).ok_or_else(|| anyhow::anyhow!("bot has no webhook"))?;
        let mut req = self.http.post(&wh.url).json(update);
        if let Some(s) = &wh.secret_token {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        Ok(req.send().await?.status().as_u16())
    }
}
