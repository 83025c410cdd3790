//! Billing: plans, quotas and (in later work) Stripe and the operator's
//! billing dashboard.
//!
//! Today it owns the catalogue of plans a tenant can be on. It must not know
//! about tenants' data; the platform asks it what a plan allows.

use serde::Serialize;

/// A plan a tenant subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Starter,
    Business,
}

/// The plan name is not one of the catalogue's.
#[derive(Debug, thiserror::Error)]
#[error("unknown plan {0:?}; known plans: free, starter, business")]
pub struct UnknownPlan(pub String);

impl Plan {
    pub const DEFAULT: Plan = Plan::Free;

    pub fn parse(name: &str) -> Result<Plan, UnknownPlan> {
        match name {
            "free" => Ok(Plan::Free),
            "starter" => Ok(Plan::Starter),
            "business" => Ok(Plan::Business),
            other => Err(UnknownPlan(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Business => "business",
        }
    }

    /// The largest file a desk on this plan accepts as an attachment. Never
    /// above 50 MB: Telegram takes no larger upload from a bot
    /// (<https://core.telegram.org/bots/api#sending-files>).
    pub fn max_attachment_bytes(self) -> u64 {
        const MIB: u64 = 1024 * 1024;
        match self {
            Plan::Free => 5 * MIB,
            Plan::Starter => 20 * MIB,
            Plan::Business => 50 * 1000 * 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_round_trip_and_unknown_is_refused() {
        for p in [Plan::Free, Plan::Starter, Plan::Business] {
            assert_eq!(Plan::parse(p.as_str()).unwrap(), p);
        }
        assert!(Plan::parse("Gold").unwrap_err().to_string().contains("Gold"));
    }

    #[test]
    fn attachment_limits_grow_with_the_plan_and_stay_within_telegrams() {
        assert_eq!(Plan::Free.max_attachment_bytes(), 5 * 1024 * 1024);
        assert!(Plan::Free.max_attachment_bytes() < Plan::Starter.max_attachment_bytes());
        assert!(Plan::Starter.max_attachment_bytes() < Plan::Business.max_attachment_bytes());
        assert_eq!(Plan::Business.max_attachment_bytes(), 50_000_000, "Telegram's upload limit for bots");
    }
}
