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
    /// Contract 1.3.0.
    SetStatus { status: TicketStatus },
    /// Contract 1.3.0: remind staff of the ticket.
    Remind { text: String },
    /// Contract 1.3.0: a custom attribute of the ticket's customer; an
    /// empty value removes it.
    SetAttribute { name: String, value: String },
}

/// A ticket's lifecycle (contract 1.3.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    InProgress,
    WaitingResponse,
    Resolved,
    Closed,
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

/// One of the desk's active tickets as a scheduled run sees it (contract
/// 1.3.0's `desk-ticket`; 1.2.0's `waiting-ticket` is its part that
/// 1.2.0 has, `waiting_since` being `last_message_at`). Times are
/// milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskTicket {
    pub ticket_id: i64,
    pub title: String,
    #[serde(default = "waiting_response")]
    pub status: TicketStatus,
    pub priority: Priority,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// The assignee's Telegram username, or their name without one.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub customer_telegram_id: i64,
    pub customer_name: String,
    #[serde(default)]
    pub customer_username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
    /// When the ticket was opened.
    #[serde(default)]
    pub opened_at: u64,
    /// Its newest message the customer can see: when the wait began.
    #[serde(alias = "waiting_since")]
    pub last_message_at: u64,
    /// When the first service-level target it missed fell due.
    #[serde(default)]
    pub breached_at: Option<u64>,
}

fn waiting_response() -> TicketStatus {
    TicketStatus::WaitingResponse
}

impl DeskTicket {
    /// What the ticket adds to its event's size (see
    /// [`ScheduleEvent::input_bytes`]).
    pub fn input_bytes(&self) -> usize {
        let opt = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        DESK_TICKET_BYTES
            + self.title.len()
            + self.customer_name.len()
            + opt(&self.customer_username)
            + opt(&self.language_code)
            + opt(&self.category)
            + opt(&self.team)
            + opt(&self.assignee)
            + self.tags.iter().map(|t| t.len() + 4).sum::<usize>()
    }
}

/// What each listed ticket counts towards the event's size besides its
/// text fields (its numbers), so that a long list of tickets with short
/// names cannot pass the input cap.
pub const DESK_TICKET_BYTES: usize = 48;

/// A plugin's schedule came due (contract 1.2.0; the lists other than
/// `waiting` are 1.3.0's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEvent {
    /// The schedule's time this run is for, in milliseconds since the Unix
    /// epoch.
    pub scheduled_at: u64,
    /// When the run started, in milliseconds since the Unix epoch.
    pub now: u64,
    /// The schedule as the admin set it (a cron expression).
    #[serde(default)]
    pub schedule: String,
    /// The least age of a listed ticket, in milliseconds.
    #[serde(default)]
    pub waiting_at_least: u64,
    /// Tickets waiting for their customer's answer at least that long, the
    /// most recent wait first (1.3.0 calls it `waiting-for-customer`).
    #[serde(default)]
    pub waiting: Vec<DeskTicket>,
    /// How many tickets wait that long in all.
    #[serde(default)]
    pub waiting_total: u32,
    /// Unassigned tickets opened at least that long ago (1.3.0).
    #[serde(default)]
    pub unassigned: Vec<DeskTicket>,
    #[serde(default)]
    pub unassigned_total: u32,
    /// Tickets the desk owes an answer, waiting at least that long (1.3.0).
    #[serde(default)]
    pub waiting_for_staff: Vec<DeskTicket>,
    #[serde(default)]
    pub waiting_for_staff_total: u32,
    /// Tickets past a service-level target at least that long (1.3.0).
    #[serde(default)]
    pub breached: Vec<DeskTicket>,
    #[serde(default)]
    pub breached_total: u32,
}

impl ScheduleEvent {
    /// The event's size against [`MAX_INPUT_BYTES`](crate::limits::MAX_INPUT_BYTES):
    /// its text fields, and [`DESK_TICKET_BYTES`] per listed ticket.
    pub fn input_bytes(&self) -> usize {
        self.schedule.len()
            + [&self.waiting, &self.unassigned, &self.waiting_for_staff, &self.breached]
                .into_iter()
                .flatten()
                .map(DeskTicket::input_bytes)
                .sum::<usize>()
    }
}

/// What a scheduled run asked for one ticket (contract 1.2.0 and later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketAction {
    pub ticket_id: i64,
    #[serde(flatten)]
    pub action: Action,
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
    OnSchedule(ScheduleEvent),
}

/// What a hook returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HookOutput {
    Actions(Vec<Action>),
    Routing(Routing),
    /// What `on-schedule` returned: actions each naming its ticket.
    TicketActions(Vec<TicketAction>),
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
