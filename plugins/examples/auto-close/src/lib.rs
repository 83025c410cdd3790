//! Closes tickets left waiting for their customer: on each scheduled run,
//! every ticket whose customer has not answered the desk for `after_days`
//! or more is told so in the customer's chat, then closed (contract
//! 1.3.0's `set-status`). Config (every field may be left out):
//! `{"after_days": 5, "status": "closed",
//!   "text": "We have not heard from you about “{title}” (#{number}), so we are closing it. Write here any time to open it again.",
//!   "texts": {"de": "…"}}`
//! (`after_days` may be a fraction; `status` is `closed` or `resolved`,
//! which also asks the customer to rate the help; `texts` picks a text by
//! the customer's language code; `{name}`, `{title}`, `{number}` and
//! `{days}` are filled in).
//!
//! Set a schedule for it on the desk (e.g. `0 * * * *`, hourly). What a run
//! returns is applied with the run, so a closed ticket is not listed again;
//! it also remembers in its key-value store which wait of which ticket it
//! closed (`closed`: ticket → the wait's start), so that a ticket the desk
//! could not close is never told twice for the same wait. Each ticket takes
//! two actions (the message, then the status), so a run closes at most 8
//! (the actions a call may return); the others follow at the next run.

use std::collections::{BTreeMap, HashMap};

use tikethet_plugin_sdk::{DeskTicket, LogLevel, Plugin, ScheduleEvent, TicketAction, TicketStatus, config, export, kv, log};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default = "five")]
    after_days: f64,
    #[serde(default = "closed")]
    status: String,
    #[serde(default = "default_text")]
    text: String,
    #[serde(default)]
    texts: HashMap<String, String>,
}

fn five() -> f64 {
    5.0
}

fn closed() -> String {
    "closed".into()
}

fn default_text() -> String {
    "We have not heard from you about “{title}” (#{number}) for {days} days, so we are closing it. Write here any time to open it again.".into()
}

/// Where the closed waits are kept: `{"ticket id": wait's start (ms)}`.
const CLOSED: &str = "closed";
/// Tickets one run may close: two actions each, of the 16 a call may return.
const MAX_PER_RUN: usize = 8;
/// The key-value store's limit on one value.
const MAX_VALUE_BYTES: usize = 4096;
const DAY_MS: f64 = 86_400_000.0;

impl Config {
    fn text_for(&self, t: &DeskTicket) -> String {
        let language = t.language_code.as_deref().and_then(|l| l.split('-').next()).unwrap_or("");
        let days = if self.after_days.fract() == 0.0 { format!("{}", self.after_days as u64) } else { format!("{:.1}", self.after_days) };
        self.texts
            .get(language)
            .unwrap_or(&self.text)
            .replace("{name}", &t.customer_name)
            .replace("{title}", &t.title)
            .replace("{number}", &t.ticket_id.to_string())
            .replace("{days}", &days)
    }

    fn status(&self) -> Result<TicketStatus, String> {
        match self.status.as_str() {
            "closed" => Ok(TicketStatus::Closed),
            "resolved" => Ok(TicketStatus::Resolved),
            other => Err(format!("status must be \"closed\" or \"resolved\", not {other:?}")),
        }
    }
}

struct AutoClose;

impl Plugin for AutoClose {
    fn on_schedule(e: ScheduleEvent) -> Vec<TicketAction> {
        let cfg = match config::<Config>() {
            Ok(c) if c.after_days.is_finite() && c.after_days >= 0.0 => c,
            Ok(_) => {
                log(LogLevel::Error, "after_days must be a number of days, 0 or more");
                return vec![];
            }
            Err(err) => {
                log(LogLevel::Error, &err);
                return vec![];
            }
        };
        let status = match cfg.status() {
            Ok(s) => s,
            Err(err) => {
                log(LogLevel::Error, &err);
                return vec![];
            }
        };
        let after_ms = (cfg.after_days * DAY_MS) as u64;
        let waiting = &e.waiting_for_customer;
        let mut done: BTreeMap<i64, u64> = kv::get(CLOSED).and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default();
        // Forget the waits that are over (when the list is whole; a cut
        // list says nothing of the tickets past its end).
        let listed: HashMap<i64, u64> = waiting.iter().map(|t| (t.ticket_id, t.last_message_at)).collect();
        let whole = waiting.len() == e.totals.waiting_for_customer as usize;
        done.retain(|id, since| listed.get(id).map_or(!whole, |s| s == since));

        let mut out = Vec::new();
        let mut closing = 0;
        // The longest waits first: they are the most overdue.
        let mut due: Vec<&DeskTicket> = waiting.iter().filter(|t| t.waited_ms(e.now) >= after_ms && !done.contains_key(&t.ticket_id)).collect();
        due.sort_by_key(|t| t.last_message_at);
        for t in due {
            if closing == MAX_PER_RUN {
                break;
            }
            done.insert(t.ticket_id, t.last_message_at);
            if serde_json::to_string(&done).map_or(usize::MAX, |s| s.len()) > MAX_VALUE_BYTES {
                done.remove(&t.ticket_id);
                log(LogLevel::Warn, "too many closed tickets to remember; the others wait for the next run");
                break;
            }
            // The customer is told first, then the ticket closes.
            out.push(TicketAction::reply(t.ticket_id, cfg.text_for(t)));
            out.push(TicketAction::set_status(t.ticket_id, status));
            closing += 1;
            log(LogLevel::Info, &format!("closing #{} after {} h without an answer", t.ticket_id, t.waited_ms(e.now) / 3_600_000));
        }
        // Nothing is done unless it is remembered: a customer is never told twice.
        let saved = serde_json::to_string(&done).map_err(|e| e.to_string()).and_then(|v| kv::set(CLOSED, &v));
        if let Err(err) = saved {
            log(LogLevel::Error, &format!("could not remember the closed tickets, so none is closed: {err}"));
            return vec![];
        }
        out
    }
}

export!(AutoClose);
