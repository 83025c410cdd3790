//! Contract 1.0.0: its bindings, and the conversions between its types and
//! the latest contract's (1.3.0), so everything past the call is shared.
//! 1.0.0 has no `on-button` and no `on-schedule`. Components built against it must keep working
//! unchanged; `testdata/keyword-reply-1.0.0.wasm` is one.

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::CallState;
use super::v1_3_0::{wit_host as latest_host, wit_types as latest};
use crate::model::*;

// In a module of its own: the world's types are named at its root, and
// would shadow the model's.
mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "wit/v1",
    });
}

use bindings::Plugin;
pub use bindings::PluginPre;
use bindings::tikethet::plugin::types as w;

pub const VERSION: &str = "1.0.0";

/// The interfaces a 1.0.0 component may import.
pub const IMPORTS: &[&str] = &["tikethet:plugin/host@1.0.0", "tikethet:plugin/types@1.0.0"];

/// The exports that make a component a 1.0.0 plugin.
pub const EXPORTS: &[&str] = &["on-message", "on-ticket-created"];

pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
}

pub fn prepare(linker: &Linker<CallState>, component: &Component) -> wasmtime::Result<PluginPre<CallState>> {
    PluginPre::new(linker.instantiate_pre(component)?)
}

pub fn on_message(pre: &PluginPre<CallState>, store: &mut Store<CallState>, e: &MessageEvent) -> wasmtime::Result<Vec<latest::Action>> {
    let event = message_event(super::v1_3_0::message_event(e));
    let out = pre.instantiate(&mut *store)?.call_on_message(store, &event)?;
    Ok(out.into_iter().map(action).collect())
}

pub fn on_ticket_created(pre: &PluginPre<CallState>, store: &mut Store<CallState>, e: &TicketEvent) -> wasmtime::Result<latest::Routing> {
    let event = ticket_event(super::v1_3_0::ticket_event(e));
    let out = pre.instantiate(&mut *store)?.call_on_ticket_created(store, &event)?;
    Ok(routing(out))
}

impl w::Host for CallState {}

/// The host functions are the latest version's; only the types differ.
impl bindings::tikethet::plugin::host::Host for CallState {
    fn config(&mut self) -> String {
        latest_host::Host::config(self)
    }

    fn log(&mut self, level: w::LogLevel, message: String) {
        let level = match level {
            w::LogLevel::Debug => latest::LogLevel::Debug,
            w::LogLevel::Info => latest::LogLevel::Info,
            w::LogLevel::Warn => latest::LogLevel::Warn,
            w::LogLevel::Error => latest::LogLevel::Error,
        };
        latest_host::Host::log(self, level, message)
    }

    fn kv_get(&mut self, key: String) -> Option<String> {
        latest_host::Host::kv_get(self, key)
    }

    fn kv_set(&mut self, key: String, value: String) -> Result<(), String> {
        latest_host::Host::kv_set(self, key, value)
    }

    fn kv_delete(&mut self, key: String) {
        latest_host::Host::kv_delete(self, key)
    }

    fn now_ms(&mut self) -> u64 {
        latest_host::Host::now_ms(self)
    }
}

fn prio_in(p: latest::Priority) -> w::Priority {
    match p {
        latest::Priority::Low => w::Priority::Low,
        latest::Priority::Normal => w::Priority::Normal,
        latest::Priority::High => w::Priority::High,
        latest::Priority::Critical => w::Priority::Critical,
    }
}

fn prio_out(p: w::Priority) -> latest::Priority {
    match p {
        w::Priority::Low => latest::Priority::Low,
        w::Priority::Normal => latest::Priority::Normal,
        w::Priority::High => latest::Priority::High,
        w::Priority::Critical => latest::Priority::Critical,
    }
}

fn message_event(e: latest::MessageEvent) -> w::MessageEvent {
    w::MessageEvent {
        ticket_id: e.ticket_id,
        customer_telegram_id: e.customer_telegram_id,
        customer_name: e.customer_name,
        customer_username: e.customer_username,
        language_code: e.language_code,
        text: e.text,
        sent_at: e.sent_at,
    }
}

fn ticket_event(e: latest::TicketEvent) -> w::TicketEvent {
    w::TicketEvent {
        ticket_id: e.ticket_id,
        title: e.title,
        description: e.description,
        priority: prio_in(e.priority),
        customer_telegram_id: e.customer_telegram_id,
        customer_name: e.customer_name,
    }
}

fn action(a: w::Action) -> latest::Action {
    match a {
        w::Action::Reply(r) => latest::Action::Reply(latest::Reply {
            text: r.text,
            buttons: r.buttons.into_iter().map(|b| latest::Button { text: b.text, data: b.data }).collect(),
        }),
        w::Action::Tag(t) => latest::Action::Tag(t),
        w::Action::SetPriority(p) => latest::Action::SetPriority(prio_out(p)),
        w::Action::SetCategory(c) => latest::Action::SetCategory(c),
        w::Action::Assign(a) => latest::Action::Assign(a),
        w::Action::Note(n) => latest::Action::Note(n),
        w::Action::Stop => latest::Action::Stop,
    }
}

fn routing(r: w::Routing) -> latest::Routing {
    latest::Routing { category: r.category, priority: r.priority.map(prio_out), assignee: r.assignee, tags: r.tags }
}
