//! The service-level watch: every `TIKETHET_SLA_CHECK_SECS` each desk with
//! targets has its open tickets checked. Three quarters into a target the
//! assignee (or, unassigned, the moderators and up) is reminded; past it,
//! admins and the owner (and the assignee) are told. Each alert is written
//! down with its messages in one transaction, keyed by ticket and kind, so
//! it goes out once however many passes or restarts see it; one first seen
//! over an hour late is written down without messages.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tikethet_themes::BotText;

use crate::Runtime;
use crate::outbound::effects::Effects;
use crate::desk::sla::SlaPolicy;
use crate::domain::{Role, TicketStatus};
use crate::storage::entities::{sla_alerts, tickets, users};
use crate::error::RuntimeError;
use crate::outbound::notify::MAX_NEW_TICKET_RECIPIENTS;
use crate::storage::tenant::Tenant;

/// Open tickets checked per desk and pass, oldest first.
const MAX_CHECKED: u64 = 5000;
/// An alert first seen this long after its moment (targets just set on old
/// tickets, a node down for hours) is recorded without messages: news that
/// old would only flood the staff.
pub const STALE_ALERT: Duration = Duration::hours(1);

/// What is due on a ticket now: `(kind, due, breached, since)` for each
/// target, `since` the moment the alert became due.
pub fn due_alerts(policy: &SlaPolicy, t: &tickets::Model, now: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>, bool, DateTime<Utc>)> {
    let p = t.priority;
    let targets = policy.targets(p);
    let mut out = Vec::new();
    // A ticket reopened after a resolution is not resolved.
    let finished = !t.status.is_active();
    for (kind, target, done) in [("first_response", targets.first_response, t.first_response_at.is_some()), ("resolution", targets.resolution, finished)] {
        let Some(minutes) = target.filter(|_| !done) else { continue };
        let due = policy.after(t.created_at, minutes);
        let remind = policy.after(t.created_at, minutes * 3 / 4);
        if now >= due {
            out.push((kind, due, true, due));
        } else if now >= remind {
            out.push((kind, due, false, remind));
        }
    }
    out
}

/// A time as the desk reads it: in its business hours' zone, else UTC.
fn local(policy: &SlaPolicy, t: DateTime<Utc>) -> String {
    match &policy.hours {
        Some(h) => format!("{} ({})", h.zone.local(t).format("%Y-%m-%d %H:%M"), h.zone.label()),
        None => format!("{} UTC", t.format("%Y-%m-%d %H:%M")),
    }
}

impl Runtime {
    /// One pass over a desk's open tickets; returns the alerts sent.
    pub async fn check_sla(&self, tenant: &Tenant, now: DateTime<Utc>) -> Result<usize, RuntimeError> {
        let Some(policy) = tenant.info.sla.as_ref() else { return Ok(0) };
        let txn = tenant.db.begin().await?;
        let open = tickets::Entity::find()
            .filter(tickets::Column::Status.is_in([TicketStatus::Open, TicketStatus::InProgress, TicketStatus::WaitingResponse].map(|s| s.as_str())))
            .order_by_asc(tickets::Column::Id)
            .limit(MAX_CHECKED)
            .all(&txn)
            .await?;
        let mut kicks = Effects::default();
        let mut sent = 0;
        for t in &open {
            for (kind, due, breached, since) in due_alerts(policy, t, now) {
                let key = format!("{kind}_{}", if breached { "breach" } else { "reminder" });
                let fresh = sla_alerts::Entity::insert(sla_alerts::ActiveModel { ticket_id: Set(t.id), kind: Set(key), at: Set(now) })
                    .on_conflict(OnConflict::columns([sla_alerts::Column::TicketId, sla_alerts::Column::Kind]).do_nothing().to_owned())
                    .exec_without_returning(&txn)
                    .await?
                    > 0;
                if !fresh || now - since > STALE_ALERT {
                    continue;
                }
                let roles: &[Role] = if breached { &[Role::Admin, Role::Owner] } else { &[Role::Moderator, Role::Admin, Role::Owner] };
                let mut to: Vec<users::Model> = match (t.assignee_id, breached) {
                    (Some(a), false) => users::Entity::find_by_id(a).all(&txn).await?,
                    _ => users::Entity::find()
                        .filter(users::Column::Role.is_in(roles.iter().map(|r| r.as_str())))
                        .order_by_asc(users::Column::Id)
                        .limit(MAX_NEW_TICKET_RECIPIENTS)
                        .all(&txn)
                        .await?,
                };
                if breached {
                    if let Some(a) = t.assignee_id.filter(|a| !to.iter().any(|u| u.id == *a)) {
                        to.extend(users::Entity::find_by_id(a).all(&txn).await?);
                    }
                }
                let text = if breached { BotText::SlaBreach } else { BotText::SlaReminder };
                for u in to.iter().filter(|u| !u.blocked) {
                    let vars = serde_json::json!({ "kind": kind, "title": t.title, "due": local(policy, due) });
                    self.tell_staff(tenant, &txn, u, text, t.id, vars, &mut kicks).await?;
                }
                sent += 1;
            }
        }
        txn.commit().await?;
        self.after_commit(&tenant.info.id, kicks).await;
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(created: &str, priority: &str) -> tickets::Model {
        let at = DateTime::parse_from_rfc3339(created).unwrap().with_timezone(&Utc);
        tickets::Model {
            forum_topic_id: None,
            id: 1,
            customer_id: 1,
            title: "t".into(),
            description: "d".into(),
            status: crate::domain::TicketStatus::Open,
            priority: crate::domain::Priority::parse(priority).unwrap(),
            category_id: None,
            team_id: None,
            assignee_id: None,
            created_at: at,
            updated_at: at,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
        }
    }

    #[test]
    fn a_reminder_comes_three_quarters_in_and_a_breach_at_the_target() {
        let policy = SlaPolicy::from_json(&serde_json::json!({"targets": {"high": {"first_response_minutes": 60, "resolution_minutes": 240}}})).unwrap();
        let t = ticket("2026-12-01T10:00:00Z", "high");
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(due_alerts(&policy, &t, at("2026-12-01T10:44:00Z")).is_empty());
        assert_eq!(due_alerts(&policy, &t, at("2026-12-01T10:45:00Z")), vec![("first_response", at("2026-12-01T11:00:00Z"), false, at("2026-12-01T10:45:00Z"))]);
        assert_eq!(due_alerts(&policy, &t, at("2026-12-01T11:00:00Z")), vec![("first_response", at("2026-12-01T11:00:00Z"), true, at("2026-12-01T11:00:00Z"))]);
        assert_eq!(due_alerts(&policy, &t, at("2026-12-01T13:00:00Z"))[1], ("resolution", at("2026-12-01T14:00:00Z"), false, at("2026-12-01T13:00:00Z")));
        let answered = tickets::Model { first_response_at: Some(at("2026-12-01T10:10:00Z")), ..t.clone() };
        assert_eq!(due_alerts(&policy, &answered, at("2026-12-01T11:30:00Z")), vec![], "answered in time, resolution not yet near");
        assert!(due_alerts(&policy, &ticket("2026-12-01T10:00:00Z", "low"), at("2026-12-09T10:00:00Z")).is_empty(), "no target for low");
    }
}
