//! What a customer sends the bot, read from Telegram's message
//! (<https://core.telegram.org/bots/api#message>): its kind (text, a photo,
//! a voice note, a sticker, a location…), its text or caption, its file
//! kept by Telegram's `file_id` until someone opens it, and what else the
//! kind carries. Every kind becomes a message of that kind; one the desk
//! cannot show (a poll, a dice, a kind Telegram adds later) is kept as
//! `unsupported`, named, never dropped.

use chrono::Utc;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use teloxide::types::{FileMeta, MediaKind, Message, MessageKind};

use crate::error::RuntimeError;
use crate::storage::entities::attachments;

/// A message of text only (staff messages are all `text`).
pub const TEXT: &str = "text";
pub const LOCATION: &str = "location";
pub const VENUE: &str = "venue";
pub const CONTACT: &str = "contact";
/// A kind the desk does not show; [`Details::Unsupported`] names it.
pub const UNSUPPORTED: &str = "unsupported";

/// What a message's kind carries besides its text and files, stored as
/// JSON on the message (`messages.details`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Details {
    Location { latitude: f64, longitude: f64 },
    Venue { latitude: f64, longitude: f64, title: String, address: String },
    Contact { phone_number: String, first_name: String, last_name: Option<String>, user_id: Option<u64> },
    /// A sticker's emoji.
    Sticker { emoji: Option<String> },
    /// How long a voice note, audio file or video plays, in seconds.
    Media { duration: u32 },
    /// The Bot API's name for what was sent (`poll`, `dice`, …).
    Unsupported { telegram_type: String },
}

impl Details {
    /// Reads stored details; damaged ones read as none.
    pub fn parse(stored: Option<&str>) -> Option<Details> {
        stored.and_then(|s| serde_json::from_str(s).ok())
    }

    /// A map of a location or venue (OpenStreetMap, which needs no key).
    pub fn map_url(&self) -> Option<String> {
        match self {
            Details::Location { latitude, longitude } | Details::Venue { latitude, longitude, .. } => {
                Some(format!("https://www.openstreetmap.org/?mlat={latitude:.6}&mlon={longitude:.6}#map=17/{latitude:.6}/{longitude:.6}"))
            }
            _ => None,
        }
    }
}

/// One customer message, read.
pub(crate) struct Incoming {
    /// [`TEXT`], an attachment kind (`photo`, `voice`, …), [`LOCATION`],
    /// [`VENUE`], [`CONTACT`] or [`UNSUPPORTED`].
    pub(crate) kind: &'static str,
    /// The text or caption as sent; for a location, venue, contact or
    /// unsupported kind, a line that says what it is (searchable, and what
    /// a forum topic and notifications show).
    pub(crate) text: String,
    pub(crate) file: Option<IncomingFile>,
    pub(crate) details: Option<Details>,
    /// The bot's message this one replies to (its `message_id` in the
    /// chat), if it is a reply to the bot.
    pub(crate) reply_to: Option<i64>,
    /// Its own `message_id` in the chat.
    pub(crate) message_id: Option<i64>,
}

/// The Bot API's message fields that carry content, in the order its
/// documentation lists them; the first one present names an unsupported
/// kind.
const CONTENT_FIELDS: &[&str] = &[
    "text", "animation", "audio", "document", "paid_media", "photo", "sticker", "story", "video", "video_note", "voice", "checklist", "contact",
    "dice", "game", "poll", "venue", "location", "invoice", "giveaway", "giveaway_winners",
];

impl Incoming {
    /// Reads a message; `None` for service messages (a pinned message, a
    /// payment, the bot allowed to write…), which are not the customer
    /// speaking, and for a message of a kind teloxide does not know (it
    /// reads as `MessageKind::Empty`: see [`Incoming::unreadable`]).
    pub(crate) fn of(msg: &Message) -> Option<Incoming> {
        let caption = msg.caption().unwrap_or_default().to_owned();
        let reply_to = msg.reply_to_message().filter(|r| r.from.as_ref().is_some_and(|u| u.is_bot)).map(|r| i64::from(r.id.0));
        let mut incoming = Incoming::read(msg, caption)?;
        incoming.reply_to = reply_to;
        incoming.message_id = Some(i64::from(msg.id.0));
        Some(incoming)
    }

    fn read(msg: &Message, caption: String) -> Option<Incoming> {
        let media = match &msg.kind {
            MessageKind::Common(c) => &c.media_kind,
            MessageKind::Dice(_) => return Some(Incoming::unsupported("dice")),
            MessageKind::Invoice(_) => return Some(Incoming::unsupported("invoice")),
            MessageKind::Giveaway(_) => return Some(Incoming::unsupported("giveaway")),
            MessageKind::GiveawayWinners(_) => return Some(Incoming::unsupported("giveaway_winners")),
            _ => return None,
        };
        let file = |kind: &'static str, meta: &FileMeta, name: String, content_type: String| IncomingFile {
            file_id: meta.id.0.clone(),
            unique_id: meta.unique_id.0.clone(),
            size: meta.size,
            name,
            content_type,
            kind,
        };
        // The declared type, without parameters.
        macro_rules! mime {
            ($m:expr, $default:literal) => {
                $m.as_ref().map(|m| m.essence_str().to_owned()).unwrap_or_else(|| $default.to_owned())
            };
        }
        let named = |unique: &str, ext: &str, prefix: &str| format!("{prefix}_{}.{ext}", crate::storage::files::clean_name(unique));
        let with_file = |kind: &'static str, f: IncomingFile, details: Option<Details>| Incoming { kind, text: caption.clone(), file: Some(f), details, reply_to: None, message_id: None };
        Some(match media {
            MediaKind::Text(t) => Incoming { kind: TEXT, text: t.text.clone(), file: None, details: None, reply_to: None, message_id: None },
            MediaKind::Photo(p) => {
                // Telegram lists a photo's sizes from the smallest up.
                let Some(largest) = p.photo.iter().max_by_key(|p| (p.width as u64) * (p.height as u64)) else {
                    return Some(Incoming::unsupported("photo"));
                };
                let f = file(attachments::PHOTO, &largest.file, named(&largest.file.unique_id.0, "jpg", "photo"), "image/jpeg".into());
                with_file(attachments::PHOTO, f, None)
            }
            MediaKind::Document(d) => {
                let name = crate::storage::files::clean_name(d.document.file_name.as_deref().unwrap_or("document"));
                // What the sender's app declared; the bytes are judged when
                // the file is first opened.
                let f = file(attachments::DOCUMENT, &d.document.file, name, mime!(d.document.mime_type, "application/octet-stream"));
                with_file(attachments::DOCUMENT, f, None)
            }
            MediaKind::Voice(v) => {
                let f = file(attachments::VOICE, &v.voice.file, named(&v.voice.file.unique_id.0, "ogg", "voice"), mime!(v.voice.mime_type, "audio/ogg"));
                with_file(attachments::VOICE, f, Some(Details::Media { duration: v.voice.duration.seconds() }))
            }
            MediaKind::Audio(a) => {
                let a = &a.audio;
                let name = match (&a.file_name, &a.performer, &a.title) {
                    (Some(n), _, _) => crate::storage::files::clean_name(n),
                    (None, Some(p), Some(t)) => crate::storage::files::clean_name(&format!("{p} – {t}.mp3")),
                    _ => named(&a.file.unique_id.0, "mp3", "audio"),
                };
                let f = file(attachments::AUDIO, &a.file, name, mime!(a.mime_type, "audio/mpeg"));
                with_file(attachments::AUDIO, f, Some(Details::Media { duration: a.duration.seconds() }))
            }
            MediaKind::Video(v) => {
                let v = &v.video;
                let name = v.file_name.as_deref().map(crate::storage::files::clean_name).unwrap_or_else(|| named(&v.file.unique_id.0, "mp4", "video"));
                let f = file(attachments::VIDEO, &v.file, name, mime!(v.mime_type, "video/mp4"));
                with_file(attachments::VIDEO, f, Some(Details::Media { duration: v.duration.seconds() }))
            }
            MediaKind::VideoNote(v) => {
                let v = &v.video_note;
                let f = file(attachments::VIDEO_NOTE, &v.file, named(&v.file.unique_id.0, "mp4", "video_note"), "video/mp4".into());
                with_file(attachments::VIDEO_NOTE, f, Some(Details::Media { duration: v.duration.seconds() }))
            }
            MediaKind::Animation(a) => {
                let a = &a.animation;
                let name = a.file_name.as_deref().map(crate::storage::files::clean_name).unwrap_or_else(|| named(&a.file.unique_id.0, "mp4", "animation"));
                let f = file(attachments::ANIMATION, &a.file, name, mime!(a.mime_type, "video/mp4"));
                with_file(attachments::ANIMATION, f, None)
            }
            MediaKind::Sticker(s) => {
                let s = &s.sticker;
                // Static stickers are WebP images, video ones WebM, animated
                // ones Telegram's own gzipped Lottie (`.tgs`).
                let (ext, content_type) = if s.is_video() {
                    ("webm", "video/webm")
                } else if s.is_animated() {
                    ("tgs", "application/x-tgsticker")
                } else {
                    ("webp", "image/webp")
                };
                let f = file(attachments::STICKER, &s.file, named(&s.file.unique_id.0, ext, "sticker"), content_type.into());
                with_file(attachments::STICKER, f, Some(Details::Sticker { emoji: s.emoji.clone() }))
            }
            MediaKind::Location(l) => {
                let d = Details::Location { latitude: l.location.latitude, longitude: l.location.longitude };
                Incoming { kind: LOCATION, text: line_of(&d), file: None, details: Some(d), reply_to: None, message_id: None }
            }
            MediaKind::Venue(v) => {
                let v = &v.venue;
                let d = Details::Venue { latitude: v.location.latitude, longitude: v.location.longitude, title: v.title.clone(), address: v.address.clone() };
                Incoming { kind: VENUE, text: line_of(&d), file: None, details: Some(d), reply_to: None, message_id: None }
            }
            MediaKind::Contact(c) => {
                let c = &c.contact;
                let d = Details::Contact { phone_number: c.phone_number.clone(), first_name: c.first_name.clone(), last_name: c.last_name.clone(), user_id: c.user_id.map(|u| u.0) };
                Incoming { kind: CONTACT, text: line_of(&d), file: None, details: Some(d), reply_to: None, message_id: None }
            }
            MediaKind::Game(_) => Incoming::unsupported("game"),
            MediaKind::Poll(_) => Incoming::unsupported("poll"),
            MediaKind::Story(_) => Incoming::unsupported("story"),
            MediaKind::PaidMedia(_) => Incoming::unsupported("paid_media"),
            MediaKind::Checklist(_) => Incoming::unsupported("checklist"),
            MediaKind::Migration(_) => return None,
        })
    }

    /// A message the Bot API client could not read (a kind Telegram added
    /// after it was written), from the raw update's `message`: kept as
    /// unsupported, named by its first content field or its first field we
    /// do not know.
    pub(crate) fn unreadable(message: &serde_json::Value) -> Incoming {
        const ENVELOPE: &[&str] = &[
            "message_id", "message_thread_id", "from", "sender_chat", "sender_boost_count", "sender_business_bot", "date", "business_connection_id",
            "chat", "forward_origin", "is_topic_message", "is_automatic_forward", "reply_to_message", "external_reply", "quote", "reply_to_story",
            "via_bot", "edit_date", "has_protected_content", "is_from_offline", "media_group_id", "author_signature", "entities", "caption",
            "caption_entities", "link_preview_options", "effect_id", "show_caption_above_media", "has_media_spoiler", "reply_markup",
        ];
        let obj = message.as_object();
        let named = obj
            .and_then(|o| CONTENT_FIELDS.iter().find(|f| o.contains_key(**f)).map(|f| (*f).to_owned()))
            .or_else(|| obj.and_then(|o| o.keys().find(|k| !ENVELOPE.contains(&k.as_str())).cloned()))
            .unwrap_or_else(|| "unknown".to_owned());
        let mut i = Incoming::unsupported(&named);
        let reply = message.get("reply_to_message").filter(|r| r["from"]["is_bot"] == true);
        i.reply_to = reply.and_then(|r| r["message_id"].as_i64());
        i.message_id = message["message_id"].as_i64();
        if let Some(c) = message.get("caption").and_then(serde_json::Value::as_str).filter(|c| !c.trim().is_empty()) {
            i.text = format!("{}\n{c}", i.text);
        }
        i
    }

    fn unsupported(telegram_type: &str) -> Incoming {
        let telegram_type: String = telegram_type.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
        let d = Details::Unsupported { telegram_type };
        Incoming { kind: UNSUPPORTED, text: line_of(&d), file: None, details: Some(d), reply_to: None, message_id: None }
    }

    /// A ticket's title when the message has no text of its own.
    pub(crate) fn title(&self) -> String {
        match (&self.file, &self.details) {
            (_, Some(Details::Sticker { emoji })) => format!("{} Sticker", emoji.as_deref().unwrap_or("🖼")),
            (Some(f), _) => match f.kind {
                attachments::PHOTO => "📷 Photo".into(),
                attachments::VOICE => "🎤 Voice message".into(),
                attachments::VIDEO_NOTE => "⏺ Video message".into(),
                attachments::VIDEO => "🎬 Video".into(),
                attachments::ANIMATION => "🎞 GIF".into(),
                attachments::AUDIO => format!("🎵 {}", f.name),
                _ => format!("📎 {}", f.name),
            },
            (None, _) => self.text.clone(),
        }
    }

    /// The stored form of [`Incoming::details`].
    pub(crate) fn details_json(&self) -> Option<String> {
        self.details.as_ref().and_then(|d| serde_json::to_string(d).ok())
    }
}

/// The line a location, venue, contact or unsupported kind is written as.
fn line_of(d: &Details) -> String {
    match d {
        Details::Location { latitude, longitude } => format!("📍 {latitude:.6}, {longitude:.6}"),
        Details::Venue { title, address, .. } => format!("📍 {title}, {address}"),
        Details::Contact { phone_number, first_name, last_name, .. } => {
            format!("👤 {first_name}{}, {phone_number}", last_name.as_deref().map(|l| format!(" {l}")).unwrap_or_default())
        }
        Details::Unsupported { telegram_type } => format!("❓ Unsupported message ({telegram_type})"),
        Details::Sticker { .. } | Details::Media { .. } => String::new(),
    }
}

/// A file a customer sent the bot, kept by Telegram's `file_id` until
/// someone opens it.
pub(crate) struct IncomingFile {
    file_id: String,
    unique_id: String,
    size: u32,
    pub(crate) name: String,
    content_type: String,
    pub(crate) kind: &'static str,
}

impl IncomingFile {
    /// Records the file as the customer's, waiting for their message.
    pub(crate) async fn store(&self, txn: &DatabaseTransaction, uploader: i64) -> Result<i64, RuntimeError> {
        use sea_orm::{ActiveModelTrait as _, Set};
        let row = attachments::ActiveModel {
            uploader_id: Set(uploader),
            message_id: Set(None),
            name: Set(self.name.chars().take(200).collect()),
            content_type: Set(self.content_type.chars().take(127).collect()),
            // Telegram leaves the size out at times (teloxide reads u32::MAX).
            size: Set(if self.size == u32::MAX { 0 } else { self.size as i64 }),
            kind: Set(self.kind.to_owned()),
            object_key: Set(None),
            telegram_file_id: Set(Some(self.file_id.clone())),
            telegram_file_unique_id: Set(Some(self.unique_id.clone())),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        Ok(row.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(content: serde_json::Value) -> serde_json::Value {
        let mut m = json!({
            "message_id": 5, "date": 1_700_000_000,
            "chat": { "id": 42, "type": "private", "first_name": "Ann" },
            "from": { "id": 42, "is_bot": false, "first_name": "Ann", "language_code": "en" }
        });
        m.as_object_mut().unwrap().extend(content.as_object().unwrap().clone());
        m
    }

    fn read(content: serde_json::Value) -> Incoming {
        let msg: Message = serde_json::from_value(message(content)).expect("a message teloxide reads");
        Incoming::of(&msg).expect("a customer's message")
    }

    // Shapes from the Bot API documentation's objects.
    #[test]
    fn each_kind_is_read_as_itself_with_its_file_and_details() {
        let v = read(json!({ "voice": { "file_id": "AwAC1", "file_unique_id": "AgAD1", "duration": 7, "mime_type": "audio/ogg", "file_size": 9000 } }));
        assert_eq!((v.kind, v.file.as_ref().unwrap().content_type.as_str(), v.details.clone()), ("voice", "audio/ogg", Some(Details::Media { duration: 7 })));
        assert_eq!(v.title(), "🎤 Voice message");
        let a = read(json!({ "audio": { "file_id": "CQAC1", "file_unique_id": "AgAD2", "duration": 200, "performer": "Kino", "title": "Gruppa krovi", "mime_type": "audio/mpeg", "file_size": 4_000_000 }, "caption": "this song" }));
        assert_eq!((a.kind, a.text.as_str(), a.file.as_ref().unwrap().name.as_str()), ("audio", "this song", "Kino – Gruppa krovi.mp3"));
        let n = read(json!({ "video_note": { "file_id": "DQAC1", "file_unique_id": "AgAD3", "length": 240, "duration": 5, "file_size": 300_000 } }));
        assert_eq!(n.kind, "video_note");
        let g = read(json!({ "animation": { "file_id": "CgAC1", "file_unique_id": "AgAD4", "width": 320, "height": 240, "duration": 2, "file_name": "cat.mp4", "mime_type": "video/mp4" },
                             "document": { "file_id": "CgAC1", "file_unique_id": "AgAD4", "file_name": "cat.mp4", "mime_type": "video/mp4" } }));
        assert_eq!(g.kind, "animation", "an animation is not read as the document Telegram repeats it as");
        let s = read(json!({ "sticker": { "file_id": "CAAC1", "file_unique_id": "AgAD5", "type": "regular", "width": 512, "height": 512, "is_animated": false, "is_video": false, "emoji": "😀", "set_name": "Cats" } }));
        assert_eq!((s.kind, s.file.as_ref().unwrap().content_type.as_str(), s.title()), ("sticker", "image/webp", "😀 Sticker".to_owned()));
        let l = read(json!({ "location": { "latitude": 55.7558, "longitude": 37.6173 } }));
        assert_eq!((l.kind, l.text.as_str()), ("location", "📍 55.755800, 37.617300"));
        let w = read(json!({ "venue": { "location": { "latitude": 55.7539, "longitude": 37.6208 }, "title": "Red Square", "address": "Moscow, 109012" },
                             "location": { "latitude": 55.7539, "longitude": 37.6208 } }));
        assert_eq!((w.kind, w.text.as_str()), ("venue", "📍 Red Square, Moscow, 109012"), "a venue is not read as the location it repeats");
        let c = read(json!({ "contact": { "phone_number": "+79001234567", "first_name": "Ivan", "last_name": "Petrov", "user_id": 77 } }));
        assert_eq!((c.kind, c.text.as_str()), ("contact", "👤 Ivan Petrov, +79001234567"));
        assert_eq!(c.details, Some(Details::Contact { phone_number: "+79001234567".into(), first_name: "Ivan".into(), last_name: Some("Petrov".into()), user_id: Some(77) }));
        let p = read(json!({ "poll": { "id": "1", "question": "Tea?", "options": [{ "text": "yes", "voter_count": 0 }, { "text": "no", "voter_count": 0 }], "total_voter_count": 0, "is_closed": false, "is_anonymous": true, "type": "regular", "allows_multiple_answers": false } }));
        assert_eq!((p.kind, p.details), ("unsupported", Some(Details::Unsupported { telegram_type: "poll".into() })));
        let d = read(json!({ "dice": { "emoji": "🎲", "value": 4 } }));
        assert_eq!(d.kind, "unsupported");
    }

    #[test]
    fn a_kind_telegram_adds_later_is_named_not_dropped() {
        let raw = message(json!({ "hologram": { "file_id": "ZZ1", "depth": 3 }, "caption": "see this" }));
        // teloxide reads it as an empty message: the worker reads the raw update.
        let parsed: Message = serde_json::from_value(raw.clone()).unwrap();
        assert!(matches!(parsed.kind, MessageKind::Empty {}), "{:?}", parsed.kind);
        assert!(Incoming::of(&parsed).is_none());
        let i = Incoming::unreadable(&raw);
        assert_eq!((i.kind, i.details), ("unsupported", Some(Details::Unsupported { telegram_type: "hologram".into() })));
        assert_eq!(i.text, "❓ Unsupported message (hologram)\nsee this");
        let stored = serde_json::to_string(&Details::Unsupported { telegram_type: "hologram".into() }).unwrap();
        assert_eq!(stored, r#"{"type":"unsupported","telegram_type":"hologram"}"#);
        assert_eq!(Details::parse(Some(&stored)), Some(Details::Unsupported { telegram_type: "hologram".into() }));
        assert_eq!(Details::parse(Some("{broken")), None);
    }
}
