//! Stripe: webhook signatures and the events that drive a tenant's
//! subscription. Talking to Stripe's API (Checkout, the Customer Portal,
//! meter events) is not built yet.

pub mod events;
pub mod signature;
