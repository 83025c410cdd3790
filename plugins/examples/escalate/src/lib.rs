//! Escalates what the desk is letting slip: on each scheduled run, every
//! ticket left unassigned for `unassigned_hours` or more is tagged, given
//! to a team (whose rule picks an agent) and its staff reminded; every
//! ticket past a service-level target is tagged, raised to high priority
//! and its staff reminded. Config (every field may be left out):
//! `{"unassigned_hours": 2, "team": "Tier 2", "tag": "escalated",
//!   "breached_tag": "sla-breached"}`
//! (`unassigned_hours` may be a fraction; without `team` the ticket is only
//! tagged and the moderators reminded).
//!
//! The tags are its memory: a ticket already tagged is left alone, so each
//! ticket is escalated once (and an agent may remove the tag to have it
//! escalated again). Each escalation takes three or four actions, so a run
//! escalates the first few the actions a call may return allow; the others
//! follow at the next run.

use tikethet_plugin_sdk::{Action, DeskTicket, LogLevel, Plugin, Priority, ScheduleEvent, TicketAction, config, export, log};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default = "two")]
    unassigned_hours: f64,
    #[serde(default)]
    team: Option<String>,
    #[serde(default = "escalated")]
    tag: String,
    #[serde(default = "sla_breached")]
    breached_tag: String,
}

fn two() -> f64 {
    2.0
}

fn escalated() -> String {
    "escalated".into()
}

fn sla_breached() -> String {
    "sla-breached".into()
}

/// The actions a call may return.
const MAX_ACTIONS: usize = 16;
const HOUR_MS: f64 = 3_600_000.0;

fn hours(ms: u64) -> String {
    format!("{:.1}", ms as f64 / HOUR_MS)
}

fn tagged(t: &DeskTicket, tag: &str) -> bool {
    t.tags.iter().any(|x| x.eq_ignore_ascii_case(tag))
}

struct Escalate;

impl Plugin for Escalate {
    fn on_schedule(e: ScheduleEvent) -> Vec<TicketAction> {
        let cfg = match config::<Config>() {
            Ok(c) if c.unassigned_hours.is_finite() && c.unassigned_hours >= 0.0 => c,
            Ok(_) => {
                log(LogLevel::Error, "unassigned_hours must be a number of hours, 0 or more");
                return vec![];
            }
            Err(err) => {
                log(LogLevel::Error, &err);
                return vec![];
            }
        };
        let after_ms = (cfg.unassigned_hours * HOUR_MS) as u64;
        let mut out: Vec<TicketAction> = Vec::new();
        // Breached tickets first: a missed promise is the more urgent.
        for t in e.breached.iter().filter(|t| !tagged(t, &cfg.breached_tag)) {
            let Some(since) = t.breached_at else { continue };
            let plan = vec![
                TicketAction::on(t.ticket_id, Action::Tag(cfg.breached_tag.clone())),
                TicketAction::on(t.ticket_id, Action::SetPriority(Priority::High)),
                TicketAction::remind(t.ticket_id, format!("past its service-level target for {} h; raised to high priority", hours(e.now.saturating_sub(since)))),
            ];
            if out.len() + plan.len() > MAX_ACTIONS {
                break;
            }
            out.extend(plan);
        }
        for t in e.unassigned.iter().filter(|t| e.now.saturating_sub(t.opened_at) >= after_ms && !tagged(t, &cfg.tag)) {
            let waited = hours(e.now.saturating_sub(t.opened_at));
            let mut plan = vec![TicketAction::on(t.ticket_id, Action::Tag(cfg.tag.clone()))];
            let text = match &cfg.team {
                Some(team) => {
                    plan.push(TicketAction::on(t.ticket_id, Action::Assign(team.clone())));
                    format!("unassigned for {waited} h; given to {team}")
                }
                None => format!("unassigned for {waited} h"),
            };
            plan.push(TicketAction::remind(t.ticket_id, text));
            if out.len() + plan.len() > MAX_ACTIONS {
                log(LogLevel::Info, "more tickets to escalate than one run may; the others follow at the next run");
                break;
            }
            out.extend(plan);
        }
        out
    }
}

export!(Escalate);
