//! Nudges customers who have left the desk's answer unanswered: on each
//! scheduled run, every ticket that has waited for its customer for
//! `after_hours` or more gets one gentle reminder in the customer's chat.
//! Config (every field may be left out):
//! `{"after_hours": 24, "text": "Hi {name}, is “{title}” (#{number}) sorted?",
//!   "texts": {"de": "Hallo {name}, …"}}`
//! (`after_hours` may be a fraction; `texts` picks a text by the customer's
//! language code; `{name}`, `{title}` and `{number}` are filled in).
//!
//! Set a schedule for it on the desk (e.g. `0 * * * *`, hourly). It
//! remembers in its key-value store which wait of which ticket it nudged
//! (`nudged`: ticket → the wait's start), so a ticket is nudged once per
//! wait however many runs see it; a ticket the customer answered and the
//! desk answered again waits anew and may be nudged again. It sends at most
//! 16 reminders a run (the actions a call may return); the others come at
//! the next run.

use std::collections::{BTreeMap, HashMap};

use tikethet_plugin_sdk::{LogLevel, Plugin, ScheduleEvent, TicketAction, WaitingTicket, config, export, kv, log};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default = "a_day")]
    after_hours: f64,
    #[serde(default = "default_text")]
    text: String,
    #[serde(default)]
    texts: HashMap<String, String>,
}

fn a_day() -> f64 {
    24.0
}

fn default_text() -> String {
    "Hi {name}! Is there anything else we can do for “{title}” (#{number})? Just reply here and we will pick it up.".into()
}

/// Where the nudged waits are kept: `{"ticket id": wait's start (ms)}`.
const NUDGED: &str = "nudged";
/// Reminders one run may send (the actions a call may return).
const MAX_PER_RUN: usize = 16;
/// The key-value store's limit on one value.
const MAX_VALUE_BYTES: usize = 4096;

impl Config {
    fn text_for(&self, t: &WaitingTicket) -> String {
        let language = t.language_code.as_deref().and_then(|l| l.split('-').next()).unwrap_or("");
        self.texts
            .get(language)
            .unwrap_or(&self.text)
            .replace("{name}", &t.customer_name)
            .replace("{title}", &t.title)
            .replace("{number}", &t.ticket_id.to_string())
    }
}

struct Nudge;

impl Plugin for Nudge {
    fn on_schedule(e: ScheduleEvent) -> Vec<TicketAction> {
        let cfg = match config::<Config>() {
            Ok(c) if c.after_hours.is_finite() && c.after_hours >= 0.0 => c,
            Ok(_) => {
                log(LogLevel::Error, "after_hours must be a number of hours, 0 or more");
                return vec![];
            }
            Err(err) => {
                log(LogLevel::Error, &err);
                return vec![];
            }
        };
        let after_ms = (cfg.after_hours * 3_600_000.0) as u64;
        let mut nudged: BTreeMap<i64, u64> = kv::get(NUDGED).and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default();
        // Forget the waits that are over: a ticket that waits anew, or one
        // the desk no longer lists (when the list is whole; a cut list says
        // nothing of the tickets past its end).
        let listed: HashMap<i64, u64> = e.waiting.iter().map(|t| (t.ticket_id, t.waiting_since)).collect();
        let whole = e.waiting.len() == e.waiting_total as usize;
        nudged.retain(|id, since| listed.get(id).map_or(!whole, |s| s == since));

        let mut out = Vec::new();
        for t in &e.waiting {
            if out.len() == MAX_PER_RUN {
                break;
            }
            if e.now.saturating_sub(t.waiting_since) < after_ms || nudged.contains_key(&t.ticket_id) {
                continue;
            }
            nudged.insert(t.ticket_id, t.waiting_since);
            if serde_json::to_string(&nudged).map_or(usize::MAX, |s| s.len()) > MAX_VALUE_BYTES {
                nudged.remove(&t.ticket_id);
                log(LogLevel::Warn, "too many nudged tickets to remember; the others wait for the next run");
                break;
            }
            out.push(TicketAction::reply(t.ticket_id, cfg.text_for(t)));
        }
        // Nothing is sent unless it is remembered: a nudge never repeats.
        let saved = serde_json::to_string(&nudged).map_err(|e| e.to_string()).and_then(|v| kv::set(NUDGED, &v));
        if let Err(err) = saved {
            log(LogLevel::Error, &format!("could not remember the nudges, so none is sent: {err}"));
            return vec![];
        }
        out
    }
}

export!(Nudge);
