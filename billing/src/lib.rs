//! Billing: the plans a tenant can be on and what each allows, Stripe
//! (signatures, events, the API client), revenue figures, and the
//! operator's billing dashboard (its pages and charts).
//!
//! It owns the catalogue of plans ([`plans`]), what Stripe says
//! ([`stripe`]), how revenue is counted ([`revenue`]) and how the
//! dashboard looks ([`dashboard`]). It must not know about tenants' data
//! or storage: the platform asks it what a plan allows and hands it the
//! figures to show, and the runtime counts usage in each tenant's own
//! storage.

pub mod dashboard;
pub mod plans;
pub mod revenue;
pub mod stripe;

pub use plans::{Catalogue, Limit, Limits, Overrides, PlanSpec, UnknownPlan};
