//! What a stranger, or someone with less access than they had, can make the
//! server do at its doors: live sockets before sign-in (small messages, a
//! deadline, a cap per address) and after a demotion, block, sign-out or
//! suspension (closed within seconds, on every node); request bodies
//! (counted against their cap as they are read, chunked ones too, and read
//! only once the sender is known); and the platform's own routes
//! (`/metrics` needs the operator token; nothing of the operator's on a
//! tenant's domain).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::helpers::{Backend, HTTPS_PUBLIC_URL, OPERATOR_TOKEN, Options, TestApp, bot_token, csrf_in, drop_pg_schemas, init_data, postgres_url, random_suffix, redis_url, spawn_app, spawn_app_with};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

on_both!(
    a_socket_closes_within_seconds_when_its_access_ends,
    a_helpers_console_session_cannot_make_the_server_read_a_big_upload,
    bodies_are_counted_as_read_and_read_only_for_a_known_sender,
    the_platforms_routes_need_its_token_and_stay_off_tenants_domains
);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(base: &str, slug: &str) -> String {
    format!("{}/t/{slug}/ws", base.replacen("http://", "ws://", 1))
}

/// A socket opened from `from` (the address a proxy on loopback vouches
/// for), not signed in; `Err(status)` when the upgrade is refused.
async fn open_from(base: &str, slug: &str, from: &str) -> Result<Ws, u16> {
    let mut req = ws_url(base, slug).into_client_request().unwrap();
    req.headers_mut().insert("x-forwarded-for", from.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("the WebSocket handshake failed: {e}"),
    }
}

/// A signed-in socket (the server said `ready`).
async fn signed_in(base: &str, slug: &str, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(base, slug)).await.expect("the WebSocket handshake succeeds");
    ws.send(Message::text(json!({ "type": "auth", "token": token }).to_string())).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next()).await.expect("an answer to the auth message") {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["type"], "ready", "{v}");
                return ws;
            }
            Some(Ok(Message::Close(f))) => panic!("refused: {f:?}"),
            Some(Ok(_)) => continue,
            other => panic!("the socket broke: {other:?}"),
        }
    }
}

/// The close code and reason the server ends `ws` with, within `deadline`
/// (events before it are skipped).
async fn closed_within(ws: &mut Ws, deadline: Duration) -> (u16, String) {
    let until = Instant::now() + deadline;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => panic!("the socket was still open after {deadline:?}"),
            Ok(Some(Ok(Message::Close(f)))) => return f.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string())),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("socket error instead of a close: {e}"),
            Ok(None) => return (1006, "ended without a close frame".into()),
        }
    }
}

/// The socket is still open and answering: a ping gets its pong.
async fn still_open(ws: &mut Ws) {
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.expect("the socket is open");
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a pong") {
            Some(Ok(Message::Text(t))) if t.contains("pong") => return,
            Some(Ok(Message::Close(f))) => panic!("closed: {f:?}"),
            Some(Ok(_)) => continue,
            other => panic!("the socket broke: {other:?}"),
        }
    }
}

/// The server process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    kb * 1024
}

/// Opens a socket by hand from `from` and sends one binary frame that
/// says it is `len` bytes long, streaming its payload from a small buffer
/// until it is all sent or the server ends the connection. Returns how
/// many payload bytes the connection took.
async fn send_big_frame_unsigned(addr: &str, from: &str, len: usize) -> usize {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /t/acme/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: {from}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(tcp.read(&mut b).await.unwrap(), 1, "the handshake's answer");
        answer.push(b[0]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&answer));
    // FIN + binary, masked, 64-bit length; a zero mask leaves the payload as is.
    let mut frame = vec![0x82, 0xFF];
    frame.extend_from_slice(&(len as u64).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    tcp.write_all(&frame).await.unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        match tcp.write(&chunk[..chunk.len().min(len - sent)]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    sent
}

/// Acceptance: 20 sockets that each send 8 MiB before signing in move the
/// server's memory by less than 64 MiB. The server runs in this process;
/// the clients stream from one 64 KiB buffer each, so the resident memory
/// measured is the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_send_8_mib_before_signing_in_cost_the_server_little() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let before = rss();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    const EACH: usize = 8 << 20;
    let sends: Vec<_> = (0..20).map(|i| tokio::spawn(send_big_frame_unsigned_owned(addr.clone(), format!("198.51.100.{}", i + 1), EACH))).collect();
    let mut taken = Vec::new();
    for s in sends {
        taken.push(s.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    sampling.abort();
    let grew = peak.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!("resident memory grew by {} KiB at most; bytes each connection took: {taken:?}", grew / 1024);
    assert!(grew < 64 << 20, "20 sockets sending 8 MiB each before signing in grew the server by {} MiB", grew >> 20);
    // The server still serves sockets.
    let token = app.sign_in(&t, 74_001).await;
    let mut ws = signed_in(&app.address, "acme", &token).await;
    still_open(&mut ws).await;
}

async fn send_big_frame_unsigned_owned(addr: String, from: String, len: usize) -> usize {
    send_big_frame_unsigned(&addr, &from, len).await
}

/// Sockets waiting to sign in are capped per client address (429 at the
/// upgrade), each has a few seconds to sign in, and a message over the
/// cap ends the socket before it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_must_sign_in_soon_with_a_small_message_and_few_wait_per_address() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let base = app.address.clone();
    let mut waiting = Vec::new();
    for _ in 0..16 {
        waiting.push(open_from(&base, "acme", "203.0.113.7").await.expect("sixteen may wait from one address"));
    }
    assert_eq!(open_from(&base, "acme", "203.0.113.7").await.err(), Some(429), "a seventeenth from that address");
    let mut other = open_from(&base, "acme", "203.0.113.8").await.expect("another address has its own allowance");
    // One that signs in frees its place.
    let token = app.sign_in(&t, 75_001).await;
    let mut first = waiting.remove(0);
    first.send(Message::text(json!({ "type": "auth", "token": token }).to_string())).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), first.next()).await.unwrap() {
        Some(Ok(Message::Text(t))) => assert!(t.contains("ready"), "{t}"),
        other => panic!("{other:?}"),
    }
    let mut again = None;
    for _ in 0..100 {
        match open_from(&base, "acme", "203.0.113.7").await {
            Ok(ws) => {
                again = Some(ws);
                break;
            }
            Err(429) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(s) => panic!("{s}"),
        }
    }
    assert!(again.is_some(), "a socket that signed in still held its waiting place");
    // Silence: closed within the deadline (5 s), with 4408.
    let started = Instant::now();
    let (code, why) = closed_within(&mut other, Duration::from_secs(8)).await;
    assert_eq!(code, 4408, "{why}");
    assert!(started.elapsed() < Duration::from_secs(7), "{:?}", started.elapsed());
    // A first message over 4 KiB: closed as too big, not read as a sign-in.
    let mut big = open_from(&base, "acme", "203.0.113.9").await.unwrap();
    let padded = json!({ "type": "auth", "token": token, "pad": "x".repeat(5000) }).to_string();
    big.send(Message::text(padded)).await.ok();
    let (code, why) = closed_within(&mut big, Duration::from_secs(5)).await;
    assert!(code == 1009 || code == 1006, "{code}: {why}");
    assert_ne!(code, 1000);
    // Signed in, the socket works as before.
    still_open(&mut first).await;
}

async fn user_id(app: &TestApp, token: &str) -> i64 {
    app.tenant_get("acme", "/auth/me", token).await.1["id"].as_i64().unwrap()
}

async fn a_socket_closes_within_seconds_when_its_access_ends(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let base = app.address.clone();
    let (helper, blocked, bystander) = (app.sign_in(&t, 76_001).await, app.sign_in(&t, 76_002).await, app.sign_in(&t, 76_003).await);
    let helper_id = user_id(&app, &helper).await;
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{helper_id}"), &owner, Some(json!({ "role": "helper" }))).await;
    assert_eq!(s, 200, "{body}");
    let helper = app.sign_in(&t, 76_001).await;
    let mut helper_ws = signed_in(&base, "acme", &helper).await;
    let mut blocked_ws = signed_in(&base, "acme", &blocked).await;
    let mut bystander_ws = signed_in(&base, "acme", &bystander).await;
    let mut owner_ws = signed_in(&base, "acme", &owner).await;

    // Demoted: the helper's socket closes (its role is no longer theirs).
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{helper_id}"), &owner, Some(json!({ "role": "user" }))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(closed_within(&mut helper_ws, Duration::from_secs(5)).await.0, 4401);
    // Blocked.
    let blocked_id = user_id(&app, &blocked).await;
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{blocked_id}"), &owner, Some(json!({ "blocked": true }))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(closed_within(&mut blocked_ws, Duration::from_secs(5)).await.0, 4403);
    // Signed out with the token the socket holds.
    let session: Value = app
        .http
        .post(app.url("/t/acme/api/v1/auth/telegram"))
        .json(&json!({ "init_data": init_data(&t.token, 76_004, chrono::Utc::now().timestamp()) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = session["access_token"].as_str().unwrap();
    let mut leaving_ws = signed_in(&base, "acme", access).await;
    let res = app.http.post(app.url("/t/acme/api/v1/auth/logout")).bearer_auth(access).json(&json!({ "refresh_token": session["refresh_token"] })).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(closed_within(&mut leaving_ws, Duration::from_secs(5)).await.0, 4401);
    // Nobody else lost theirs.
    still_open(&mut bystander_ws).await;
    still_open(&mut owner_ws).await;

    // The desk suspended: every socket of it closes.
    let res = app.operator(Method::POST, "/api/platform/v1/tenants/acme/suspend", None).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(closed_within(&mut bystander_ws, Duration::from_secs(5)).await.0, 4423);
    assert_eq!(closed_within(&mut owner_ws, Duration::from_secs(5)).await.0, 4423);
}

/// Two `tikethet serve` processes on one Redis: a socket held by node two
/// closes when its user is demoted, or its desk suspended, through node one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_on_another_node_closes_when_its_access_ends() {
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
    let mut one = super::live::node(dir.path(), "one", &env);
    super::live::healthy(&http, &mut one).await;
    let mut two = super::live::node(dir.path(), "two", &env);
    super::live::healthy(&http, &mut two).await;

    let token = bot_token(1);
    fake.add_bot(&token, "acme_bot");
    let owner_tg = 9_100_001;
    let res = http
        .post(format!("{}/api/platform/v1/tenants", one.base))
        .bearer_auth(&op)
        .json(&json!({ "slug": "acme", "name": "Acme", "bot_token": token, "owner_telegram_id": owner_tg }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let sign_in = async |who: i64| -> String {
        let res = http.post(format!("{}/t/acme/api/v1/auth/telegram", one.base)).json(&json!({ "init_data": init_data(&token, who, chrono::Utc::now().timestamp()) })).send().await.unwrap();
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    };
    let owner = sign_in(owner_tg).await;
    let helper_tg = 9_200_001;
    let helper = sign_in(helper_tg).await;
    let me: Value = http.get(format!("{}/t/acme/api/v1/auth/me", one.base)).bearer_auth(&helper).send().await.unwrap().json().await.unwrap();
    let helper_id = me["id"].as_i64().unwrap();
    let patch = async |body: Value| {
        let res = http.patch(format!("{}/t/acme/api/v1/users/{helper_id}", one.base)).bearer_auth(&owner).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    };
    patch(json!({ "role": "helper" })).await;
    let helper = sign_in(helper_tg).await;
    let customer = sign_in(9_200_002).await;

    // Node two learns of the tenant from the control plane within seconds.
    let mut helper_ws = None;
    for _ in 0..200 {
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&two.base, "acme")).await.unwrap();
        ws.send(Message::text(json!({ "type": "auth", "token": helper }).to_string())).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) if t.contains("ready") => {
                helper_ws = Some(ws);
                break;
            }
            Some(Ok(Message::Close(Some(f)))) if u16::from(f.code) == 4404 => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("{other:?}"),
        }
    }
    let mut helper_ws = helper_ws.expect("node two serves the tenant");
    let mut customer_ws = signed_in(&two.base, "acme", &customer).await;

    patch(json!({ "role": "user" })).await;
    assert_eq!(closed_within(&mut helper_ws, Duration::from_secs(5)).await.0, 4401, "demoted through node one");
    still_open(&mut customer_ws).await;

    let res = http.post(format!("{}/api/platform/v1/tenants/acme/suspend", one.base)).bearer_auth(&op).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Node two hears of it with its next sync (every 3 s), its sockets
    // within their next check (every 2 s).
    assert_eq!(closed_within(&mut customer_ws, Duration::from_secs(10)).await.0, 4423, "suspended through node one");
    drop(one);
    drop(two);
    drop_pg_schemas(&schema).await;
}

/// Sends a request by hand: `head` (without the blank line), then a
/// chunked body of `prefix` and `total` bytes of filler, reading the
/// answer meanwhile. Returns the answer's status and how many body bytes
/// had been sent when it came.
async fn stream_chunked(addr: &str, head: &str, prefix: &[u8], total: usize) -> (u16, usize) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (sent, head, prefix) = (sent.clone(), head.to_owned(), prefix.to_vec());
        tokio::spawn(async move {
            let head = format!("{head}\r\nTransfer-Encoding: chunked\r\n\r\n");
            wr.write_all(head.as_bytes()).await?;
            let chunk = |data: &[u8]| [format!("{:x}\r\n", data.len()).into_bytes(), data.to_vec(), b"\r\n".to_vec()].concat();
            wr.write_all(&chunk(&prefix)).await?;
            sent.fetch_add(prefix.len(), Ordering::SeqCst);
            let filler = chunk(&vec![b'a'; 64 * 1024]);
            while sent.load(Ordering::SeqCst) < total {
                wr.write_all(&filler).await?;
                sent.fetch_add(64 * 1024, Ordering::SeqCst);
            }
            wr.write_all(b"0\r\n\r\n").await?;
            std::io::Result::Ok(())
        })
    };
    let mut answer = Vec::new();
    let status = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let mut b = [0u8; 512];
            let n = rd.read(&mut b).await.unwrap_or(0);
            if n == 0 {
                break None;
            }
            answer.extend_from_slice(&b[..n]);
            if let Some(line) = answer.split(|c| *c == b'\n').next().filter(|_| answer.contains(&b'\n')) {
                break String::from_utf8_lossy(line).split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok());
            }
        }
    })
    .await
    .expect("an answer within 60 s");
    let at = sent.load(Ordering::SeqCst);
    writer.abort();
    (status.unwrap_or_else(|| panic!("no answer: {}", String::from_utf8_lossy(&answer))), at)
}

/// Acceptance: a helper's console session cannot make the server read a
/// 100 MB upload. The server answers while the client is still sending,
/// and reads (by its own count) almost nothing of it; an admin without the
/// CSRF token before the component fares no better.
async fn a_helpers_console_session_cannot_make_the_server_read_a_big_upload(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let helper_tg = 77_001;
    let helper = app.sign_in(&t, helper_tg).await;
    let helper_id = user_id(&app, &helper).await;
    let (s, body) = app.tenant_call(Method::PATCH, "acme", &format!("/users/{helper_id}"), &owner, Some(json!({ "role": "helper" }))).await;
    assert_eq!(s, 200, "{body}");
    let cookie = app.console_cookie(&t, helper_tg).await;
    let page = app.http.get(app.url("/t/acme/admin/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&page);
    let addr = app.address.trim_start_matches("http://").to_owned();
    let form_head = |cookie: &str| {
        format!("POST /t/acme/admin/plugins HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary=XyZ")
    };
    let fields = |csrf: Option<&str>| {
        let mut f = String::new();
        if let Some(c) = csrf {
            f.push_str(&format!("--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{c}\r\n"));
        }
        f.push_str("--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nbig\r\n");
        f.push_str("--XyZ\r\nContent-Disposition: form-data; name=\"component\"; filename=\"big.wasm\"\r\nContent-Type: application/wasm\r\n\r\n");
        f.into_bytes()
    };
    const HUNDRED_MB: usize = 100_000_000;
    let read_before = app.metric("tikethet_request_body_bytes_total").await;
    let (status, sent) = stream_chunked(&addr, &form_head(&cookie), &fields(Some(&csrf)), HUNDRED_MB).await;
    let read = app.metric("tikethet_request_body_bytes_total").await - read_before;
    eprintln!("helper: answered {status} after {sent} bytes were sent; the server read {read}");
    assert_eq!(status, 403, "a helper may not install plugins");
    assert!(sent < HUNDRED_MB, "the answer came only after the whole upload");
    assert!(read < 64 * 1024, "the server read {read} bytes of a helper's upload");

    // An admin's session without the CSRF token before the component.
    let cookie = app.console_cookie(&t, t.owner).await;
    let read_before = app.metric("tikethet_request_body_bytes_total").await;
    let (status, sent) = stream_chunked(&addr, &form_head(&cookie), &fields(None), HUNDRED_MB).await;
    let read = app.metric("tikethet_request_body_bytes_total").await - read_before;
    eprintln!("owner without a token: answered {status} after {sent} bytes were sent; the server read {read}");
    assert_eq!(status, 403);
    assert!(read < 64 * 1024, "the server read {read} bytes of an upload without its CSRF token");
    // Each field has its own limit: a name is short.
    let page = app.http.get(app.url("/t/acme/admin/plugins")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf_in(&page))
        .text("name", "n".repeat(1000))
        .part("component", reqwest::multipart::Part::bytes(vec![0u8; 16]).file_name("x.wasm"));
    let res = app.http.post(app.url("/t/acme/admin/plugins")).header("cookie", &cookie).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let (s, list) = app.tenant_get("acme", "/plugins", &owner).await;
    assert_eq!((s, list["items"].as_array().map(Vec::len)), (200, Some(0)), "nothing installed: {list}");
}

async fn bodies_are_counted_as_read_and_read_only_for_a_known_sender(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let token = app.sign_in(&t, 78_001).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    const CAP: usize = tikethet_plugins::limits::MAX_COMPONENT_BYTES + 64 * 1024;

    // Chunked, with no length, over the API's cap: 413 once the cap is
    // passed, not after the whole body.
    let head = format!("POST /t/acme/api/v1/tickets HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json");
    let read_before = app.metric("tikethet_request_body_bytes_total").await;
    let (status, sent) = stream_chunked(&addr, &head, br#"{"title":"x","description":""#, 64 << 20).await;
    let read = app.metric("tikethet_request_body_bytes_total").await - read_before;
    eprintln!("chunked over the cap: {status} after {sent} bytes sent, {read} read");
    assert_eq!(status, 413);
    assert!((read as usize) < CAP + (1 << 20), "read {read} bytes for a cap of {CAP}");
    assert!(sent < 64 << 20);

    // The same without a valid token: refused before any of it is read.
    for auth in ["", "Authorization: Bearer not-a-token\r\n"] {
        let head = format!("POST /t/acme/api/v1/tickets HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json");
        let read_before = app.metric("tikethet_request_body_bytes_total").await;
        let (status, _) = stream_chunked(&addr, &head, b"{", 64 << 20).await;
        let read = app.metric("tikethet_request_body_bytes_total").await - read_before;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(read, 0, "{auth:?}: read {read} bytes before the token was checked");
    }
    // An upload declared at 40 MB (under the upload cap) without a token:
    // answered before the body it promised is sent.
    let read_before = app.metric("tikethet_request_body_bytes_total").await;
    let head = format!("POST /t/acme/api/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 40000000\r\n\r\n--XyZ\r\n");
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut answer)).await.expect("an answer before the body").unwrap();
    assert_eq!(&answer, b"HTTP/1.1 401", "{}", String::from_utf8_lossy(&answer));
    assert_eq!(app.metric("tikethet_request_body_bytes_total").await - read_before, 0);
    // Sign-ins are small.
    let big_sign_in = json!({ "init_data": "x".repeat(9000) });
    let res = app.http.post(app.url("/t/acme/api/v1/auth/telegram")).json(&big_sign_in).send().await.unwrap();
    assert_eq!(res.status(), 413);
    // A chunked body within the cap is read and answered as before.
    let head = format!("POST /t/acme/api/v1/tickets HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json");
    let (status, _) = stream_chunked(&addr, &head, br#"{"title":"Chunked","description":"works"}"#, 0).await;
    assert_eq!(status, 201);
}

async fn the_platforms_routes_need_its_token_and_stay_off_tenants_domains(b: Backend) {
    let app = spawn_app_with(b, Options { https_public_url: true, ..Options::default() }).await;
    app.create_tenant("acme", 1).await;
    for auth in [None, Some("wrong-token"), Some("")] {
        let mut r = app.http.get(app.url("/metrics"));
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        let res = r.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    assert!(app.metric("tikethet_tenants").await >= 1);

    const DOMAIN: &str = "support.acme.test";
    let res = app.operator(Method::PATCH, "/api/platform/v1/tenants/acme", Some(json!({ "custom_domain": DOMAIN }))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let on = async |host: &str, method: Method, path: &str| -> (u16, String) {
        let res = app.http.request(method, app.url(path)).header("host", host).bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    let platform = url::Url::parse(HTTPS_PUBLIC_URL).unwrap().host_str().unwrap().to_owned();
    for (method, path) in [
        (Method::GET, "/metrics"),
        (Method::GET, "/operator/"),
        (Method::GET, "/operator/login"),
        (Method::POST, "/operator/login"),
        (Method::GET, "/operator"),
        (Method::GET, "/api/platform/v1/tenants"),
        (Method::GET, "/api/platform/v1/tenants/acme"),
    ] {
        let (s, body) = on(DOMAIN, method.clone(), path).await;
        assert_eq!(s, 404, "{method} {path} on the tenant's domain: {body}");
        let (s, body) = on(&platform, method.clone(), path).await;
        assert_ne!(s, 404, "{method} {path} on the platform's host: {body}");
    }
    // The desk itself still answers there.
    assert_eq!(on(DOMAIN, Method::GET, "/healthz").await.0, 200);
    assert_eq!(on(DOMAIN, Method::GET, "/app/").await.0, 200);
}
