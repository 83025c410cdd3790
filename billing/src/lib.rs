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
}
