//! `GET /t/{slug}/ws`: a desk's live events over a WebSocket.
//!
//! The access token travels in the first message (`{"type":"auth","token"}`),
//! never in the URL, which proxies and access logs record. The server then
//! answers `{"type":"ready"}` and pushes the events the user may see:
//! `ticket.created`, `ticket.updated`, `message.created`, `message.updated`
//! (each with the same shape as the API's), and `typing`. The client may
//! send `{"type":"typing","ticket_id"}` and `{"type":"ping"}` (answered with
//! `pong`).
//!
//! Close codes: 4401 the token was refused or expired (refresh it, then
//! reconnect), 4403 blocked, 4404 no such desk, 4423 the desk is suspended,
//! 4408 no auth message in time or the peer went silent, 4429 too many
//! sockets for this user, 4000 the socket fell behind (reconnect and reload),
//! 1011 our fault.

use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketStream};
use poem::web::{Data, Path};
use poem::{IntoResponse, handler};
use poem_openapi::types::ToJSON as _;
use serde_json::{Value, json};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::api::TenantContext;
use tikethet_runtime::domain::TicketId;
use tikethet_runtime::live::Event;
use tokio::sync::broadcast::error::RecvError;

use super::tenant::{MessageView, TicketView};
use crate::AppState;

/// Time a new socket has to authenticate.
const AUTH_WITHIN: Duration = Duration::from_secs(10);
/// The server pings this often; browsers answer pings on their own.
const PING_EVERY: Duration = Duration::from_secs(25);
/// A socket silent (no message, no pong) this long is closed.
const SILENT_LIMIT: Duration = Duration::from_secs(75);
/// Largest message a client may send (a typing notice is tiny).
const MAX_CLIENT_MESSAGE: usize = 4096;

#[handler]
pub fn socket(Path(slug): Path<String>, ws: WebSocket, Data(state): Data<&AppState>) -> impl IntoResponse {
    let state = state.clone();
    ws.on_upgrade(move |socket| async move {
        let (mut tx, mut rx) = socket.split();
        let ctx = match authenticate(&state, &slug, &mut rx).await {
            Ok(ctx) => ctx,
            Err((code, why)) => {
                tx.send(Message::close_with(CloseCode::from(code), why)).await.ok();
                return;
            }
        };
        serve(ctx, tx, rx).await;
    })
}

type Closing = (u16, String);

async fn authenticate(state: &AppState, slug: &str, rx: &mut futures::stream::SplitStream<WebSocketStream>) -> Result<TenantContext, Closing> {
    let first = tokio::time::timeout(AUTH_WITHIN, rx.next()).await.map_err(|_| (4408, "send {\"type\":\"auth\",\"token\":…} first".to_owned()))?;
    let token = match first {
        Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(&t)
            .ok()
            .filter(|v| v["type"] == "auth")
            .and_then(|v| v["token"].as_str().map(str::to_owned)),
        _ => None,
    };
    let token = token.ok_or((4401, "the first message must be {\"type\":\"auth\",\"token\":…}".to_owned()))?;
    state.runtime.context(slug, &token).await.map_err(|e| match e {
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
    })
}

async fn serve(ctx: TenantContext, mut tx: futures::stream::SplitSink<WebSocketStream, Message>, mut rx: futures::stream::SplitStream<WebSocketStream>) {
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
    let expires_in = Duration::from_secs(u64::try_from(ctx.expires_at - chrono::Utc::now().timestamp()).unwrap_or(0));
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut heard = Instant::now();
    let closing: Closing = loop {
        tokio::select! {
            event = sub.events.recv() => match event {
                Ok(e) if e.visible_to(&ctx.viewer) => {
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
                        if let Some(answer) = from_client(&ctx, &t).await {
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
            () = &mut expiry => break (4401, "the access token expired; refresh it and reconnect".to_owned()),
        }
    };
    tx.send(Message::close_with(CloseCode::from(closing.0), closing.1)).await.ok();
}

/// Handles a client's message; what to answer, if anything.
async fn from_client(ctx: &TenantContext, text: &str) -> Option<Value> {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return Some(json!({ "type": "error", "message": "messages are JSON objects with a \"type\"" }));
    };
    match msg["type"].as_str() {
        Some("ping") => Some(json!({ "type": "pong" })),
        Some("typing") => {
            let Some(id) = msg["ticket_id"].as_i64() else {
                return Some(json!({ "type": "error", "message": "typing needs a numeric ticket_id" }));
            };
            match ctx.typing(TicketId(id)).await {
                Ok(()) => None,
                Err(e) => Some(json!({ "type": "error", "message": e.to_string() })),
            }
        }
        _ => Some(json!({ "type": "error", "message": "unknown message type; known: ping, typing" })),
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
    }
}
