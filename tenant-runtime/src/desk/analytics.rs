//! The desk's analytics over a window of days: tickets created and
//! resolved per day and the backlog at each day's end, tickets by priority
//! and category, each agent's load and speed, on top of the statistics
//! (`stats`: response and resolution times, CSAT, targets met). One query
//! reads the tickets the window touches (created in it, or still open at
//! its start), so a desk of ten thousand tickets is read at once.
//!
//! The tickets' own export (`export_page`) is paged by id, so a CSV of any
//! size streams in fixed memory.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::stats::Percentiles;
use crate::storage::entities::{ticket_ratings, tickets};
use crate::error::Result;

/// The longest window, in days.
pub const MAX_DAYS: i64 = 366;
/// Tickets read for one window at most.
const MAX_READ: u64 = 200_000;

#[derive(Debug, Clone, Default)]
pub struct Analytics {
    /// `YYYY-MM-DD`, oldest first.
    pub days: Vec<String>,
    pub created: Vec<u64>,
    pub resolved: Vec<u64>,
    /// Tickets reopened (by the customer writing again, or by staff).
    pub reopened: Vec<u64>,
    /// Tickets open at each day's end.
    pub backlog: Vec<u64>,
    /// Created in the window, and open now, by priority.
    pub by_priority: Vec<(String, u64, u64)>,
    /// The same by category id (`None`: none).
    pub by_category: Vec<(Option<i64>, u64, u64)>,
    pub agents: Vec<AgentLoad>,
}

/// One agent's load and speed over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentLoad {
    pub user_id: i64,
    /// Assigned to them and open now.
    pub open: u64,
    /// Assigned to them and resolved in the window.
    pub resolved: u64,
    /// Creation to the first answer, their tickets created in the window.
    pub first_response: Percentiles,
    /// Creation to resolution, their tickets resolved in the window.
    pub resolution: Percentiles,
}

type Row = (i64, crate::domain::TicketStatus, crate::domain::Priority, Option<i64>, Option<i64>, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

pub async fn analytics(txn: &DatabaseTransaction, days: i64, now: DateTime<Utc>) -> Result<Analytics> {
    let days = days.clamp(1, MAX_DAYS);
    let first = (now - Duration::days(days - 1)).date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let labels: Vec<String> = (0..days).map(|d| day(first + Duration::days(d))).collect();
    let index: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
    // Created in the window, or not finished before it started.
    let rows: Vec<Row> = tickets::Entity::find()
        .select_only()
        .columns([
            tickets::Column::Id,
            tickets::Column::Status,
            tickets::Column::Priority,
            tickets::Column::CategoryId,
            tickets::Column::AssigneeId,
            tickets::Column::CreatedAt,
            tickets::Column::FirstResponseAt,
            tickets::Column::ResolvedAt,
            tickets::Column::ClosedAt,
        ])
        .filter(
            Condition::any()
                .add(tickets::Column::CreatedAt.gte(first))
                .add(Condition::all().add(tickets::Column::ResolvedAt.is_null()).add(tickets::Column::ClosedAt.is_null()))
                .add(tickets::Column::ResolvedAt.gte(first))
                .add(tickets::Column::ClosedAt.gte(first)),
        )
        .limit(MAX_READ)
        .into_tuple()
        .all(txn)
        .await?;
    let n = labels.len();
    let mut a = Analytics { days: labels.clone(), created: vec![0; n], resolved: vec![0; n], reopened: vec![0; n], backlog: vec![0; n], ..Analytics::default() };
    for at in super::audit::reopened_per_day(txn, first).await? {
        if let Some(&i) = index.get(day(at).as_str()) {
            a.reopened[i] += 1;
        }
    }
    let mut prio: BTreeMap<crate::domain::Priority, (u64, u64)> = BTreeMap::new();
    let mut cat: BTreeMap<Option<i64>, (u64, u64)> = BTreeMap::new();
    let mut agents: BTreeMap<i64, (AgentLoad, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    // Backlog: +1 at the day a ticket was created (or before the window),
    // -1 the day after it was finished.
    let mut delta = vec![0i64; n + 1];
    for (_, status, priority, category, assignee, created, first_response, resolved, closed) in &rows {
        let open = status.is_active();
        let done = match (resolved, closed) {
            (Some(r), Some(c)) => Some((*r).min(*c)),
            (r, c) => r.or(*c),
        };
        let done = if open { None } else { done };
        let in_window = *created >= first;
        if in_window {
            if let Some(&i) = index.get(day(*created).as_str()) {
                a.created[i] += 1;
            }
        }
        if let Some(r) = resolved.filter(|r| *r >= first) {
            if let Some(&i) = index.get(day(r).as_str()) {
                a.resolved[i] += 1;
            }
        }
        let from = if in_window { index.get(day(*created).as_str()).copied().unwrap_or(n) } else { 0 };
        let until = match done {
            Some(d) if d < first => 0,
            Some(d) => index.get(day(d).as_str()).map_or(n, |i| *i),
            None => n,
        };
        if from < until {
            delta[from] += 1;
            delta[until] -= 1;
        }
        let p = prio.entry(*priority).or_default();
        let c = cat.entry(*category).or_default();
        if in_window {
            p.0 += 1;
            c.0 += 1;
        }
        if open {
            p.1 += 1;
            c.1 += 1;
        }
        if let Some(agent) = assignee {
            let e = agents.entry(*agent).or_insert_with(|| (AgentLoad { user_id: *agent, ..AgentLoad::default() }, Vec::new(), Vec::new()));
            if open {
                e.0.open += 1;
            }
            if let Some(r) = resolved.filter(|r| *r >= first) {
                e.0.resolved += 1;
                e.2.push((r - *created).num_seconds().max(0) as f64);
            }
            if let (true, Some(f)) = (in_window, first_response) {
                e.1.push((*f - *created).num_seconds().max(0) as f64);
            }
        }
    }
    let mut running = 0i64;
    for i in 0..n {
        running += delta[i];
        a.backlog[i] = running.max(0) as u64;
    }
    a.by_priority = crate::domain::Priority::ALL.iter().rev().map(|p| {
        let (c, o) = prio.get(p).copied().unwrap_or_default();
        (p.as_str().to_owned(), c, o)
    }).collect();
    a.by_category = cat.into_iter().map(|(k, (c, o))| (k, c, o)).filter(|(_, c, o)| *c > 0 || *o > 0).collect();
    a.agents = agents
        .into_values()
        .map(|(mut l, f, r)| {
            l.first_response = Percentiles::of(f);
            l.resolution = Percentiles::of(r);
            l
        })
        .collect();
    Ok(a)
}

/// One ticket as exported, with its rating.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub ticket: tickets::Model,
    pub rating: Option<i16>,
}

/// Up to `limit` tickets after id `after`, oldest first, with ratings.
pub async fn export_page(txn: &DatabaseTransaction, after: i64, limit: u64) -> Result<Vec<ExportRow>> {
    let page = tickets::Entity::find().filter(tickets::Column::Id.gt(after)).order_by_asc(tickets::Column::Id).limit(limit).all(txn).await?;
    let ids: Vec<i64> = page.iter().map(|t| t.id).collect();
    let ratings: HashMap<i64, i16> = if ids.is_empty() {
        HashMap::new()
    } else {
        ticket_ratings::Entity::find().filter(ticket_ratings::Column::TicketId.is_in(ids)).all(txn).await?.into_iter().map(|r| (r.ticket_id, r.rating)).collect()
    };
    Ok(page.into_iter().map(|t| ExportRow { rating: ratings.get(&t.id).copied(), ticket: t }).collect())
}
