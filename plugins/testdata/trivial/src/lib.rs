//! The smallest plugin: no actions. Measures the host's own cost per call.

use tikethet_plugin_sdk::{Action, MessageEvent, Plugin, export};

struct Trivial;

impl Plugin for Trivial {
    fn on_message(_e: MessageEvent) -> Vec<Action> {
        Vec::new()
    }
}

export!(Trivial);
