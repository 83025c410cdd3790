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

/// A customer's message carrying `content` instead of text: the Bot API's
/// fields for its kind (`{"voice": {…}}`, `{"location": {…}}`, …).
pub fn with_content(update_id: i64, user_id: i64, content: Value) -> Value {
    let mut v = message(update_id, user_id, "");
    let m = v["message"].as_object_mut().expect("a message");
    m.remove("text");
    m.extend(content.as_object().expect("the content's fields").clone());
    v
}

/// The shapes of the Bot API's documentation for each kind of message a
/// customer sends (<https://core.telegram.org/bots/api#message>), with a
/// stand-in's `file_id` where the kind has a file.
pub mod kinds {
    use serde_json::{Value, json};

    pub fn voice(file_id: &str, unique_id: &str, size: usize, duration: u32) -> Value {
        json!({ "voice": { "file_id": file_id, "file_unique_id": unique_id, "duration": duration, "mime_type": "audio/ogg", "file_size": size } })
    }

    pub fn audio(file_id: &str, unique_id: &str, size: usize, caption: &str) -> Value {
        json!({ "audio": { "file_id": file_id, "file_unique_id": unique_id, "duration": 185, "performer": "Kino", "title": "Gruppa krovi",
                           "file_name": "gruppa_krovi.mp3", "mime_type": "audio/mpeg", "file_size": size }, "caption": caption })
    }

    pub fn video(file_id: &str, unique_id: &str, size: usize) -> Value {
        json!({ "video": { "file_id": file_id, "file_unique_id": unique_id, "width": 1280, "height": 720, "duration": 12,
                           "file_name": "unboxing.mp4", "mime_type": "video/mp4", "file_size": size,
                           "thumbnail": { "file_id": format!("{file_id}_t"), "file_unique_id": format!("{unique_id}_t"), "width": 320, "height": 180, "file_size": 2000 } } })
    }

    pub fn video_note(file_id: &str, unique_id: &str, size: usize) -> Value {
        json!({ "video_note": { "file_id": file_id, "file_unique_id": unique_id, "length": 240, "duration": 6, "file_size": size } })
    }

    /// Telegram repeats an animation as a `document`.
    pub fn animation(file_id: &str, unique_id: &str, size: usize) -> Value {
        let file = json!({ "file_id": file_id, "file_unique_id": unique_id, "file_name": "shrug.mp4", "mime_type": "video/mp4", "file_size": size });
        let mut animation = file.clone();
        animation.as_object_mut().unwrap().extend(json!({ "width": 320, "height": 240, "duration": 3 }).as_object().unwrap().clone());
        json!({ "animation": animation, "document": file })
    }

    pub fn sticker(file_id: &str, unique_id: &str, size: usize, emoji: &str) -> Value {
        json!({ "sticker": { "file_id": file_id, "file_unique_id": unique_id, "type": "regular", "width": 512, "height": 512,
                             "is_animated": false, "is_video": false, "emoji": emoji, "set_name": "HelpfulCats", "file_size": size } })
    }

    pub fn location(latitude: f64, longitude: f64) -> Value {
        json!({ "location": { "latitude": latitude, "longitude": longitude, "horizontal_accuracy": 12.5 } })
    }

    /// Telegram repeats a venue's place as a `location`.
    pub fn venue(latitude: f64, longitude: f64, title: &str, address: &str) -> Value {
        json!({ "venue": { "location": { "latitude": latitude, "longitude": longitude }, "title": title, "address": address },
                "location": { "latitude": latitude, "longitude": longitude } })
    }

    pub fn contact(phone: &str, first_name: &str, last_name: &str, user_id: i64) -> Value {
        json!({ "contact": { "phone_number": phone, "first_name": first_name, "last_name": last_name, "user_id": user_id } })
    }

    pub fn poll(question: &str) -> Value {
        json!({ "poll": { "id": "5435", "question": question, "options": [{ "text": "Yes", "voter_count": 0 }, { "text": "No", "voter_count": 0 }],
                          "total_voter_count": 0, "is_closed": false, "is_anonymous": true, "type": "regular", "allows_multiple_answers": false } })
    }
}

/// A button press as Telegram delivers it
/// (<https://core.telegram.org/bots/api#callbackquery>).
pub fn button_press(update_id: i64, user: i64, data: &str, under_text: &str) -> Value {
    button_press_on(update_id, user, data, under_text, 77)
}

/// A button press under the bot's message `message_id` (as the stand-in
/// numbered it when it was sent).
pub fn button_press_on(update_id: i64, user: i64, data: &str, under_text: &str, message_id: i64) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("{}{update_id}", 4_382_000_000_000_i64),
            "from": { "id": user, "is_bot": false, "first_name": "Ann", "language_code": "en" },
            "message": {
                "message_id": message_id,
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
