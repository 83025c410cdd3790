//! A plugin that does what its config says, for the end-to-end tests of
//! action order, `stop` and the key-value store. Config:
//! `{"kv_set": [["key", "value"]], "echo_kv": "key", "trap": false,
//!   "actions": [["reply", "text"], ["note", "text"], ["tag", "t"], ["stop"],
//!   ["status", "in_progress"], ["remind", "text"], ["attribute", "name", "value"]]}`
//! (contract 1.3.0).
//! Keys are set first; `echo_kv` answers `kv KEY=VALUE` (or `=none`) before
//! the actions; `trap` panics after setting the keys.

use tikethet_plugin_sdk::{Action, Attribute, MessageEvent, Plugin, TicketStatus, config, export, kv};

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Config {
    kv_set: Vec<(String, String)>,
    echo_kv: Option<String>,
    trap: bool,
    actions: Vec<Vec<String>>,
}

struct Scripted;

impl Plugin for Scripted {
    fn on_message(_e: MessageEvent) -> Vec<Action> {
        let cfg = config::<Config>().unwrap_or_default();
        for (k, v) in &cfg.kv_set {
            kv::set(k, v).expect("kv set");
        }
        if cfg.trap {
            panic!("scripted trap");
        }
        let mut out = Vec::new();
        if let Some(key) = &cfg.echo_kv {
            out.push(Action::reply(format!("kv {key}={}", kv::get(key).unwrap_or_else(|| "none".into()))));
        }
        for a in &cfg.actions {
            let arg = a.get(1).cloned().unwrap_or_default();
            out.push(match a.first().map(String::as_str) {
                Some("reply") => Action::reply(arg),
                Some("note") => Action::Note(arg),
                Some("tag") => Action::Tag(arg),
                Some("stop") => Action::Stop,
                Some("status") => Action::SetStatus(match arg.as_str() {
                    "open" => TicketStatus::Open,
                    "in_progress" => TicketStatus::InProgress,
                    "waiting_response" => TicketStatus::WaitingResponse,
                    "resolved" => TicketStatus::Resolved,
                    _ => TicketStatus::Closed,
                }),
                Some("remind") => Action::Remind(arg),
                Some("attribute") => Action::SetAttribute(Attribute { name: arg, value: a.get(2).cloned().unwrap_or_default() }),
                other => panic!("unknown action {other:?}"),
            });
        }
        out
    }
}

export!(Scripted);
