//! Billing: the plans a tenant can be on and what each allows, and (in
//! later work) Stripe and the operator's billing dashboard.
//!
//! It owns the catalogue of plans ([`plans`]). It must not know about
//! tenants' data: the platform asks it what a plan allows, and the runtime
//! counts usage in each tenant's own storage.

pub mod plans;
pub mod stripe;

pub use plans::{Catalogue, Limit, Limits, Overrides, PlanSpec, UnknownPlan};
