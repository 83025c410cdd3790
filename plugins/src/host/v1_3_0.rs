//! Contract 1.3.0, the latest: its bindings, the host interface itself, and
//! the conversions between its types and the host's model, with the output
//! caps checked on the way in. Older versions convert into these types.

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::CallState;
use crate::limits::*;
use crate::model::*;

// In a module of its own: the world's types are named at its root, and
// would shadow the model's.
mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "wit/v1.3",
    });
}

use bindings::Plugin;
pub use bindings::PluginPre;
use bindings::tikethet::plugin::types as w;

/// For older versions, which convert into these types.
pub use bindings::tikethet::plugin::{host as wit_host, types as wit_types};

pub const VERSION: &str = "1.3.0";

/// The interfaces a 1.3.0 component may import.
pub const IMPORTS: &[&str] = &["tikethet:plugin/host@1.3.0", "tikethet:plugin/types@1.3.0"];

/// The exports that make a component a 1.3.0 plugin (those of 1.2.0).
pub const EXPORTS: &[&str] = &["on-message", "on-ticket-created", "on-button", "on-schedule"];

pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
}

pub fn prepare(linker: &Linker<CallState>, component: &Component) -> wasmtime::Result<PluginPre<CallState>> {
    PluginPre::new(linker.instantiate_pre(component)?)
}

pub fn on_message(pre: &PluginPre<CallState>, store: &mut Store<CallState>, e: &MessageEvent) -> wasmtime::Result<Vec<w::Action>> {
    pre.instantiate(&mut *store)?.call_on_message(store, &message_event(e))
}

pub fn on_ticket_created(pre: &PluginPre<CallState>, store: &mut Store<CallState>, e: &TicketEvent) -> wasmtime::Result<w::Routing> {
    pre.instantiate(&mut *store)?.call_on_ticket_created(store, &ticket_event(e))
}

pub fn on_button(pre: &PluginPre<CallState>, store: &mut Store<CallState>, e: &ButtonEvent) -> wasmtime::Result<Vec<w::Action>> {
    pre.instantiate(&mut *store)?.call_on_button(store, &button_event(e))
}

pub fn on_schedule(pre: &PluginPre<CallState>, store: &mut Store<CallState>, e: &ScheduleEvent) -> wasmtime::Result<Vec<w::TicketAction>> {
    pre.instantiate(&mut *store)?.call_on_schedule(store, &schedule_event(e))
}

impl w::Host for CallState {}

impl bindings::tikethet::plugin::host::Host for CallState {
    fn config(&mut self) -> String {
        self.config.clone()
    }

    fn log(&mut self, level: w::LogLevel, message: String) {
        if self.logs.len() >= MAX_LOG_LINES {
            return;
        }
        let level = match level {
            w::LogLevel::Debug => "debug",
            w::LogLevel::Info => "info",
            w::LogLevel::Warn => "warn",
            w::LogLevel::Error => "error",
        };
        self.logs.push(LogLine { level: level.into(), message: message.chars().take(MAX_LOG_LINE_CHARS).collect() });
    }

    fn kv_get(&mut self, key: String) -> Option<String> {
        self.kv.get(&key).cloned()
    }

    fn kv_set(&mut self, key: String, value: String) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_KV_KEY_BYTES {
            return Err(format!("keys must be 1 to {MAX_KV_KEY_BYTES} bytes"));
        }
        if value.len() > MAX_KV_VALUE_BYTES {
            return Err(format!("values must be at most {MAX_KV_VALUE_BYTES} bytes"));
        }
        if !self.kv.contains_key(&key) && self.kv.len() >= MAX_KV_KEYS {
            return Err(format!("the store is full ({MAX_KV_KEYS} keys)"));
        }
        self.kv.insert(key, value);
        Ok(())
    }

    fn kv_delete(&mut self, key: String) {
        self.kv.remove(&key);
    }

    fn now_ms(&mut self) -> u64 {
        self.now_ms
    }
}

pub fn prio_in(p: Priority) -> w::Priority {
    match p {
        Priority::Low => w::Priority::Low,
        Priority::Normal => w::Priority::Normal,
        Priority::High => w::Priority::High,
        Priority::Critical => w::Priority::Critical,
    }
}

fn prio_out(p: w::Priority) -> Priority {
    match p {
        w::Priority::Low => Priority::Low,
        w::Priority::Normal => Priority::Normal,
        w::Priority::High => Priority::High,
        w::Priority::Critical => Priority::Critical,
    }
}

pub fn message_event(e: &MessageEvent) -> w::MessageEvent {
    w::MessageEvent {
        ticket_id: e.ticket_id,
        customer_telegram_id: e.customer_telegram_id,
        customer_name: e.customer_name.clone(),
        customer_username: e.customer_username.clone(),
        language_code: e.language_code.clone(),
        text: e.text.clone(),
        sent_at: e.sent_at,
    }
}

pub fn ticket_event(e: &TicketEvent) -> w::TicketEvent {
    w::TicketEvent {
        ticket_id: e.ticket_id,
        title: e.title.clone(),
        description: e.description.clone(),
        priority: prio_in(e.priority),
        customer_telegram_id: e.customer_telegram_id,
        customer_name: e.customer_name.clone(),
    }
}

pub fn button_event(e: &ButtonEvent) -> w::ButtonEvent {
    w::ButtonEvent {
        ticket_id: e.ticket_id,
        customer_telegram_id: e.customer_telegram_id,
        customer_name: e.customer_name.clone(),
        customer_username: e.customer_username.clone(),
        language_code: e.language_code.clone(),
        data: e.data.clone(),
        message_text: e.message_text.clone(),
    }
}

fn status_in(s: TicketStatus) -> w::TicketStatus {
    match s {
        TicketStatus::Open => w::TicketStatus::Open,
        TicketStatus::InProgress => w::TicketStatus::InProgress,
        TicketStatus::WaitingResponse => w::TicketStatus::WaitingResponse,
        TicketStatus::Resolved => w::TicketStatus::Resolved,
        TicketStatus::Closed => w::TicketStatus::Closed,
    }
}

fn status_out(s: w::TicketStatus) -> TicketStatus {
    match s {
        w::TicketStatus::Open => TicketStatus::Open,
        w::TicketStatus::InProgress => TicketStatus::InProgress,
        w::TicketStatus::WaitingResponse => TicketStatus::WaitingResponse,
        w::TicketStatus::Resolved => TicketStatus::Resolved,
        w::TicketStatus::Closed => TicketStatus::Closed,
    }
}

pub fn desk_ticket(t: &DeskTicket) -> w::DeskTicket {
    w::DeskTicket {
        ticket_id: t.ticket_id,
        title: t.title.clone(),
        status: status_in(t.status),
        priority: prio_in(t.priority),
        category: t.category.clone(),
        team: t.team.clone(),
        assignee: t.assignee.clone(),
        tags: t.tags.clone(),
        customer_telegram_id: t.customer_telegram_id,
        customer_name: t.customer_name.clone(),
        customer_username: t.customer_username.clone(),
        language_code: t.language_code.clone(),
        opened_at: t.opened_at,
        last_message_at: t.last_message_at,
        breached_at: t.breached_at,
    }
}

pub fn schedule_event(e: &ScheduleEvent) -> w::ScheduleEvent {
    let list = |l: &[DeskTicket]| l.iter().map(desk_ticket).collect();
    w::ScheduleEvent {
        scheduled_at: e.scheduled_at,
        now: e.now,
        schedule: e.schedule.clone(),
        waiting_at_least: e.waiting_at_least,
        unassigned: list(&e.unassigned),
        waiting_for_staff: list(&e.waiting_for_staff),
        waiting_for_customer: list(&e.waiting),
        breached: list(&e.breached),
        totals: w::TicketTotals {
            unassigned: e.unassigned_total,
            waiting_for_staff: e.waiting_for_staff_total,
            waiting_for_customer: e.waiting_total,
            breached: e.breached_total,
        },
    }
}

fn text(what: &str, s: String, max: usize) -> Result<String, String> {
    let n = s.chars().count();
    if n == 0 || n > max {
        return Err(format!("{what} must be 1 to {max} characters, got {n}"));
    }
    Ok(s)
}

/// The actions a plugin returned, checked against the output caps.
pub fn actions(out: Vec<w::Action>) -> Result<Vec<Action>, String> {
    if out.len() > MAX_ACTIONS {
        return Err(format!("returned {} actions; the limit is {MAX_ACTIONS}", out.len()));
    }
    out.into_iter().map(action).collect()
}

/// The ticket actions of `on-schedule`, checked against the same caps as
/// a message's actions.
pub fn ticket_actions(out: Vec<w::TicketAction>) -> Result<Vec<TicketAction>, String> {
    if out.len() > MAX_ACTIONS {
        return Err(format!("returned {} actions; the limit is {MAX_ACTIONS}", out.len()));
    }
    out.into_iter().map(|a| Ok(TicketAction { ticket_id: a.ticket_id, action: action(a.action)? })).collect()
}

fn action(a: w::Action) -> Result<Action, String> {
    Ok(match a {
        w::Action::Reply(r) => {
            if r.buttons.len() > MAX_BUTTONS {
                return Err(format!("a reply has {} buttons; the limit is {MAX_BUTTONS}", r.buttons.len()));
            }
            let buttons = r
                .buttons
                .into_iter()
                .map(|b| {
                    if b.data.len() > MAX_BUTTON_DATA_BYTES {
                        return Err(format!("button data is {} bytes; the limit is {MAX_BUTTON_DATA_BYTES}", b.data.len()));
                    }
                    Ok(Button { text: text("a button's text", b.text, MAX_BUTTON_TEXT_CHARS)?, data: b.data })
                })
                .collect::<Result<_, String>>()?;
            Action::Reply { text: text("a reply", r.text, MAX_TEXT_CHARS)?, buttons }
        }
        w::Action::Tag(t) => Action::Tag { tag: text("a tag", t, MAX_LABEL_CHARS)? },
        w::Action::SetPriority(p) => Action::SetPriority { priority: prio_out(p) },
        w::Action::SetCategory(c) => Action::SetCategory { category: text("a category", c, MAX_LABEL_CHARS)? },
        w::Action::Assign(a) => Action::Assign { to: text("an assignee", a, MAX_LABEL_CHARS)? },
        w::Action::Note(n) => Action::Note { text: text("a note", n, MAX_TEXT_CHARS)? },
        w::Action::Stop => Action::Stop,
        w::Action::SetStatus(st) => Action::SetStatus { status: status_out(st) },
        w::Action::Remind(r) => Action::Remind { text: text("a reminder", r, MAX_TEXT_CHARS)? },
        w::Action::SetAttribute(a) => {
            let ok = !a.name.is_empty() && a.name.len() <= 64 && a.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(format!("an attribute's name is 1 to 64 lowercase letters, digits and _, got {:?}", a.name));
            }
            if a.value.chars().count() > MAX_ATTRIBUTE_CHARS || a.value.chars().any(char::is_control) {
                return Err(format!("an attribute's value is up to {MAX_ATTRIBUTE_CHARS} characters on one line"));
            }
            Action::SetAttribute { name: a.name, value: a.value }
        }
    })
}

/// The routing a plugin returned, checked against the output caps.
pub fn routing(r: w::Routing) -> Result<Routing, String> {
    if r.tags.len() > MAX_TAGS {
        return Err(format!("returned {} tags; the limit is {MAX_TAGS}", r.tags.len()));
    }
    Ok(Routing {
        category: r.category.map(|c| text("a category", c, MAX_LABEL_CHARS)).transpose()?,
        priority: r.priority.map(prio_out),
        assignee: r.assignee.map(|a| text("an assignee", a, MAX_LABEL_CHARS)).transpose()?,
        tags: r.tags.into_iter().map(|t| text("a tag", t, MAX_LABEL_CHARS)).collect::<Result<_, _>>()?,
    })
}
