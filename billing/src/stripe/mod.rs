//! Stripe: the calls the platform makes ([`client`]), webhook signatures
//! ([`signature`]) and the events that drive a tenant's subscription
//! ([`events`]).

pub mod client;
pub mod events;
pub mod signature;
