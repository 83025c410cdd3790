//! Outbound: what the desk sends to Telegram. A unit of work's
//! [`effects`] are handed here after its commit. Messages are queued in the
//! transaction that decides them and delivered after it commits, one
//! ordered stream per chat ([`sender`]) within Telegram's limits, shared
//! across nodes ([`limiter`]), through the Bot API client ([`telegram`]);
//! staff notifications are queued the same way ([`notify`]), and a staff
//! member's edit or deletion of an answer too ([`changes`]).

pub mod changes;
pub(crate) mod effects;
pub mod limiter;
pub(crate) mod notify;
pub(crate) mod sender;
pub(crate) mod telegram;

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use crate::domain::TenantId;

/// The sender's state: its lanes, the send limits it keeps, and the Bot
/// API client.
pub(crate) struct Outbound {
    /// A lane per chat with messages to send.
    pub(crate) lanes: crate::worker::lanes::Lanes<TenantId, i64>,
    /// Whether the shared rate limits failed on the last try (for logging
    /// the outage once, and its end).
    pub(crate) limits_degraded: AtomicBool,
    /// Send slots a chat reserved under the rate limits, until it uses them.
    pub(crate) slots: Mutex<sender::Slots>,
    /// Sends started per bot over the last second (see the sender).
    pub(crate) send_window: Mutex<sender::SendWindow>,
    /// 429s met per message (see the sender).
    pub(crate) rate_limited: Mutex<sender::RateLimitedCounts>,
    pub(crate) http: reqwest::Client,
    /// Base URL of the Bot API.
    pub(crate) telegram_api_url: url::Url,
    /// Where the desks are served: the Mini App buttons point there.
    pub(crate) public_url: url::Url,
    /// Offer Mini App buttons on a plain-HTTP public URL (`tikethet demo`).
    pub(crate) mini_app_over_http: bool,
}
