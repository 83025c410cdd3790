//! Every kind of message a customer sends in Telegram: voice notes, audio,
//! video, round videos, GIFs, stickers, locations, venues, contacts, and
//! kinds the desk cannot show (a poll, a kind Telegram adds later) become
//! messages of their kind in the ticket, shown through the API, relayed to
//! the staff group's topic with their own methods, searchable by caption;
//! nobody is told "text only". Staff answer with voice notes and video.

use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fixtures::{self, kinds};
use tikethet_tests::helpers::{Backend, Tenant, TestApp, spawn_app, wait_until};

on_both!(every_kind_a_customer_sends_is_kept_as_itself_shown_and_relayed, staff_answer_with_voice_notes_video_and_sound,);

const GROUP: i64 = -1_001_234_567_891;
/// An Ogg page holding Opus: how a voice note starts.
pub const OGG: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0";
/// An MPEG-4 file's first box.
pub const MP4: &[u8] = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41";
/// An MP3 with an ID3 tag.
const MP3: &[u8] = b"ID3\x04\0\0\0\0\0\0\xff\xfb\x90\x64";
/// A WebP image's header: what a static sticker is.
const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0\x30\x01\0\x9d\x01\x2a\x01\0\x01\0\x02\0\x34\x25\xa4\0\x03\x70\0\xfe\xfb\x94\0\0";

async fn link_staff_group(app: &TestApp, t: &Tenant) {
    app.fake.add_forum(&t.token, GROUP);
    app.deliver(t, &fixtures::message(1, t.owner, "/start")).await;
    app.wait_processed("acme", 1).await;
    app.deliver(t, &fixtures::group_message(2, GROUP, t.owner, "/staffgroup", true)).await;
    app.wait_processed("acme", 2).await;
}

/// Delivers one message of `content` from `customer` and waits until it is handled.
async fn sends(app: &TestApp, t: &Tenant, update: i64, customer: i64, content: Value) {
    app.deliver(t, &fixtures::with_content(update, customer, content)).await;
    let row = app.wait_processed("acme", update).await;
    assert_eq!(row.status, "done", "update {update}: {:?}", row.error);
}

async fn every_kind_a_customer_sends_is_kept_as_itself_shown_and_relayed(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    link_staff_group(&app, &t).await;
    let carl = 811;
    let media = |kind: &str, name: &str, bytes: &[u8]| app.fake.add_media(&t.token, kind, name, bytes);

    // A voice note opens the ticket; every other kind follows in it.
    let (voice, u) = media("voice", "v.ogg", OGG);
    sends(&app, &t, 10, carl, kinds::voice(&voice, &u, OGG.len(), 4)).await;
    let (audio, u) = media("audio", "song.mp3", MP3);
    sends(&app, &t, 11, carl, kinds::audio(&audio, &u, MP3.len(), "this song plays in the shop")).await;
    let (video, u) = media("video", "unboxing.mp4", MP4);
    sends(&app, &t, 12, carl, kinds::video(&video, &u, MP4.len())).await;
    let (note, u) = media("video_note", "round.mp4", MP4);
    sends(&app, &t, 13, carl, kinds::video_note(&note, &u, MP4.len())).await;
    let (gif, u) = media("animation", "shrug.mp4", MP4);
    sends(&app, &t, 14, carl, kinds::animation(&gif, &u, MP4.len())).await;
    let (sticker, u) = media("sticker", "cat.webp", WEBP);
    sends(&app, &t, 15, carl, kinds::sticker(&sticker, &u, WEBP.len(), "😿")).await;
    sends(&app, &t, 16, carl, kinds::location(55.7558, 37.6173)).await;
    sends(&app, &t, 17, carl, kinds::venue(55.7539, 37.6208, "Red Square", "Moscow, 109012")).await;
    sends(&app, &t, 18, carl, kinds::contact("+79001234567", "Ivan", "Petrov", 4242)).await;
    sends(&app, &t, 19, carl, kinds::poll("Was it broken in the box?")).await;
    // A kind no client library knows yet.
    sends(&app, &t, 20, carl, json!({ "hologram": { "file_id": "ZZ1", "depth": 3 }, "caption": "see the hologram" })).await;

    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "one ticket holds them all: {page}");
    assert_eq!(page["items"][0]["title"], "🎤 Voice message", "a voice note names its ticket");
    let tid = page["items"][0]["id"].as_i64().unwrap();
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{tid}/messages"), &owner).await;
    let items = msgs["items"].as_array().unwrap();
    let kinds_seen: Vec<&str> = items.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds_seen,
        ["voice", "audio", "video", "video_note", "animation", "sticker", "location", "venue", "contact", "unsupported", "unsupported"],
        "{msgs}"
    );
    let files: Vec<(&str, &str)> = items[..6].iter().map(|m| (m["attachments"][0]["kind"].as_str().unwrap(), m["attachments"][0]["content_type"].as_str().unwrap())).collect();
    assert_eq!(
        files,
        [("voice", "audio/ogg"), ("audio", "audio/mpeg"), ("video", "video/mp4"), ("video_note", "video/mp4"), ("animation", "video/mp4"), ("sticker", "image/webp")]
    );
    assert_eq!((items[0]["duration"].as_u64(), items[1]["text"].as_str(), items[5]["emoji"].as_str()), (Some(4), Some("this song plays in the shop"), Some("😿")));
    assert_eq!(items[1]["attachments"][0]["name"], "gruppa_krovi.mp3");
    let place = &items[6]["location"];
    assert_eq!((place["latitude"].as_f64(), place["longitude"].as_f64(), &place["title"]), (Some(55.7558), Some(37.6173), &Value::Null), "{place}");
    assert_eq!(place["map_url"], "https://www.openstreetmap.org/?mlat=55.755800&mlon=37.617300#map=17/55.755800/37.617300");
    assert_eq!((items[7]["location"]["title"].as_str(), items[7]["location"]["address"].as_str()), (Some("Red Square"), Some("Moscow, 109012")));
    assert_eq!(items[8]["contact"], json!({ "phone_number": "+79001234567", "first_name": "Ivan", "last_name": "Petrov", "telegram_user_id": 4242 }));
    assert_eq!((items[9]["unsupported"].as_str(), items[10]["unsupported"].as_str()), (Some("poll"), Some("hologram")));
    assert_eq!(items[10]["text"], "❓ Unsupported message (hologram)\nsee the hologram", "its caption is kept");

    // The customer sees their own messages the same way.
    let token = app.sign_in(&t, carl).await;
    let (_, own) = app.tenant_get("acme", &format!("/tickets/{tid}/messages"), &token).await;
    assert_eq!(own["items"].as_array().unwrap().len(), 11, "{own}");
    // Nobody was told "text only". (The topic takes its 13 messages at a
    // group's pace: a burst, then one every 4.3 s.)
    app.wait_outbox_settled_within("acme", Duration::from_secs(120)).await;
    let told = app.fake.sent_to(&t.token, carl);
    assert!(told.iter().all(|m| !m.contains("only read text")), "{told:?}");

    // A voice note opened: fetched from Telegram, played as Ogg, still a voice note.
    let vid = items[0]["attachments"][0]["id"].as_i64().unwrap();
    let res = app.http.get(app.url(&format!("/t/acme/api/v1/attachments/{vid}"))).bearer_auth(&owner).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["content-type"].to_str().unwrap().to_owned()), (200, "audio/ogg".to_owned()));
    assert_eq!(res.bytes().await.unwrap().as_ref(), OGG);

    // Searchable by caption and by a place's or contact's words.
    for (q, found) in [("song", true), ("Petrov", true), ("Red", true), ("nothing-like-this", false)] {
        let (_, hits) = app.tenant_get("acme", &format!("/tickets?q={q}"), &owner).await;
        assert_eq!(hits["items"].as_array().map(Vec::len), Some(usize::from(found)), "{q}: {hits}");
    }

    // Relayed to the ticket's topic, each file with its kind's method.
    let topic = app.fake.topics(&t.token, GROUP)[0].0;
    let in_topic = |method: &str| app.fake.calls(Some(method)).into_iter().filter(|c| c.ok && c.chat_id() == Some(GROUP) && c.thread_id() == Some(topic)).count();
    let methods = ["sendVoice", "sendAudio", "sendVideo", "sendVideoNote", "sendAnimation", "sendSticker"];
    let relayed = wait_until(Duration::from_secs(20), || methods.iter().all(|m| in_topic(m) == 1).then_some(())).await;
    assert!(relayed.is_some(), "not every file reached the topic: {:?}", methods.map(|m| (m, in_topic(m))));
    let posts = app.fake.sent_to_topic(&t.token, GROUP, topic);
    for line in ["📍 55.755800, 37.617300", "📍 Red Square, Moscow, 109012", "👤 Ivan Petrov, +79001234567", "❓ Unsupported message (poll)"] {
        assert!(posts.iter().any(|p| p.contains(line)), "{line:?} not in the topic: {posts:?}");
    }
}

async fn staff_answer_with_voice_notes_video_and_sound(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 2).await;
    let dina = 821;
    app.deliver(&t, &fixtures::message(1, dina, "How do I set it up?")).await;
    app.wait_processed("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    let tid = page["items"][0]["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for (name, bytes, kind, content_type) in [("answer.ogg", OGG, "voice", "audio/ogg"), ("howto.mp4", MP4, "video", "video/mp4"), ("jingle.mp3", MP3, "audio", "audio/mpeg")] {
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name));
        let res = app.http.post(app.url("/t/acme/api/v1/uploads")).bearer_auth(&owner).multipart(form).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let a: Value = res.json().await.unwrap();
        assert_eq!((a["kind"].as_str(), a["content_type"].as_str()), (Some(kind), Some(content_type)), "{a}");
        ids.push(a["id"].as_i64().unwrap());
    }
    let (s, m) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &owner, json!({ "text": "", "attachment_ids": ids })).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["kind"], "text", "staff write text messages with files");
    let sent = |method: &str| app.fake.calls(Some(method)).into_iter().filter(|c| c.ok && c.chat_id() == Some(dina)).count();
    let all = wait_until(Duration::from_secs(15), || (sent("sendVoice") == 1 && sent("sendVideo") == 1 && sent("sendAudio") == 1).then_some(())).await;
    assert!(all.is_some(), "{:?}", app.fake.calls(None).iter().map(|c| (c.method.clone(), c.ok)).collect::<Vec<_>>());
    assert_eq!(sent("sendDocument"), 0, "nothing went as a plain document");
    // Telegram's file ids are kept (written once each send's answer is
    // read, so waited for): a second send goes without uploading.
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let stored = || async {
        use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
        use tikethet_runtime::storage::entities::attachments;
        let txn = tenant.db.begin().await.unwrap();
        let rows = attachments::Entity::find().filter(attachments::Column::Id.is_in(ids.clone())).all(&txn).await.unwrap();
        txn.commit().await.unwrap();
        rows.into_iter().filter_map(|a| a.telegram_file_id).collect::<Vec<_>>()
    };
    let kept = tikethet_tests::helpers::wait_for(Duration::from_secs(10), || async { Some(stored().await).filter(|k| k.len() == 3) }).await.unwrap_or_default();
    let kept = if kept.is_empty() { stored().await } else { kept };
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.iter().any(|id| id.starts_with("Aw")) && kept.iter().any(|id| id.starts_with("BA")), "the voice's and the video's ids: {kept:?}");
}
