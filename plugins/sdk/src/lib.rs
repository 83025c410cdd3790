//! The TiketHet plugin SDK.
//!
//! A plugin implements [`Plugin`] (every hook has a default that does
//! nothing) and exports it with [`export!`]:
//!
//! ```ignore
//! use tikethet_plugin_sdk::{Action, MessageEvent, Plugin, export};
//!
//! struct Hello;
//! impl Plugin for Hello {
//!     fn on_message(e: MessageEvent) -> Vec<Action> {
//!         if e.text.contains("hello") { vec![Action::reply("Hi there!")] } else { vec![] }
//!     }
//! }
//! export!(Hello);
//! ```
//!
//! Build it into a component with `tikethet plugin build PATH`. The
//! component targets contract [`CONTRACT_VERSION`], recorded in its
//! imports: `tikethet:plugin@1.1.0` (which added `on-button`) by default,
//! `tikethet:plugin@1.2.0` (which added `on-schedule`) with the SDK's
//! `contract-1-2` feature, or `tikethet:plugin@1.3.0` (whose `on-schedule`
//! sees the desk's unassigned, waiting and breached tickets, and which
//! added the actions `set-status` and `remind`) with `contract-1-3`:
//!
//! ```toml
//! tikethet-plugin-sdk = { path = "…/plugins/sdk", features = ["contract-1-3"] }
//! ```
//!
//! A plugin asks for the newer contract only when it needs its hooks, so
//! that rebuilding it with a newer SDK never changes which desks can run
//! it. The host runs components of every supported contract side by side,
//! including those built with SDK 1.0.0.

#[doc(hidden)]
#[cfg(feature = "contract-1-3")]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit/v1.3",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "tikethet_plugin_sdk::bindings",
    });
}

#[doc(hidden)]
#[cfg(not(any(feature = "contract-1-2", feature = "contract-1-3")))]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit/v1.1",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "tikethet_plugin_sdk::bindings",
    });
}

#[doc(hidden)]
#[cfg(all(feature = "contract-1-2", not(feature = "contract-1-3")))]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit/v1.2",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "tikethet_plugin_sdk::bindings",
    });
}

use bindings::tikethet::plugin::host;
pub use bindings::tikethet::plugin::types::{Action, Button, ButtonEvent, LogLevel, MessageEvent, Priority, Reply, Routing, TicketEvent};
#[cfg(all(feature = "contract-1-2", not(feature = "contract-1-3")))]
pub use bindings::tikethet::plugin::types::{ScheduleEvent, TicketAction, WaitingTicket};
#[cfg(feature = "contract-1-3")]
pub use bindings::tikethet::plugin::types::{Attribute, DeskTicket, ScheduleEvent, TicketAction, TicketStatus, TicketTotals};

/// The contract version this SDK targets.
#[cfg(not(any(feature = "contract-1-2", feature = "contract-1-3")))]
pub const CONTRACT_VERSION: &str = "1.1.0";
/// The contract version this SDK targets.
#[cfg(all(feature = "contract-1-2", not(feature = "contract-1-3")))]
pub const CONTRACT_VERSION: &str = "1.2.0";
/// The contract version this SDK targets.
#[cfg(feature = "contract-1-3")]
pub const CONTRACT_VERSION: &str = "1.3.0";

/// A plugin's hooks. Implement the ones you need.
pub trait Plugin {
    /// A customer's message arrived, before the desk handles it.
    fn on_message(_event: MessageEvent) -> Vec<Action> {
        Vec::new()
    }

    /// A ticket was opened: route it.
    fn on_ticket_created(_event: TicketEvent) -> Routing {
        Routing::none()
    }

    /// A customer pressed an inline button under a message of the bot; its
    /// `data` is what the button was made with. The same actions as a
    /// message may answer it.
    fn on_button(_event: ButtonEvent) -> Vec<Action> {
        Vec::new()
    }

    /// The plugin's schedule came due (contract 1.2.0 and later, feature
    /// `contract-1-2` or `contract-1-3`): the event lists the desk's
    /// tickets waiting for their customer's answer (1.3.0: and the
    /// unassigned, those waiting for staff and those past a service-level
    /// target); each action names the ticket it is for, and a reply goes
    /// to that ticket's customer.
    #[cfg(any(feature = "contract-1-2", feature = "contract-1-3"))]
    fn on_schedule(_event: ScheduleEvent) -> Vec<TicketAction> {
        Vec::new()
    }
}

/// Exports a [`Plugin`] implementation as the component's hooks.
#[cfg(not(any(feature = "contract-1-2", feature = "contract-1-3")))]
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __TikethetExport;
        impl $crate::bindings::Guest for __TikethetExport {
            fn on_message(event: $crate::MessageEvent) -> ::std::vec::Vec<$crate::Action> {
                <$plugin as $crate::Plugin>::on_message(event)
            }
            fn on_ticket_created(event: $crate::TicketEvent) -> $crate::Routing {
                <$plugin as $crate::Plugin>::on_ticket_created(event)
            }
            fn on_button(event: $crate::ButtonEvent) -> ::std::vec::Vec<$crate::Action> {
                <$plugin as $crate::Plugin>::on_button(event)
            }
        }
        $crate::bindings::__export_plugin_world!(__TikethetExport with_types_in $crate::bindings);
    };
}

/// Exports a [`Plugin`] implementation as the component's hooks.
#[cfg(any(feature = "contract-1-2", feature = "contract-1-3"))]
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __TikethetExport;
        impl $crate::bindings::Guest for __TikethetExport {
            fn on_message(event: $crate::MessageEvent) -> ::std::vec::Vec<$crate::Action> {
                <$plugin as $crate::Plugin>::on_message(event)
            }
            fn on_ticket_created(event: $crate::TicketEvent) -> $crate::Routing {
                <$plugin as $crate::Plugin>::on_ticket_created(event)
            }
            fn on_button(event: $crate::ButtonEvent) -> ::std::vec::Vec<$crate::Action> {
                <$plugin as $crate::Plugin>::on_button(event)
            }
            fn on_schedule(event: $crate::ScheduleEvent) -> ::std::vec::Vec<$crate::TicketAction> {
                <$plugin as $crate::Plugin>::on_schedule(event)
            }
        }
        $crate::bindings::__export_plugin_world!(__TikethetExport with_types_in $crate::bindings);
    };
}

impl Action {
    /// A plain text reply.
    pub fn reply(text: impl Into<String>) -> Action {
        Action::Reply(Reply { text: text.into(), buttons: Vec::new() })
    }

    /// A reply with inline buttons: `(text, data)` pairs.
    pub fn reply_with_buttons(text: impl Into<String>, buttons: &[(&str, &str)]) -> Action {
        Action::Reply(Reply {
            text: text.into(),
            buttons: buttons.iter().map(|(t, d)| Button { text: (*t).to_owned(), data: (*d).to_owned() }).collect(),
        })
    }
}

#[cfg(any(feature = "contract-1-2", feature = "contract-1-3"))]
impl TicketAction {
    /// A plain text reply to the ticket's customer.
    pub fn reply(ticket_id: i64, text: impl Into<String>) -> TicketAction {
        TicketAction { ticket_id, action: Action::reply(text) }
    }

    /// Any action, on one ticket.
    pub fn on(ticket_id: i64, action: Action) -> TicketAction {
        TicketAction { ticket_id, action }
    }
}

#[cfg(feature = "contract-1-3")]
impl TicketAction {
    /// Moves the ticket to a status (contract 1.3.0).
    pub fn set_status(ticket_id: i64, status: TicketStatus) -> TicketAction {
        TicketAction { ticket_id, action: Action::SetStatus(status) }
    }

    /// Reminds staff of the ticket (contract 1.3.0): its assignee, or the
    /// moderators and up when it has none.
    pub fn remind(ticket_id: i64, text: impl Into<String>) -> TicketAction {
        TicketAction { ticket_id, action: Action::Remind(text.into()) }
    }
}

#[cfg(feature = "contract-1-3")]
impl DeskTicket {
    /// How long ago, at `now` (milliseconds since the Unix epoch), the
    /// ticket's newest message the customer can see was written: how long
    /// its wait has lasted.
    pub fn waited_ms(&self, now: u64) -> u64 {
        now.saturating_sub(self.last_message_at)
    }
}

impl Routing {
    /// Routing that changes nothing.
    pub fn none() -> Routing {
        Routing { category: None, priority: None, assignee: None, tags: Vec::new() }
    }
}

/// The plugin's configuration, parsed from the JSON the admin set.
pub fn config<T: serde::de::DeserializeOwned>() -> Result<T, String> {
    serde_json::from_str(&host::config()).map_err(|e| format!("bad plugin config: {e}"))
}

/// The plugin's configuration as JSON text.
pub fn config_json() -> String {
    host::config()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    host::now_ms()
}

/// Writes a line to the plugin's log.
pub fn log(level: LogLevel, message: &str) {
    host::log(level, message)
}

/// The plugin's own small key-value store (per tenant).
pub mod kv {
    use super::host;

    pub fn get(key: &str) -> Option<String> {
        host::kv_get(key)
    }

    /// Fails when the store is full or the key or value is too long.
    pub fn set(key: &str, value: &str) -> Result<(), String> {
        host::kv_set(key, value)
    }

    pub fn delete(key: &str) {
        host::kv_delete(key)
    }
}
