//! Live updates over `/t/{slug}/ws`: events reach exactly the people allowed
//! to see them, the token travels in the first message, a user's sockets
//! are capped, staff sockets carry who has a ticket open (and is typing),
//! and across two `tikethet serve` processes sharing Redis an event raised
//! on one reaches a socket held by the other.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, bot_token, drop_pg_schemas, init_data, postgres_url, random_suffix, redis_url, spawn_app};
use tokio_tungstenite::tungstenite::Message;

on_both!(
    live_events_reach_exactly_the_people_allowed_to_see_them,
    a_live_socket_needs_a_valid_token_first_and_is_capped_per_user,
    a_console_socket_signs_in_with_its_session_cookie_only_from_its_own_origin,
    staff_sockets_hold_their_presence_on_a_ticket_and_the_others_hear_it_change_and_end,
);

/// A socket opened with a console session's cookie and an `Origin`;
/// `{"type":"auth","console":true}` first. `ready`, or how it was closed.
async fn console_socket(app: &TestApp, cookie: &str, origin: &str) -> Result<Ws, (u16, String)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut req = format!("{}/t/acme/ws", app.url("").trim_end_matches('/').replacen("http://", "ws://", 1)).into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req.headers_mut().insert("origin", origin.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("the WebSocket handshake succeeds");
    ws.send(Message::text(json!({ "type": "auth", "console": true }).to_string())).await.unwrap();
    match next(&mut ws).await {
        Frame::Json(v) if v["type"] == "ready" => Ok(ws),
        Frame::Json(v) => panic!("expected ready, got {v}"),
        Frame::Closed(code, why) => Err((code, why)),
    }
}

async fn a_console_socket_signs_in_with_its_session_cookie_only_from_its_own_origin(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let cookie = app.console_cookie(&t, t.owner).await;
    let own = app.url("").trim_end_matches('/').to_owned();
    // Another site's page cannot ride the staff member's cookie.
    let refused = console_socket(&app, &cookie, "http://evil.example").await.err().expect("refused");
    assert_eq!(refused.0, 4401, "{refused:?}");
    let mut ws = console_socket(&app, &cookie, &own).await.unwrap_or_else(|e| panic!("the console's own page: {e:?}"));
    // Its events are the staff member's: a new ticket.
    app.deliver(&t, &fixtures::message(1, 801, "Hello from the bot")).await;
    let created = loop {
        let v = next_json(&mut ws).await;
        if v["type"] == "ticket.created" {
            break v;
        }
    };
    assert_eq!(created["ticket"]["title"], "Hello from the bot", "{created}");
    // Signed out: the session is read again within 10 s and the socket closes.
    let http = tikethet_tests::helpers::no_redirects();
    let page = http.get(app.url("/t/acme/admin/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let res = http.post(app.url("/t/acme/admin/logout")).header("cookie", &cookie).form(&[("csrf", tikethet_tests::helpers::csrf_in(&page))]).send().await.unwrap();
    assert_eq!(res.status(), 401, "signed out");
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(40), ws.next()).await.expect("closed within 40 s") {
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(closed, Some(4401));
    // A bad cookie: refused.
    let refused = console_socket(&app, "tikethet_console_acme=nope", &own).await.err().expect("refused");
    assert_eq!(refused.0, 4401, "{refused:?}");
}

/// The next frame of `ws` of type `kind` (others are skipped).
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

async fn staff_sockets_hold_their_presence_on_a_ticket_and_the_others_hear_it_change_and_end(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let ann_token = app.sign_in(&t, 72_101).await;
    let ann_id = app.tenant_get("acme", "/auth/me", &ann_token).await.1["id"].as_i64().unwrap();
    assert_eq!(app.tenant_call(Method::PATCH, "acme", &format!("/users/{ann_id}"), &owner, Some(json!({ "role": "moderator" }))).await.0, 200);
    let customer = app.sign_in(&t, 72_102).await;
    let (_, ticket) = app.tenant_post("acme", "/tickets", &customer, json!({ "title": "Lost key", "description": "Help" })).await;
    let id = ticket["id"].as_i64().unwrap();
    let own = app.url("").trim_end_matches('/').to_owned();
    let mut by_owner = console_socket(&app, &app.console_cookie(&t, t.owner).await, &own).await.unwrap();
    let mut by_ann = console_socket(&app, &app.console_cookie(&t, 72_101).await, &own).await.unwrap();
    let base = app.address.clone();
    let mut by_customer = connect(&base, "acme", &customer).await;

    // The owner opens the ticket: nobody else there yet.
    by_owner.send(Message::text(json!({ "type": "presence", "ticket_id": id, "typing": false }).to_string())).await.unwrap();
    let answer = next_of(&mut by_owner, "presence.others").await;
    assert_eq!((answer["ticket_id"].as_i64(), &answer["others"]), (Some(id), &json!([])), "{answer}");
    let heard = next_of(&mut by_ann, "presence").await;
    assert_eq!((heard["ticket_id"].as_i64(), &heard["typing"], &heard["leaving"]), (Some(id), &json!(false), &json!(false)), "{heard}");
    assert!(heard["name"].as_str().is_some_and(|n| !n.is_empty()), "{heard}");
    // Ann opens it too and starts typing: each hears the other.
    by_ann.send(Message::text(json!({ "type": "presence", "ticket_id": id, "typing": true }).to_string())).await.unwrap();
    let answer = next_of(&mut by_ann, "presence.others").await;
    assert_eq!(answer["others"].as_array().map(Vec::len), Some(1), "the owner is there: {answer}");
    assert_eq!(answer["others"][0]["typing"], false);
    let heard = next_of(&mut by_owner, "presence").await;
    assert_eq!((heard["user_id"].as_i64(), &heard["typing"]), (Some(ann_id), &json!(true)), "{heard}");
    // While it stays open, the socket renews it (every 6 s): told again.
    let renewed = tokio::time::timeout(Duration::from_secs(10), next_of(&mut by_owner, "presence")).await.expect("renewed within 10 s");
    assert_eq!((renewed["user_id"].as_i64(), &renewed["typing"], &renewed["leaving"]), (Some(ann_id), &json!(true), &json!(false)), "{renewed}");
    // Ann's socket closes: she left.
    by_ann.close(None).await.unwrap();
    let left = loop {
        let v = next_of(&mut by_owner, "presence").await;
        if v["leaving"] == true {
            break v;
        }
    };
    assert_eq!(left["user_id"].as_i64(), Some(ann_id), "{left}");
    // Customers never hear presence, and may not report it.
    by_customer.send(Message::text(json!({ "type": "presence", "ticket_id": id }).to_string())).await.unwrap();
    let refused = loop {
        let v = next_json(&mut by_customer).await;
        assert_ne!(v["type"], "presence", "a customer heard presence: {v}");
        if v["type"] == "error" {
            break v;
        }
    };
    assert!(refused["message"].as_str().unwrap().contains("presence is for staff"), "{refused}");
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket, authenticated: returns once the server said `ready`.
async fn connect(base: &str, slug: &str, token: &str) -> Ws {
    match try_connect(base, slug, token).await {
        Ok(ws) => ws,
        Err((code, why)) => panic!("the socket was closed with {code}: {why}"),
    }
}

async fn try_connect(base: &str, slug: &str, token: &str) -> Result<Ws, (u16, String)> {
    let url = format!("{}/t/{slug}/ws", base.replacen("http://", "ws://", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("the WebSocket handshake succeeds");
    ws.send(Message::text(json!({ "type": "auth", "token": token }).to_string())).await.unwrap();
    match next(&mut ws).await {
        Frame::Json(v) if v["type"] == "ready" => Ok(ws),
        Frame::Json(v) => panic!("expected ready, got {v}"),
        Frame::Closed(code, why) => Err((code, why)),
    }
}

enum Frame {
    Json(Value),
    Closed(u16, String),
}

/// The next text frame or the close, within a deadline.
async fn next(ws: &mut Ws) -> Frame {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next()).await.expect("a frame within 15 s");
        match msg {
            Some(Ok(Message::Text(t))) => return Frame::Json(serde_json::from_str(&t).expect("frames are JSON")),
            Some(Ok(Message::Close(frame))) => {
                return frame.map_or(Frame::Closed(1005, String::new()), |f| Frame::Closed(u16::from(f.code), f.reason.to_string()));
            }
            Some(Ok(_)) => continue, // pings
            Some(Err(e)) => panic!("socket error: {e}"),
            None => return Frame::Closed(1006, "ended without a close frame".into()),
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    match next(ws).await {
        Frame::Json(v) => v,
        Frame::Closed(code, why) => panic!("closed with {code}: {why}"),
    }
}

async fn me(app: &TestApp, token: &str) -> i64 {
    app.tenant_get("acme", "/auth/me", token).await.1["id"].as_i64().unwrap()
}

async fn live_events_reach_exactly_the_people_allowed_to_see_them(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let (alice_tg, bob_tg) = (71_001, 71_002);
    let alice = app.sign_in(&t, alice_tg).await;
    let bob = app.sign_in(&t, bob_tg).await;
    let helper = app.sign_in(&t, 71_003).await;
    let helper_id = me(&app, &helper).await;
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{helper_id}"), &owner, Some(json!({ "role": "helper" }))).await;
    assert_eq!(s, 200);
    let (s, ticket) = app.tenant_post("acme", "/tickets", &alice, json!({ "title": "Lamp", "description": "It flickers" })).await;
    assert_eq!(s, 201, "{ticket}");
    let id = ticket["id"].as_i64().unwrap();

    let base = app.address.clone();
    let mut ws_alice = connect(&base, "acme", &alice).await;
    let mut ws_bob = connect(&base, "acme", &bob).await;
    let mut ws_owner = connect(&base, "acme", &owner).await;
    let mut ws_helper = connect(&base, "acme", &helper).await;

    // A staff answer: the customer and all-seeing staff get the message and
    // the ticket's new status, in the API's shapes.
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{id}/messages"), &owner, json!({ "text": "Try a new bulb" })).await;
    assert_eq!(s, 201);
    for ws in [&mut ws_alice, &mut ws_owner] {
        let m = next_json(ws).await;
        assert_eq!((m["type"].as_str(), m["ticket_id"].as_i64(), m["message"]["text"].as_str()), (Some("message.created"), Some(id), Some("Try a new bulb")), "{m}");
        assert_eq!(m["message"]["author_role"], "owner", "{m}");
        let u = next_json(ws).await;
        assert_eq!((u["type"].as_str(), u["ticket"]["id"].as_i64(), u["ticket"]["status"].as_str()), (Some("ticket.updated"), Some(id), Some("waiting_response")), "{u}");
    }
    // An internal note reaches staff only.
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{id}/messages"), &owner, json!({ "text": "customer seems upset", "internal": true })).await;
    assert_eq!(s, 201);
    let note = next_json(&mut ws_owner).await;
    assert_eq!((note["message"]["internal"].as_bool(), note["message"]["text"].as_str()), (Some(true), Some("customer seems upset")), "{note}");

    // The customer types; staff see it, the customer does not see their own.
    ws_alice.send(Message::text(json!({ "type": "typing", "ticket_id": id }).to_string())).await.unwrap();
    let typing = next_json(&mut ws_owner).await;
    assert_eq!((typing["type"].as_str(), typing["ticket_id"].as_i64(), typing["role"].as_str()), (Some("typing"), Some(id), Some("user")), "{typing}");
    // Another customer may not even say they type in someone else's ticket.
    ws_bob.send(Message::text(json!({ "type": "typing", "ticket_id": id }).to_string())).await.unwrap();
    let refused = next_json(&mut ws_bob).await;
    assert_eq!(refused["type"], "error", "{refused}");

    // The customer writes to the bot: the worker's message reaches staff live.
    assert_eq!(app.deliver(&t, &fixtures::message(1, alice_tg, "Still flickering")).await, 200);
    let m = next_json(&mut ws_owner).await;
    assert_eq!((m["type"].as_str(), m["message"]["text"].as_str(), m["message"]["author_role"].as_str()), (Some("message.created"), Some("Still flickering"), Some("user")), "{m}");
    assert_eq!(next_json(&mut ws_owner).await["ticket"]["status"], "in_progress");
    // Alice's next frames: her own message and the status, never the note
    // nor her own typing.
    let m = next_json(&mut ws_alice).await;
    assert_eq!(m["message"]["text"], "Still flickering", "the internal note or her own typing leaked: {m}");
    assert_eq!(next_json(&mut ws_alice).await["type"], "ticket.updated");

    // Assigning the ticket to the helper: from then on they see it. Their
    // first frame is that change, so nothing of the ticket reached them
    // before it was theirs; Bob's first frame is his own ticket, so nothing
    // of Alice's reached him.
    let (s, _) = app.tenant_call(Method::PATCH, "acme", &format!("/tickets/{id}"), &owner, Some(json!({ "assignee_id": helper_id }))).await;
    assert_eq!(s, 200);
    let first = next_json(&mut ws_helper).await;
    assert_eq!((first["type"].as_str(), first["ticket"]["assignee_id"].as_i64()), (Some("ticket.updated"), Some(helper_id)), "{first}");
    let (s, own) = app.tenant_post("acme", "/tickets", &bob, json!({ "title": "Bob's", "description": "mine" })).await;
    assert_eq!(s, 201);
    let first = next_json(&mut ws_bob).await;
    assert_eq!((first["type"].as_str(), first["ticket"]["id"].as_i64()), (Some("ticket.created"), own["id"].as_i64()), "Bob saw Alice's ticket: {first}");

    // Pings are answered.
    ws_bob.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut ws_bob).await, json!({ "type": "pong" }));
}

async fn a_live_socket_needs_a_valid_token_first_and_is_capped_per_user(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let other = app.create_tenant("other", 2).await;
    let alice = app.sign_in(&t, 72_001).await;
    let foreign = app.sign_in(&other, 72_001).await;
    let base = app.address.clone();
    assert_eq!(try_connect(&base, "acme", "not-a-token").await.err().map(|e| e.0), Some(4401));
    assert_eq!(try_connect(&base, "acme", &foreign).await.err().map(|e| e.0), Some(4401), "another desk's token");
    assert_eq!(try_connect(&base, "nope", &alice).await.err().map(|e| e.0), Some(4404));
    // A first message that is not the auth message.
    let url = format!("{}/t/acme/ws", base.replacen("http://", "ws://", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert!(matches!(next(&mut ws).await, Frame::Closed(4401, _)));

    // Five sockets per user; the sixth is refused until one closes.
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(connect(&base, "acme", &alice).await);
    }
    let refused = try_connect(&base, "acme", &alice).await.err().expect("a sixth socket is refused");
    assert_eq!(refused.0, 4429, "{}", refused.1);
    let mut closed = open.pop().unwrap();
    closed.close(None).await.unwrap();
    // The slot frees once the server has seen the close.
    let mut again = None;
    for _ in 0..100 {
        match try_connect(&base, "acme", &alice).await {
            Ok(ws) => {
                again = Some(ws);
                break;
            }
            Err((4429, _)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(again.is_some(), "a closed socket's slot was never freed");
    // A signed-out token is refused.
    let session: Value = app
        .http
        .post(app.url("/t/acme/api/v1/auth/telegram"))
        .json(&json!({ "init_data": init_data(&t.token, 72_002, chrono::Utc::now().timestamp()) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = session["access_token"].as_str().unwrap();
    let res = app
        .http
        .post(app.url("/t/acme/api/v1/auth/logout"))
        .bearer_auth(access)
        .json(&json!({ "refresh_token": session["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(try_connect(&base, "acme", access).await.err().map(|e| e.0), Some(4401), "a revoked token");
}

pub(crate) use tikethet_tests::nodes::Node;

/// A node running this build's `tikethet`.
pub(crate) fn node(dir: &std::path::Path, name: &str, env: &[(&str, String)]) -> Node {
    tikethet_tests::nodes::spawn(std::path::Path::new(env!("CARGO_BIN_EXE_tikethet-under-test")), dir, name, env).expect("the server binary starts")
}

pub(crate) async fn healthy(http: &reqwest::Client, n: &mut Node) {
    tikethet_tests::nodes::ready(http, n).await.unwrap_or_else(|e| panic!("{e:#}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_posted_through_one_process_reaches_a_socket_held_by_another() {
    let fake = FakeTelegram::start().await.unwrap();
    fake.allow_insecure_webhooks(true);
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("tt_{}", random_suffix());
    let op = format!("operator_token_{}_two_nodes", random_suffix());
    let env = [
        ("TIKETHET_TELEGRAM_API_URL", fake.url.clone()),
        ("TIKETHET_DATABASE_URL", postgres_url()),
        ("TIKETHET_DATABASE_SCHEMA", schema.clone()),
        ("TIKETHET_REDIS_URL", redis_url()),
        ("TIKETHET_REDIS_PREFIX", format!("{schema}:")),
        ("TIKETHET_OPERATOR_TOKEN", op.clone()),
        ("TIKETHET_MASTER_KEY", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned()),
        ("TIKETHET_JWT_SECRET", format!("two-nodes-{}-0123456789abcdef0123456789", random_suffix())),
    ];
    let http = reqwest::Client::new();
    let mut one = node(dir.path(), "one", &env);
    healthy(&http, &mut one).await;
    let mut two = node(dir.path(), "two", &env);
    healthy(&http, &mut two).await;

    let token = bot_token(1);
    fake.add_bot(&token, "acme_bot");
    let owner_tg = 9_100_001;
    fake.start_chat(&token, owner_tg);
    let res = http
        .post(format!("{}/api/platform/v1/tenants", one.base))
        .bearer_auth(&op)
        .json(&json!({ "slug": "acme", "name": "Acme", "bot_token": token, "owner_telegram_id": owner_tg }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let sign_in = async |base: &str, who: i64| -> Value {
        let res = http.post(format!("{base}/t/acme/api/v1/auth/telegram")).json(&json!({ "init_data": init_data(&token, who, chrono::Utc::now().timestamp()) })).send().await.unwrap();
        res.json().await.unwrap()
    };
    let owner = sign_in(&one.base, owner_tg).await["access_token"].as_str().unwrap().to_owned();
    let customer_tg = 9_200_002;
    fake.start_chat(&token, customer_tg);
    let customer = sign_in(&one.base, customer_tg).await["access_token"].as_str().unwrap().to_owned();
    let res = http.post(format!("{}/t/acme/api/v1/tickets", one.base)).bearer_auth(&customer).json(&json!({ "title": "Hi", "description": "Help" })).send().await.unwrap();
    let ticket: Value = res.json().await.unwrap();
    let id = ticket["id"].as_i64().unwrap();

    // Node two learns of the tenant from the control plane within seconds.
    let mut ws = None;
    for _ in 0..200 {
        match try_connect(&two.base, "acme", &customer).await {
            Ok(s) => {
                ws = Some(s);
                break;
            }
            Err((4404, _)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e:?}"),
        }
    }
    let mut ws = ws.expect("node two serves the tenant");

    let res = http.post(format!("{}/t/acme/api/v1/tickets/{id}/messages", one.base)).bearer_auth(&owner).json(&json!({ "text": "Answer from node one" })).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let m = next_json(&mut ws).await;
    assert_eq!((m["type"].as_str(), m["message"]["text"].as_str()), (Some("message.created"), Some("Answer from node one")), "{m}");
    drop(ws);
    drop(one);
    drop(two);
    drop_pg_schemas(&schema).await;
}
