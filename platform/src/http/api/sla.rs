//! The desk's service levels: targets by priority and business hours.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::domain::Role;

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

/// One priority's service-level targets, in working minutes.
#[derive(Debug, Clone, Object)]
pub struct SlaTargetsView {
    /// First staff answer within this many minutes.
    #[oai(nullable)]
    pub first_response_minutes: Option<u64>,
    /// Resolved within this many minutes.
    #[oai(nullable)]
    pub resolution_minutes: Option<u64>,
}

/// When the desk works; targets count these hours only, on the desk's
/// wall clock.
#[derive(Debug, Clone, Object)]
pub struct BusinessHoursView {
    /// An IANA time zone (`Europe/Berlin`), daylight saving included.
    /// Give this or `utc_offset`.
    #[oai(nullable)]
    pub time_zone: Option<String>,
    /// `+03:00`, `-05:30`: a fixed offset from UTC all year (`+00:00` when
    /// neither is given).
    #[oai(nullable)]
    pub utc_offset: Option<String>,
    /// Working days: `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, local.
    pub start: String,
    /// `HH:MM`, local, after `start`.
    pub end: String,
    /// Days off besides the weekly ones (`YYYY-MM-DD`, at most 200).
    #[oai(default)]
    pub holidays: Vec<String>,
}

/// The desk's service levels: targets by priority (`low`, `normal`,
/// `high`, `critical`), counted in business hours (or around the clock).
/// Staff are reminded when three quarters of a target have passed and
/// admins told when it is missed.
#[derive(Debug, Clone, Object)]
pub struct SlaView {
    pub targets: std::collections::BTreeMap<String, SlaTargetsView>,
    /// `null`: around the clock.
    #[oai(nullable)]
    pub business_hours: Option<BusinessHoursView>,
}

impl SlaView {
    fn of(p: Option<&tikethet_runtime::desk::sla::SlaPolicy>) -> SlaView {
        let v = p.map(|p| p.to_json()).unwrap_or_else(|| serde_json::json!({"targets": {}, "business_hours": null}));
        let targets = v["targets"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, t)| (k.clone(), SlaTargetsView { first_response_minutes: t["first_response_minutes"].as_u64(), resolution_minutes: t["resolution_minutes"].as_u64() }))
                    .collect()
            })
            .unwrap_or_default();
        let strings = |v: &serde_json::Value| v.as_array().map(|d| d.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        let business_hours = v["business_hours"].as_object().map(|h| BusinessHoursView {
            time_zone: h.get("time_zone").and_then(|z| z.as_str()).map(str::to_owned),
            utc_offset: h.get("utc_offset").and_then(|z| z.as_str()).map(str::to_owned),
            holidays: strings(&h["holidays"]),
            days: h["days"].as_array().map(|d| d.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default(),
            start: h["start"].as_str().unwrap_or_default().to_owned(),
            end: h["end"].as_str().unwrap_or_default().to_owned(),
        });
        SlaView { targets, business_hours }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "targets": self.targets.iter().map(|(k, t)| (k.clone(), serde_json::json!({"first_response_minutes": t.first_response_minutes, "resolution_minutes": t.resolution_minutes}))).collect::<serde_json::Map<_, _>>(),
            "business_hours": self.business_hours.as_ref().map(|h| serde_json::json!({"time_zone": h.time_zone, "utc_offset": h.utc_offset, "days": h.days, "start": h.start, "end": h.end, "holidays": h.holidays})),
        })
    }
}

pub struct SlaApi {
    pub state: AppState,
}

#[OpenApi]
impl SlaApi {
    /// The desk's service levels (admins and up)
    #[oai(path = "/t/:slug/api/v1/settings/sla", method = "get", tag = "Tag::Stats")]
    async fn sla(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<SlaView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(SlaView::of(ctx.tenant().sla.as_ref())))
    }

    /// Set the desk's service levels (admins and up)
    ///
    /// Replaces them; no targets turns them off.
    #[oai(path = "/t/:slug/api/v1/settings/sla", method = "put", tag = "Tag::Stats")]
    async fn set_sla(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<SlaView>) -> Result<Json<SlaView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let policy = tikethet_runtime::desk::sla::SlaPolicy::from_json(&body.0.to_json())?;
        let info = self.state.control.set_sla(ctx.tenant().slug.as_str(), &policy).await?;
        crate::http::recorded::by_staff(&ctx, "sla.changed", crate::http::recorded::sla(ctx.tenant().sla.as_ref(), info.sla.as_ref())).await;
        Ok(Json(SlaView::of(info.sla.as_ref())))
    }
}

/// How the desk threads a customer's messages.
#[derive(Debug, Clone, Object)]
pub struct ConversationSettings {
    /// Days after a ticket is resolved in which the customer's next message
    /// reopens it (counted as a reopening); later messages open a new
    /// ticket. 0: never. A reply to the bot's message about a ticket goes
    /// to that ticket within the same window.
    #[oai(validator(minimum(value = "0"), maximum(value = "90")))]
    pub reopen_days: u32,
}

pub struct ConversationsApi {
    pub state: AppState,
}

#[OpenApi]
impl ConversationsApi {
    /// How the desk threads messages (admins and up)
    #[oai(path = "/t/:slug/api/v1/settings/conversations", method = "get", tag = "Tag::Stats")]
    async fn conversations(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<ConversationSettings>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(ConversationSettings { reopen_days: ctx.tenant().reopen_days }))
    }

    /// Set how the desk threads messages (admins and up)
    #[oai(path = "/t/:slug/api/v1/settings/conversations", method = "put", tag = "Tag::Stats")]
    async fn set_conversations(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<ConversationSettings>) -> Result<Json<ConversationSettings>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let before = ctx.tenant().reopen_days;
        let info = self.state.control.set_reopen_days(ctx.tenant().slug.as_str(), body.0.reopen_days).await?;
        if before != info.reopen_days {
            crate::http::recorded::by_staff(&ctx, "conversations.changed", format!("reopen window {before} → {} days", info.reopen_days)).await;
        }
        Ok(Json(ConversationSettings { reopen_days: info.reopen_days }))
    }
}
