//! Telegram update fixtures (real update JSON in `tests/fixtures/`), with
//! the fields a test varies swapped in.

use serde_json::Value;

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
