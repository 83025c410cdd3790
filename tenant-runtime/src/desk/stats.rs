//! Desk statistics for staff: tickets by status, priority and category,
//! created and resolved recently, first-response and resolution times
//! (median and p90, in calendar time and, with business hours set, in
//! working time) over the last 30 days, customer satisfaction (the share of
//! 4 and 5 ratings) and the share of service-level targets met.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};

use super::list::StatusCounts;
use crate::domain::TicketStatus;
use crate::storage::entities::tickets;
use crate::error::Result;

/// Tickets whose times are read for the percentiles, at most.
const MAX_TIMED: u64 = 50_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Every ticket by status.
    pub by_status: StatusCounts,
    /// Active tickets by priority.
    pub by_priority: Vec<(String, u64)>,
    /// Active tickets by category id (`None`: no category).
    pub by_category: Vec<(Option<i64>, u64)>,
    pub created_7d: u64,
    pub created_30d: u64,
    pub resolved_7d: u64,
    pub resolved_30d: u64,
    /// Seconds from creation to the first staff answer, tickets created in
    /// the last 30 days.
    pub first_response: Percentiles,
    /// Seconds from creation to resolution, tickets resolved in the last 30 days.
    pub resolution: Percentiles,
    /// The same two in working seconds, when the desk set business hours.
    pub first_response_business: Option<Percentiles>,
    pub resolution_business: Option<Percentiles>,
    /// Ratings given in the last 30 days.
    pub csat: Csat,
    /// Targets met, of the tickets created in the last 30 days whose target
    /// has passed or was met (`None`: the desk sets no such target).
    pub first_response_met: Option<Met>,
    pub resolution_met: Option<Met>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Csat {
    pub rated: u64,
    /// Rated 4 or 5.
    pub satisfied: u64,
    pub average: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Met {
    pub met: u64,
    pub missed: u64,
}

impl Met {
    pub fn percent(&self) -> Option<f64> {
        let all = self.met + self.missed;
        (all > 0).then(|| self.met as f64 * 100.0 / all as f64)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl Percentiles {
    /// Nearest-rank percentiles of the samples.
    pub fn of(mut samples: Vec<f64>) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
        Percentiles { count: samples.len() as u64, median_seconds: Some(at(0.5)), p90_seconds: Some(at(0.9)) }
    }
}

fn active() -> Vec<&'static str> {
    TicketStatus::ALL.iter().filter(|s| s.is_active()).map(|s| s.as_str()).collect()
}

pub async fn stats(txn: &DatabaseTransaction, sla: Option<&super::sla::SlaPolicy>) -> Result<Stats> {
    let now = Utc::now();
    let by_status: Vec<(crate::domain::TicketStatus, i64)> = tickets::Entity::find()
        .select_only()
        .column(tickets::Column::Status)
        .column_as(tickets::Column::Id.count(), "n")
        .group_by(tickets::Column::Status)
        .into_tuple()
        .all(txn)
        .await?;
    let by_priority: Vec<(String, i64)> = tickets::Entity::find()
        .select_only()
        .column(tickets::Column::Priority)
        .column_as(tickets::Column::Id.count(), "n")
        .filter(tickets::Column::Status.is_in(active()))
        .group_by(tickets::Column::Priority)
        .into_tuple()
        .all(txn)
        .await?;
    let by_category: Vec<(Option<i64>, i64)> = tickets::Entity::find()
        .select_only()
        .column(tickets::Column::CategoryId)
        .column_as(tickets::Column::Id.count(), "n")
        .filter(tickets::Column::Status.is_in(active()))
        .group_by(tickets::Column::CategoryId)
        .into_tuple()
        .all(txn)
        .await?;
    let count_since = |col: tickets::Column, days: i64| {
        use sea_orm::PaginatorTrait as _;
        tickets::Entity::find().filter(col.gte(now - Duration::days(days))).count(txn)
    };
    let created_7d = count_since(tickets::Column::CreatedAt, 7).await?;
    let created_30d = count_since(tickets::Column::CreatedAt, 30).await?;
    let resolved_7d = count_since(tickets::Column::ResolvedAt, 7).await?;
    let resolved_30d = count_since(tickets::Column::ResolvedAt, 30).await?;
    let month = now - Duration::days(30);
    let answered: Vec<(chrono::DateTime<Utc>, Option<chrono::DateTime<Utc>>)> = tickets::Entity::find()
        .select_only()
        .column(tickets::Column::CreatedAt)
        .column(tickets::Column::FirstResponseAt)
        .filter(tickets::Column::CreatedAt.gte(month))
        .filter(tickets::Column::FirstResponseAt.is_not_null())
        .limit(MAX_TIMED)
        .into_tuple()
        .all(txn)
        .await?;
    let resolved: Vec<(chrono::DateTime<Utc>, Option<chrono::DateTime<Utc>>)> = tickets::Entity::find()
        .select_only()
        .column(tickets::Column::CreatedAt)
        .column(tickets::Column::ResolvedAt)
        .filter(tickets::Column::ResolvedAt.gte(month))
        .limit(MAX_TIMED)
        .into_tuple()
        .all(txn)
        .await?;
    let secs = |rows: &[(chrono::DateTime<Utc>, Option<chrono::DateTime<Utc>>)]| {
        rows.iter().filter_map(|(a, b)| b.map(|b| (b - *a).num_milliseconds().max(0) as f64 / 1000.0)).collect::<Vec<_>>()
    };
    let business = |rows: &[(chrono::DateTime<Utc>, Option<chrono::DateTime<Utc>>)]| {
        sla.filter(|p| p.hours.is_some()).map(|p| Percentiles::of(rows.iter().filter_map(|(a, b)| b.map(|b| p.elapsed(*a, b) as f64 * 60.0)).collect()))
    };
    let ratings: Vec<i16> = crate::storage::entities::ticket_ratings::Entity::find()
        .select_only()
        .column(crate::storage::entities::ticket_ratings::Column::Rating)
        .filter(crate::storage::entities::ticket_ratings::Column::RatedAt.gte(month))
        .limit(MAX_TIMED)
        .into_tuple()
        .all(txn)
        .await?;
    let csat = Csat {
        rated: ratings.len() as u64,
        satisfied: ratings.iter().filter(|r| **r >= 4).count() as u64,
        average: (!ratings.is_empty()).then(|| ratings.iter().map(|r| f64::from(*r)).sum::<f64>() / ratings.len() as f64),
    };
    let (first_response_met, resolution_met) = match sla {
        Some(p) => {
            let recent = tickets::Entity::find().filter(tickets::Column::CreatedAt.gte(month)).limit(MAX_TIMED).all(txn).await?;
            met(p, &recent, now)
        }
        None => (None, None),
    };
    let n = |v: i64| v.max(0) as u64;
    Ok(Stats {
        by_status: StatusCounts::from_rows(&by_status),
        by_priority: by_priority.into_iter().map(|(s, c)| (s, n(c))).collect(),
        by_category: by_category.into_iter().map(|(s, c)| (s, n(c))).collect(),
        created_7d,
        created_30d,
        resolved_7d,
        resolved_30d,
        first_response: Percentiles::of(secs(&answered)),
        resolution: Percentiles::of(secs(&resolved)),
        first_response_business: business(&answered),
        resolution_business: business(&resolved),
        csat,
        first_response_met,
        resolution_met,
    })
}

/// Targets met and missed among `tickets`: a target counts once it was met
/// or its time has passed.
fn met(p: &super::sla::SlaPolicy, tickets: &[tickets::Model], now: chrono::DateTime<Utc>) -> (Option<Met>, Option<Met>) {
    let (mut first, mut resolution) = (None::<Met>, None::<Met>);
    for t in tickets {
        let priority = t.priority;
        let targets = p.targets(priority);
        // Finished: resolved, or closed without being resolved first.
        let finished = match (t.resolved_at, t.closed_at) {
            (Some(r), Some(c)) => Some(r.min(c)),
            (r, c) => r.or(c),
        };
        for (target, done, slot) in [(targets.first_response, t.first_response_at, &mut first), (targets.resolution, finished, &mut resolution)] {
            let Some(minutes) = target else { continue };
            let due = p.after(t.created_at, minutes);
            let m = slot.get_or_insert_with(Met::default);
            match done {
                Some(at) if at <= due => m.met += 1,
                Some(_) => m.missed += 1,
                None if now > due => m.missed += 1,
                None => {}
            }
        }
    }
    (first, resolution)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(Percentiles::of(vec![]), Percentiles::default());
        let p = Percentiles::of(vec![5.0]);
        assert_eq!((p.count, p.median_seconds, p.p90_seconds), (1, Some(5.0), Some(5.0)));
        let p = Percentiles::of((1..=10).rev().map(f64::from).collect());
        assert_eq!((p.median_seconds, p.p90_seconds), (Some(5.0), Some(9.0)));
    }
}
