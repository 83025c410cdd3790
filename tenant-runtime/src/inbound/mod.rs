//! Inbound: what arrives from Telegram before any work is done on it.
//! A webhook's secret is checked, the update is stored durably in its
//! tenant's inbox and acknowledged ([`intake`]); a tenant whose storage is
//! being migrated has its updates held until it is ready ([`held`]).
//! From here an update goes to the [`crate::worker`].

pub mod held;
pub mod intake;

/// Intake's state.
pub(crate) struct Inbound {
    /// Tenants whose webhooks are held while their storage is migrated.
    pub(crate) held: held::HeldTenants,
    /// PostgreSQL's shared intake writers (empty on SQLite).
    pub(crate) pg_writers: Vec<tokio::sync::mpsc::Sender<intake::IntakeJob>>,
}
