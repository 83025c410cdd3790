//! `GET /t/{slug}/ws`: a desk's live events over a WebSocket.
//!
//! The access token travels in the first message (`{"type":"auth","token"}`),
//! never in the URL, which proxies and access logs record. The staff
//! console's pages sign in with their session cookie instead
//! (`{"type":"auth","console":true}`), accepted only from a page of the
//! same origin (the `Origin` header names the host the socket was opened
//! on), so that another site cannot open one with a visitor's cookie. The server then
//! answers `{"type":"ready"}` and pushes the events the user may see:
//! `ticket.created`, `ticket.updated`, `message.created`, `message.updated`
//! (each with the same shape as the API's), `typing`, and to staff
//! `presence` (`ticket_id`, `user_id`, `name`, `typing`, `leaving`: another
//! staff member has the ticket open, is typing a reply, or left it). The
//! client may send `{"type":"typing","ticket_id"}`, `{"type":"ping"}`
//! (answered with `pong`), and, staff, `{"type":"presence","ticket_id",
//! "typing"}` when they open a ticket or start or stop typing in it (answered
//! with `{"type":"presence.others","ticket_id","others"}`, who else is
//! there) or `{"type":"presence","leaving":true}`. The socket then holds
//! that presence: renewed every [`PRESENCE_RENEW`], and ended (`leaving`)
//! when the socket closes, so a console page reports nothing on a timer.
//!
//! A socket costs little before it signs in: it has [`AUTH_WITHIN`] to do
//! so, no message may exceed [`MAX_CLIENT_MESSAGE`] (a longer frame is
//! refused as its header arrives, before its payload is read), and sockets
//! not yet signed in are capped per client address and per node
//! ([`Pending`]; 429 at the upgrade). A signed-in socket lives only as long
//! as its access holds: a change of its user's role, a block or a sign-out
//! reaches it through the live events (every node's), and it checks every
//! [`RECHECK_EVERY`] that its desk is still served (a suspension reaches
//! every node with its next sync).
//!
//! Close codes: 4401 the token was refused or expired, or the user's role
//! changed (refresh it, then reconnect), 4403 blocked, 4404 no such desk,
//! 4423 the desk is suspended, 4408 no auth message in time or the peer went
//! silent, 4429 too many sockets for this user, 4000 the socket fell behind
//! (reconnect and reload), 1009 a message too big, 1011 our fault.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use poem::http::StatusCode;
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig, WebSocketStream};
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};
use poem_openapi::types::ToJSON as _;
use serde_json::{Value, json};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::desk::context::TenantContext;
use tikethet_runtime::domain::TicketId;
use tikethet_runtime::live::Event;
use tikethet_runtime::storage::tenant::TenantStatus;
use tokio::sync::broadcast::error::RecvError;

use super::api::{messages::MessageView, tickets::TicketView};
use crate::AppState;

/// Time a new socket has to authenticate.
pub const AUTH_WITHIN: Duration = Duration::from_secs(5);
/// The server pings this often; browsers answer pings on their own.
const PING_EVERY: Duration = Duration::from_secs(25);
/// How often a socket renews the presence it holds (well within
/// `presence::STALE`), telling the other staff again.
const PRESENCE_RENEW: Duration = Duration::from_secs(6);
/// A socket silent (no message, no pong) this long is closed.
const SILENT_LIMIT: Duration = Duration::from_secs(75);
/// Largest message a client may send, signed in or not (the auth message
/// and a typing notice are tiny).
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// How often a signed-in socket checks that its desk is still served.
const RECHECK_EVERY: Duration = Duration::from_secs(2);
/// A console socket's session is read again every this many rechecks (10 s).
const CONSOLE_RECHECK_TICKS: u64 = 5;
/// Sockets not yet signed in from one client address (an IPv6 /64).
pub const PENDING_PER_ADDRESS: usize = 16;
/// Sockets not yet signed in on one node.
pub const PENDING_TOTAL: usize = 1024;

/// The protocol's own limits: a frame or message over the cap ends the
/// socket (1009) before its payload is buffered, and the read buffer stays
/// small. tungstenite's defaults (64 MiB messages) would let any socket make
/// the server hold 64 MiB.
fn protocol() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(16 * 1024).max_message_size(Some(MAX_CLIENT_MESSAGE)).max_frame_size(Some(MAX_CLIENT_MESSAGE))
}

/// Sockets waiting to sign in, by client address and in all.
pub struct Pending {
    per_address: usize,
    total: usize,
    counts: Mutex<(HashMap<IpAddr, usize>, usize)>,
}

/// A place among the sockets waiting to sign in; dropping it frees it.
pub struct PendingSlot {
    pending: Arc<Pending>,
    key: IpAddr,
}

impl Pending {
    pub fn new(per_address: usize, total: usize) -> Arc<Pending> {
        Arc::new(Pending { per_address, total, counts: Mutex::default() })
    }

    /// A place for a socket from `ip`, or `None` when its address or the
    /// node has as many waiting as it takes.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<PendingSlot> {
        // One IPv6 subscriber holds a whole /64: count it as one address.
        let key = match ip {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked")),
            v4 => v4,
        };
        let mut counts = self.counts.lock().expect("poisoned");
        let here = counts.0.get(&key).copied().unwrap_or(0);
        if here >= self.per_address || counts.1 >= self.total {
            return None;
        }
        counts.0.insert(key, here + 1);
        counts.1 += 1;
        Some(PendingSlot { pending: self.clone(), key })
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut counts = self.pending.counts.lock().expect("poisoned");
        counts.1 -= 1;
        if let Some(n) = counts.0.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.0.remove(&self.key);
            }
        }
    }
}

#[handler]
pub fn socket(Path(slug): Path<String>, req: &Request, ws: WebSocket, Data(state): Data<&AppState>) -> Response {
    let ip = super::limits::client_ip(req).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let Some(waiting) = state.sockets.admit(ip) else {
        return super::error::json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_sockets",
            "too many connections from this address are waiting to sign in; sign in on those first",
        );
    };
    let state = state.clone();
    let console = same_origin(req).then(|| super::console::session_secret(&state, req, &slug)).flatten();
    ws.config(protocol())
        .on_upgrade(move |socket| async move {
            let (mut tx, mut rx) = socket.split();
            let signed_in = authenticate(&state, &slug, console, &mut rx).await;
            drop(waiting);
            let (ctx, token) = match signed_in {
                Ok(signed_in) => signed_in,
                Err((code, why)) => {
                    tx.send(Message::close_with(CloseCode::from(code), why)).await.ok();
                    return;
                }
            };
            serve(&state, &slug, &token, ctx, tx, rx).await;
        })
        .into_response()
}

type Closing = (u16, String);

/// The close a refused sign-in (or a failed re-check) ends with.
fn closing_for(e: RuntimeError) -> Closing {
    match e {
        RuntimeError::Unauthenticated(m) => (4401, m),
        RuntimeError::Forbidden(m) => (4403, m),
        RuntimeError::NotFound(_) => (4404, "no such desk".to_owned()),
        RuntimeError::Suspended => (4423, "this desk is suspended".to_owned()),
        // 1013 "try again later", as the HTTP side's 503.
        RuntimeError::Upgrading => (1013, "this desk is being upgraded; try again in a few seconds".to_owned()),
        other => {
            tracing::error!(error = %format!("{other:#}"), "live socket: sign-in check failed");
            (1011, "something went wrong on our side".to_owned())
        }
    }
}

/// Whether the upgrade request comes from a page of the host it was
/// opened on (browsers always send `Origin` on a WebSocket handshake).
fn same_origin(req: &Request) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    match (header("origin").and_then(|o| o.split_once("://").map(|(_, h)| h)), header("host")) {
        (Some(origin_host), Some(host)) => origin_host.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// How a socket signed in, to check it again the same way.
enum Credential {
    Token(String),
    /// A console session's secret (its cookie).
    Console(String),
}

impl Credential {
    async fn check(&self, state: &AppState, slug: &str) -> Result<TenantContext, RuntimeError> {
        match self {
            Credential::Token(t) => state.runtime.context(slug, t).await,
            Credential::Console(secret) => state.runtime.console_context(slug, secret).await.map(|(ctx, _)| ctx),
        }
    }
}

async fn authenticate(state: &AppState, slug: &str, console: Option<String>, rx: &mut futures::stream::SplitStream<WebSocketStream>) -> Result<(TenantContext, Credential), Closing> {
    let first = tokio::time::timeout(AUTH_WITHIN, rx.next()).await.map_err(|_| (4408, "send {\"type\":\"auth\",\"token\":…} first".to_owned()))?;
    let auth = match first {
        Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(&t).ok().filter(|v| v["type"] == "auth"),
        Some(Err(_)) => return Err((1009, format!("messages are limited to {MAX_CLIENT_MESSAGE} bytes"))),
        _ => None,
    };
    let auth = auth.ok_or((4401, "the first message must be {\"type\":\"auth\",\"token\":…}".to_owned()))?;
    let credential = match (auth["token"].as_str(), auth["console"].as_bool(), console) {
        (Some(token), _, _) => Credential::Token(token.to_owned()),
        (None, Some(true), Some(secret)) => Credential::Console(secret),
        (None, Some(true), None) => return Err((4401, "no console session on this page's origin; sign in to the console".to_owned())),
        _ => return Err((4401, "the first message must be {\"type\":\"auth\",\"token\":…}".to_owned())),
    };
    let ctx = credential.check(state, slug).await.map_err(closing_for)?;
    Ok((ctx, credential))
}

/// The ticket a staff socket is present on, and whether typing.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Here {
    ticket: i64,
    typing: bool,
}

async fn serve(state: &AppState, slug: &str, token: &Credential, ctx: TenantContext, tx: futures::stream::SplitSink<WebSocketStream, Message>, rx: futures::stream::SplitStream<WebSocketStream>) {
    let mut here: Option<Here> = None;
    serve_events(state, slug, token, &ctx, tx, rx, &mut here).await;
    // However the socket ended, its presence ends with it.
    if let Some(h) = here {
        if let Err(e) = ctx.presence(&state.presence, TicketId::new(h.ticket), false, true).await {
            tracing::debug!(error = %e, "could not end a closed socket's presence");
        }
    }
}

async fn serve_events(
    state: &AppState,
    slug: &str,
    token: &Credential,
    ctx: &TenantContext,
    mut tx: futures::stream::SplitSink<WebSocketStream, Message>,
    mut rx: futures::stream::SplitStream<WebSocketStream>,
    here: &mut Option<Here>,
) {
    let mut sub = match ctx.join_live() {
        Ok(s) => s,
        Err(e) => {
            tx.send(Message::close_with(CloseCode::from(4429), e.to_string())).await.ok();
            return;
        }
    };
    if tx.send(Message::text(json!({ "type": "ready" }).to_string())).await.is_err() {
        return;
    }
    let expires_in = Duration::from_secs(u64::try_from(ctx.expires_at() - chrono::Utc::now().timestamp()).unwrap_or(0));
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.tick().await;
    let mut renew = tokio::time::interval(PRESENCE_RENEW);
    // Idle while the socket holds no presence: no burst of renewals after.
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renew.tick().await;
    let mut heard = Instant::now();
    let mut checks: u64 = 0;
    let closing: Closing = loop {
        tokio::select! {
            event = sub.events.recv() => match event {
                Ok(e) if e.concerns_access_of(ctx.viewer().user_id.get()) => {
                    // The token, the user and their role, as a new sign-in
                    // would find them now.
                    match token.check(state, slug).await {
                        Ok(now) if now.viewer().role == ctx.viewer().role => {}
                        Ok(_) => break (4401, "your role changed; sign in again".to_owned()),
                        Err(e) => break closing_for(e),
                    }
                }
                Ok(e) if e.visible_to(&ctx.viewer()) => {
                    if tx.send(Message::text(wire(&e).to_string())).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => break (4000, "fell behind; reconnect and reload".to_owned()),
                Err(RecvError::Closed) => break (1001, "the server is going away".to_owned()),
            },
            msg = rx.next() => {
                heard = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        if t.len() > MAX_CLIENT_MESSAGE {
                            break (1009, "message too big".to_owned());
                        }
                        if let Some(answer) = from_client(state, ctx, &t, here).await {
                            if tx.send(Message::text(answer.to_string())).await.is_err() {
                                return;
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {} // pings are answered by the library; pongs only count as life
                }
            },
            _ = ping.tick() => {
                if heard.elapsed() > SILENT_LIMIT {
                    break (4408, "no answer to pings".to_owned());
                }
                if tx.send(Message::Ping(Vec::new())).await.is_err() {
                    return;
                }
            },
            _ = recheck.tick() => {
                match state.runtime.tenant_by_slug(slug) {
                    Ok(t) if t.info.status == TenantStatus::Suspended => break closing_for(RuntimeError::Suspended),
                    Ok(_) | Err(RuntimeError::Upgrading) => {}
                    Err(e) => break closing_for(e),
                }
                // A console session signed out or revoked elsewhere raises
                // no event: it is read again now and then.
                checks += 1;
                if matches!(token, Credential::Console(_)) && checks % CONSOLE_RECHECK_TICKS == 0 {
                    match token.check(state, slug).await {
                        Ok(_) | Err(RuntimeError::Upgrading) => {}
                        Err(e) => break closing_for(e),
                    }
                }
            },
            _ = renew.tick(), if here.is_some() => {
                if let Some(h) = *here
                    && ctx.presence(&state.presence, TicketId::new(h.ticket), h.typing, false).await.is_err()
                {
                    // The ticket went out of reach (reassigned, merged): no longer there.
                    *here = None;
                }
            },
            () = &mut expiry => break (4401, "the access token expired; refresh it and reconnect".to_owned()),
        }
    };
    tx.send(Message::close_with(CloseCode::from(closing.0), closing.1)).await.ok();
}

/// Handles a client's message; what to answer, if anything.
async fn from_client(state: &AppState, ctx: &TenantContext, text: &str, here: &mut Option<Here>) -> Option<Value> {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return Some(json!({ "type": "error", "message": "messages are JSON objects with a \"type\"" }));
    };
    match msg["type"].as_str() {
        Some("ping") => Some(json!({ "type": "pong" })),
        Some("typing") => {
            let Some(id) = msg["ticket_id"].as_i64() else {
                return Some(json!({ "type": "error", "message": "typing needs a numeric ticket_id" }));
            };
            match ctx.typing(TicketId::new(id)).await {
                Ok(()) => None,
                Err(e) => Some(json!({ "type": "error", "message": e.to_string() })),
            }
        }
        Some("presence") => {
            let leaving = msg["leaving"].as_bool().unwrap_or(false);
            // Leaving needs no ticket: it is the one held.
            let id = match (msg["ticket_id"].as_i64(), leaving) {
                (Some(id), _) => id,
                (None, true) => match *here {
                    Some(h) => h.ticket,
                    None => return None,
                },
                (None, false) => return Some(json!({ "type": "error", "message": "presence needs a numeric ticket_id" })),
            };
            let typing = msg["typing"].as_bool().unwrap_or(false);
            // Moving to another ticket leaves the one before.
            if let Some(h) = *here
                && h.ticket != id
            {
                ctx.presence(&state.presence, TicketId::new(h.ticket), false, true).await.ok();
                *here = None;
            }
            match ctx.presence(&state.presence, TicketId::new(id), typing && !leaving, leaving).await {
                Ok(others) => {
                    *here = (!leaving).then_some(Here { ticket: id, typing });
                    (!leaving).then(|| json!({ "type": "presence.others", "ticket_id": id, "others": others }))
                }
                Err(e) => Some(json!({ "type": "error", "message": e.to_string() })),
            }
        }
        _ => Some(json!({ "type": "error", "message": "unknown message type; known: ping, typing, presence" })),
    }
}

/// An event as the client sees it: the API's shapes under the event's name.
fn wire(e: &Event) -> Value {
    match e {
        Event::TicketCreated { ticket } => json!({ "type": "ticket.created", "ticket": TicketView::from(ticket.clone()).to_json() }),
        Event::TicketUpdated { ticket } => json!({ "type": "ticket.updated", "ticket": TicketView::from(ticket.clone()).to_json() }),
        Event::MessageCreated { audience, message } => {
            json!({ "type": "message.created", "ticket_id": audience.ticket_id, "message": MessageView::from(message.clone()).to_json() })
        }
        Event::MessageUpdated { audience, message } => {
            json!({ "type": "message.updated", "ticket_id": audience.ticket_id, "message": MessageView::from(message.clone()).to_json() })
        }
        Event::Typing { audience, user_id, role } => json!({ "type": "typing", "ticket_id": audience.ticket_id, "user_id": user_id, "role": role }),
        Event::Presence { audience, user_id, name, typing, leaving } => {
            json!({ "type": "presence", "ticket_id": audience.ticket_id, "user_id": user_id, "name": name, "typing": typing, "leaving": leaving })
        }
        // Never sent: `visible_to` holds it back.
        Event::AccessChanged { .. } => json!({ "type": "access.changed" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_sockets_are_capped_per_address_and_in_all_and_freed_on_drop() {
        let pending = Pending::new(2, 3);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a1 = pending.admit(ip("203.0.113.1")).unwrap();
        let _a2 = pending.admit(ip("203.0.113.1")).unwrap();
        assert!(pending.admit(ip("203.0.113.1")).is_none(), "a third from one address");
        assert!(pending.admit(ip("::ffff:203.0.113.1")).is_none(), "the same address written as IPv6");
        let _b = pending.admit(ip("2001:db8::1")).unwrap();
        assert!(pending.admit(ip("203.0.113.2")).is_none(), "the node holds three in all");
        drop(a1);
        let _a3 = pending.admit(ip("203.0.113.1")).expect("a freed place is given again");
        assert!(pending.admit(ip("2001:db8::2")).is_none(), "full again");
        assert_eq!(pending.counts.lock().unwrap().1, 3);
    }

    #[test]
    fn one_ipv6_subscriber_counts_as_one_address() {
        let pending = Pending::new(1, 10);
        let _one = pending.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(pending.admit("2001:db8:1:2:ffff::9".parse().unwrap()).is_none(), "same /64");
        assert!(pending.admit("2001:db8:1:3::1".parse().unwrap()).is_some(), "another /64");
    }
}
