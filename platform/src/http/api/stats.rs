//! The desk's statistics (moderators and up).

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::domain::Role;

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;
use super::tickets::Counts;

#[derive(Debug, Object)]
pub struct PriorityCount {
    pub priority: String,
    pub count: u64,
}

#[derive(Debug, Object)]
pub struct CategoryCount {
    /// `null`: tickets without a category.
    #[oai(nullable)]
    pub category_id: Option<i64>,
    pub count: u64,
}

#[derive(Debug, Object)]
pub struct TimesView {
    /// Tickets measured.
    pub count: u64,
    #[oai(nullable)]
    pub median_seconds: Option<f64>,
    #[oai(nullable)]
    pub p90_seconds: Option<f64>,
}

#[derive(Debug, Object)]
pub struct StatsView {
    pub by_status: Counts,
    /// Active tickets by priority.
    pub by_priority: Vec<PriorityCount>,
    /// Active tickets by category id (`null`: none).
    pub by_category: Vec<CategoryCount>,
    pub created_7d: u64,
    pub created_30d: u64,
    pub resolved_7d: u64,
    pub resolved_30d: u64,
    /// Creation to the first staff answer, tickets created in the last 30 days.
    pub first_response: TimesView,
    /// Creation to resolution, tickets resolved in the last 30 days.
    pub resolution: TimesView,
    /// The same, in working time (`null` unless the desk set business hours).
    #[oai(nullable)]
    pub first_response_business: Option<TimesView>,
    #[oai(nullable)]
    pub resolution_business: Option<TimesView>,
    /// Ratings of the last 30 days.
    pub csat: CsatView,
    /// Service-level targets met, tickets created in the last 30 days
    /// (`null`: no such target is set).
    #[oai(nullable)]
    pub first_response_met: Option<MetView>,
    #[oai(nullable)]
    pub resolution_met: Option<MetView>,
}

/// Customer satisfaction.
#[derive(Debug, Object)]
pub struct CsatView {
    pub rated: u64,
    /// Rated 4 or 5 of 5.
    pub satisfied: u64,
    /// `satisfied` of `rated`, in percent (`null` with no ratings).
    #[oai(nullable)]
    pub satisfied_percent: Option<f64>,
    #[oai(nullable)]
    pub average: Option<f64>,
}

/// Targets met and missed.
#[derive(Debug, Object)]
pub struct MetView {
    pub met: u64,
    pub missed: u64,
    #[oai(nullable)]
    pub percent: Option<f64>,
}

fn met(m: tikethet_runtime::desk::stats::Met) -> MetView {
    MetView { met: m.met, missed: m.missed, percent: m.percent() }
}

fn times(p: tikethet_runtime::desk::stats::Percentiles) -> TimesView {
    TimesView { count: p.count, median_seconds: p.median_seconds, p90_seconds: p.p90_seconds }
}

pub struct StatsApi {
    pub state: AppState,
}

#[OpenApi]
impl StatsApi {
    /// Desk statistics (moderators and up)
    #[oai(path = "/t/:slug/api/v1/stats", method = "get", tag = "Tag::Stats")]
    async fn stats(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<StatsView>, ApiError> {
        let ctx = auth.0.at_least(Role::Moderator)?;
        let s = ctx.stats().await?;
        Ok(Json(StatsView {
            by_status: s.by_status.into(),
            by_priority: s.by_priority.into_iter().map(|(priority, count)| PriorityCount { priority, count }).collect(),
            by_category: s.by_category.into_iter().map(|(category_id, count)| CategoryCount { category_id, count }).collect(),
            created_7d: s.created_7d,
            created_30d: s.created_30d,
            resolved_7d: s.resolved_7d,
            resolved_30d: s.resolved_30d,
            first_response: times(s.first_response),
            resolution: times(s.resolution),
            first_response_business: s.first_response_business.map(times),
            resolution_business: s.resolution_business.map(times),
            csat: CsatView {
                rated: s.csat.rated,
                satisfied: s.csat.satisfied,
                satisfied_percent: (s.csat.rated > 0).then(|| s.csat.satisfied as f64 * 100.0 / s.csat.rated as f64),
                average: s.csat.average,
            },
            first_response_met: s.first_response_met.map(met),
            resolution_met: s.resolution_met.map(met),
        }))
    }
}
