//! Telegram update fixtures (real update JSON in `tests/fixtures/`), with
//! the fields a test varies swapped in.

use serde_json::{Value, json};

fn load(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A customer's private message with `text`.
pub fn message(update_id: i64, user_id: i64, text: &str) -> Value {
    let mut v = load("message_text");
    v["update_id"] = update_id.into();
    v["message"]["from"]["id"] = user_id.into();
    v["message"]["chat"]["id"] = user_id.into();
    v["message"]["message_id"] = (update_id % 1_000_000).into();
    v["message"]["text"] = text.into();
    v
}

/// A message from `user_id` in a forum topic (`thread`) of the supergroup
/// `chat`, as Telegram sends one: `message_thread_id` and
/// `is_topic_message`, the chat a supergroup with `is_forum`.
pub fn topic_message(update_id: i64, chat: i64, thread: i64, user_id: i64, text: &str) -> Value {
    let mut v = message(update_id, user_id, text);
    v["message"]["chat"] = json!({ "id": chat, "type": "supergroup", "title": "Acme staff", "is_forum": true });
    v["message"]["message_thread_id"] = thread.into();
    v["message"]["is_topic_message"] = true.into();
    v
}

/// A message in the General topic of a forum supergroup (no thread), such
/// as a command to the bot.
pub fn group_message(update_id: i64, chat: i64, user_id: i64, text: &str, forum: bool) -> Value {
    let mut v = message(update_id, user_id, text);
    v["message"]["chat"] = if forum {
        json!({ "id": chat, "type": "supergroup", "title": "Acme staff", "is_forum": true })
    } else {
        json!({ "id": chat, "type": "supergroup", "title": "Acme chat" })
    };
    v
}

/// `/start` from a customer.
pub fn start(update_id: i64, user_id: i64) -> Value {
    let mut v = load("message_start");
    v["update_id"] = update_id.into();
    v["message"]["from"]["id"] = user_id.into();
    v["message"]["chat"]["id"] = user_id.into();
    v
}

/// Any other fixture, with its update_id replaced.
pub fn named(name: &str, update_id: i64) -> Value {
    let mut v = load(name);
    v["update_id"] = update_id.into();
    v
}

/// A customer's photo (a file the stand-in holds: see
/// `FakeTelegram::add_file`), with an optional caption, as Telegram sends
/// it: the sizes it made, smallest first, and no `text`.
pub fn photo(update_id: i64, user_id: i64, file_id: &str, unique_id: &str, size: usize, caption: Option<&str>) -> Value {
    let mut v = message(update_id, user_id, "");
    let m = v["message"].as_object_mut().expect("a message");
    m.remove("text");
    m.insert(
        "photo".into(),
        serde_json::json!([
            { "file_id": format!("{file_id}_thumb"), "file_unique_id": format!("{unique_id}_t"), "file_size": 900, "width": 90, "height": 68 },
            { "file_id": file_id, "file_unique_id": unique_id, "file_size": size, "width": 640, "height": 480 }
        ]),
    );
    if let Some(c) = caption {
        m.insert("caption".into(), c.into());
    }
    v
}

/// A customer's file sent as a document, with the type their app declared.
pub fn document(update_id: i64, user_id: i64, file_id: &str, unique_id: &str, name: &str, mime: &str, size: usize) -> Value {
    let mut v = message(update_id, user_id, "");
    let m = v["message"].as_object_mut().expect("a message");
    m.remove("text");
    m.insert(
        "document".into(),
        serde_json::json!({ "file_id": file_id, "file_unique_id": unique_id, "file_name": name, "mime_type": mime, "file_size": size }),
    );
    v
}

/// A button press as Telegram delivers it
/// (<https://core.telegram.org/bots/api#callbackquery>).
pub fn button_press(update_id: i64, user: i64, data: &str, under_text: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("{}{update_id}", 4_382_000_000_000_i64),
            "from": { "id": user, "is_bot": false, "first_name": "Ann", "language_code": "en" },
            "message": {
                "message_id": 77,
                "date": 1_700_000_000,
                "chat": { "id": user, "type": "private", "first_name": "Ann" },
                "from": { "id": 700_001, "is_bot": true, "first_name": "acme_bot", "username": "acme_bot" },
                "text": under_text
            },
            "chat_instance": "-5712345678901234567",
            "data": data
        }
    })
}
