//! The chat simulator's side of a conversation: what a customer "types" is
//! made into the update Telegram would send and delivered by the stand-in
//! to the desk's webhook, with the desk's secret (nothing is short-cut);
//! what the bot sent is read back from the stand-in's record of Bot API
//! calls, as the customer's Telegram client would show it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Demo, Desk, Person, with_launch_params};

/// What the customers sent, per desk, for the feed (the stand-in records
/// only what bots send).
#[derive(Default)]
pub struct Chats {
    sent: Mutex<HashMap<&'static str, Vec<(Instant, String)>>>,
    next_update: AtomicI64,
}

/// One bubble of the simulated chat.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// `me` (the customer) or `bot`.
    pub from: &'static str,
    pub text: String,
    /// Rows of inline buttons.
    pub buttons: Vec<Vec<Button>>,
    pub message_id: Option<i64>,
    pub edited: bool,
}

#[derive(Debug, Serialize)]
pub struct Button {
    pub text: String,
    /// `callback`, `web_app` or `url`.
    pub kind: &'static str,
    /// The callback data, or the address to open (a Mini App's with its
    /// launch parameters).
    pub value: String,
}

/// The feed of a desk's simulated chat.
#[derive(Debug, Serialize)]
pub struct Feed {
    pub entries: Vec<Entry>,
    /// The bot's menu button (a Mini App), if it set one.
    pub menu: Option<Button>,
}

fn markup(params: &Value) -> Option<Value> {
    match params.get("reply_markup")? {
        Value::String(s) => serde_json::from_str(s).ok(),
        v => Some(v.clone()),
    }
}

fn buttons(params: &Value, d: &Desk) -> Vec<Vec<Button>> {
    let Some(m) = markup(params) else { return Vec::new() };
    let rows = m.get("inline_keyboard").and_then(Value::as_array).cloned().unwrap_or_default();
    rows.iter()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| {
                    let text = b.get("text")?.as_str()?.to_owned();
                    if let Some(data) = b.get("callback_data").and_then(Value::as_str) {
                        Some(Button { text, kind: "callback", value: data.to_owned() })
                    } else if let Some(url) = b.pointer("/web_app/url").and_then(Value::as_str) {
                        Some(Button { text, kind: "web_app", value: with_launch_params(url, d, d.customer) })
                    } else {
                        b.get("url").and_then(Value::as_str).map(|u| Button { text, kind: "url", value: u.to_owned() })
                    }
                })
                .collect()
        })
        .filter(|r: &Vec<Button>| !r.is_empty())
        .collect()
}

impl Chats {
    /// Records what the customer sent, and gives the update its id.
    fn record(&self, d: &'static Desk, text: String) -> i64 {
        self.sent.lock().expect("poisoned").entry(d.slug).or_default().push((Instant::now(), text));
        // Telegram's update ids grow; any start will do for a new webhook.
        100_000 + self.next_update.fetch_add(1, Ordering::Relaxed)
    }
}

impl Demo {
    /// The simulated chat of `d`'s customer with the desk's bot.
    pub fn feed(&self, d: &'static Desk) -> Feed {
        let me = d.customer.id;
        let mut timeline: Vec<(Instant, Entry)> = Vec::new();
        for c in self.fake.calls(None) {
            if c.token != d.bot_token || !c.ok || c.chat_id() != Some(me) {
                continue;
            }
            let text = c.params.get("text").or_else(|| c.params.get("caption")).and_then(Value::as_str).unwrap_or_default().to_owned();
            match c.method.as_str() {
                "sendmessage" | "sendphoto" | "senddocument" => {
                    let text = match (c.method.as_str(), text.is_empty()) {
                        ("sendphoto", true) => "[photo]".to_owned(),
                        ("senddocument", true) => "[document]".to_owned(),
                        _ => text,
                    };
                    let message_id = c.result.as_ref().and_then(|r| r.get("message_id")).and_then(Value::as_i64);
                    timeline.push((c.at, Entry { from: "bot", text, buttons: buttons(&c.params, d), message_id, edited: false }));
                }
                "editmessagetext" | "editmessagereplymarkup" => {
                    let id = c.params.get("message_id").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
                    if let Some((_, e)) = timeline.iter_mut().rev().find(|(_, e)| e.message_id.is_some() && e.message_id == id) {
                        if c.method == "editmessagetext" {
                            e.text = text;
                        }
                        e.buttons = buttons(&c.params, d);
                        e.edited = true;
                    }
                }
                _ => {}
            }
        }
        if let Some(sent) = self.chats.sent.lock().expect("poisoned").get(d.slug) {
            for (at, text) in sent {
                timeline.push((*at, Entry { from: "me", text: text.clone(), buttons: Vec::new(), message_id: None, edited: false }));
            }
        }
        timeline.sort_by_key(|(at, _)| *at);
        let menu = self.fake.menu_button(d.bot_token).and_then(|m| {
            let url = m.pointer("/web_app/url")?.as_str()?;
            Some(Button { text: m.get("text").and_then(Value::as_str).unwrap_or("App").to_owned(), kind: "web_app", value: with_launch_params(url, d, d.customer) })
        });
        Feed { entries: timeline.into_iter().map(|(_, e)| e).collect(), menu }
    }

    /// The customer sends `text`: Telegram's update, delivered to the
    /// desk's webhook. Returns the status the desk answered.
    pub async fn send(&self, d: &'static Desk, text: &str) -> anyhow::Result<u16> {
        let id = self.chats.record(d, text.to_owned());
        self.fake.deliver(d.bot_token, &message_update(id, d.customer, text)).await
    }

    /// The customer presses an inline button under the bot's message.
    pub async fn press(&self, d: &'static Desk, data: &str, message_id: i64, label: &str) -> anyhow::Result<u16> {
        let id = self.chats.record(d, format!("[{label}]"));
        self.fake.deliver(d.bot_token, &press_update(id, d, data, message_id)).await
    }
}

fn user(p: Person) -> Value {
    json!({ "id": p.id, "is_bot": false, "first_name": p.first_name, "language_code": p.language })
}

/// A private text message, as Telegram sends it
/// (<https://core.telegram.org/bots/api#message>).
fn message_update(update_id: i64, p: Person, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": chrono::Utc::now().timestamp(),
            "from": user(p),
            "chat": { "id": p.id, "type": "private", "first_name": p.first_name },
            "text": text
        }
    })
}

/// A button press (<https://core.telegram.org/bots/api#callbackquery>).
fn press_update(update_id: i64, d: &Desk, data: &str, message_id: i64) -> Value {
    let p = d.customer;
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("{}{update_id}", p.id),
            "from": user(p),
            "message": {
                "message_id": message_id,
                "date": chrono::Utc::now().timestamp(),
                "chat": { "id": p.id, "type": "private", "first_name": p.first_name },
                "from": { "id": d.bot_token.split(':').next().and_then(|s| s.parse::<i64>().ok()).unwrap_or_default(), "is_bot": true, "first_name": d.name, "username": d.bot_username }
            },
            "chat_instance": format!("-{}", p.id),
            "data": data
        }
    })
}
