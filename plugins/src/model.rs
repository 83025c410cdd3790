//! The host's view of events, actions and failures: plain Rust types that
//! every supported contract version converts into.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    pub data: String,
}

/// What a plugin asked for in answer to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    Reply { text: String, buttons: Vec<Button> },
    Tag { tag: String },
    SetPriority { priority: Priority },
    SetCategory { category: String },
    Assign { to: String },
    Note { text: String },
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    #[serde(default)]
    pub ticket_id: Option<i64>,
    pub customer_telegram_id: i64,
    pub customer_name: String,
    #[serde(default)]
    pub customer_username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
    pub text: String,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub sent_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub ticket_id: i64,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub customer_telegram_id: i64,
    pub customer_name: String,
}

/// An inline button pressed by a customer under a message of the bot
/// (contract 1.1.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonEvent {
    #[serde(default)]
    pub ticket_id: Option<i64>,
    pub customer_telegram_id: i64,
    pub customer_name: String,
    #[serde(default)]
    pub customer_username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
    /// The button's callback data, at most 64 bytes (Telegram's limit).
    pub data: String,
    /// The text of the message the button was under.
    #[serde(default)]
    pub message_text: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
}

/// An event for one hook, as `tikethet plugin run --event` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "hook", rename_all = "kebab-case")]
pub enum HookEvent {
    OnMessage(MessageEvent),
    OnTicketCreated(TicketEvent),
    OnButton(ButtonEvent),
}

/// What a hook returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HookOutput {
    Actions(Vec<Action>),
    Routing(Routing),
}

/// What a call may read and change besides its event.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The plugin's configuration (JSON text).
    pub config: String,
    /// The plugin's key-value store before the call.
    pub kv: BTreeMap<String, String>,
    /// The time the plugin sees, in milliseconds since the Unix epoch.
    pub now_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

/// What a call used, against the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub fuel: u64,
    pub peak_memory_bytes: usize,
    pub elapsed: Duration,
}

/// A successful call.
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    pub output: T,
    /// The key-value store after the call (to persist).
    pub kv: BTreeMap<String, String>,
    pub logs: Vec<LogLine>,
    pub usage: Usage,
}

/// Why a plugin call (or an upload) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Not a component of a supported contract version, too large, or it
    /// imports something outside the world.
    Invalid,
    /// The event was larger than the input cap.
    InputTooLarge,
    /// Used all its fuel.
    OutOfFuel,
    /// Ran past its CPU-time deadline (or the wall-clock backstop).
    Timeout,
    /// Tried to grow memory past the cap.
    OutOfMemory,
    /// Trapped (a panic, `unreachable`, a bad memory access).
    Trap,
    /// Returned output past a cap or malformed.
    BadOutput,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Invalid => "invalid",
            FailureKind::InputTooLarge => "input_too_large",
            FailureKind::OutOfFuel => "out_of_fuel",
            FailureKind::Timeout => "timeout",
            FailureKind::OutOfMemory => "out_of_memory",
            FailureKind::Trap => "trap",
            FailureKind::BadOutput => "bad_output",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin failed ({kind}): {message}", kind = kind.as_str())]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    /// What the call had used when it stopped.
    pub usage: Option<Usage>,
    pub logs: Vec<LogLine>,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into(), usage: None, logs: Vec::new() }
    }
}
