//! Webhooks of a tenant whose storage is being migrated.
//!
//! A server started on a build with a new tenant migration serves at once
//! and migrates the tenants that are behind in the background. Meanwhile
//! such a tenant is *held*: its webhook route is known and its secret
//! checked, and each update is stored in the control plane's
//! `held_updates` (always at the newest version) and acknowledged, so
//! Telegram neither retries nor gives up. Once the schema is ready,
//! [`Runtime::release`] moves the held updates into the tenant's inbox in
//! arrival order and only then lets new updates go straight there, so every
//! chat keeps its order. Nothing is lost to a crash meanwhile: held rows
//! stay until they are in the inbox, and moving one twice is a duplicate the
//! inbox's unique `update_id` drops.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use chrono::Utc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Order, Query};
use sea_orm::{ConnectionTrait as _, Value};
use subtle::ConstantTimeEq as _;
use tokio::sync::Mutex;

use crate::domain::TenantId;
use crate::inbound::intake::{Intake, IntakeError};
use crate::{Runtime, Tenant, TenantInfo};

/// Held updates moved to the inbox per round.
const MOVE_BATCH: u64 = 100;

/// A tenant whose updates are held.
pub struct Held {
    id: TenantId,
    slug: String,
    secret: String,
    /// Taken to hold an update and to end holding, so no update is held
    /// after the last round of moving them; `true` once released.
    released: Mutex<bool>,
}

/// Held tenants by webhook route.
#[derive(Default)]
pub(crate) struct HeldTenants {
    by_route: RwLock<HashMap<String, Arc<Held>>>,
}

impl HeldTenants {
    fn by_route(&self, route: &str) -> Option<Arc<Held>> {
        self.by_route.read().expect("poisoned").get(route).cloned()
    }

    pub(crate) fn has_slug(&self, slug: &str) -> bool {
        self.by_route.read().expect("poisoned").values().any(|h| h.slug == slug)
    }

    pub(crate) fn remove_tenant(&self, id: &TenantId) {
        self.by_route.write().expect("poisoned").retain(|_, h| &h.id != id);
    }
}

/// Where a webhook delivery goes, once its route and secret check out.
pub enum WebhookTarget {
    Serving(Arc<Tenant>),
    Held(Arc<Held>),
}

fn table() -> Alias {
    Alias::new("held_updates")
}

impl Runtime {
    /// Starts holding a tenant's webhook updates (its storage is behind).
    pub fn hold(&self, info: &TenantInfo) {
        let held = Arc::new(Held {
            id: info.id.clone(),
            slug: info.slug.to_string(),
            secret: info.webhook_secret.clone(),
            released: Mutex::new(false),
        });
        self.inner.inbound.held.by_route.write().expect("poisoned").insert(info.webhook_route.clone(), held);
    }

    /// Tenants held now (a gauge on `/metrics`).
    pub fn held_tenants(&self) -> usize {
        self.inner.inbound.held.by_route.read().expect("poisoned").len()
    }

    /// Whether a tenant's updates are being held (its desk answers 503).
    pub fn is_held(&self, slug: &str) -> bool {
        self.inner.inbound.held.has_slug(slug)
    }

    /// The tenant (served or held) a webhook delivery is for, once its route
    /// and secret (compared in constant time) check out; before the body is
    /// read. A held route wins: while a tenant's held updates are being
    /// moved, new ones queue behind them.
    pub fn webhook_target(&self, route: &str, secret: Option<&str>) -> Result<WebhookTarget, IntakeError> {
        let Some(held) = self.inner.inbound.held.by_route(route) else {
            return self.webhook_tenant(route, secret).map(WebhookTarget::Serving);
        };
        if !secret.is_some_and(|s| bool::from(s.as_bytes().ct_eq(held.secret.as_bytes()))) {
            return Err(IntakeError::BadSecret);
        }
        Ok(WebhookTarget::Held(held))
    }

    /// Stores one delivery for a tenant whose secret was checked.
    pub async fn take_update(&self, route: &str, target: &WebhookTarget, body: &[u8]) -> Result<Intake, IntakeError> {
        let started = std::time::Instant::now();
        let taken = self.take_update_untimed(route, target, body).await;
        if taken.is_ok() {
            self.inner.metrics.observe_intake(started);
        }
        taken
    }

    async fn take_update_untimed(&self, route: &str, target: &WebhookTarget, body: &[u8]) -> Result<Intake, IntakeError> {
        match target {
            WebhookTarget::Serving(tenant) => self.intake_for(tenant, body).await,
            WebhookTarget::Held(held) => {
                if body.len() > crate::inbound::intake::MAX_UPDATE_BYTES {
                    return Err(IntakeError::TooLarge);
                }
                let released = held.released.lock().await;
                if *released {
                    drop(released);
                    let tenant = self.inner.tenants.by_route(route).ok_or(IntakeError::UnknownRoute)?;
                    return self.intake_for(&tenant, body).await;
                }
                let insert = Query::insert()
                    .into_table(table())
                    .columns([Alias::new("tenant_id"), Alias::new("body"), Alias::new("received_at")])
                    .values_panic([
                        held.id.as_str().into(),
                        // As the inbox keeps it: text without NUL.
                        String::from_utf8_lossy(body).replace('\0', "\u{FFFD}").into(),
                        Utc::now().into(),
                    ])
                    .to_owned();
                let control = self.inner.storage.control();
                control
                    .execute(&insert)
                    .await
                    .map_err(|e| IntakeError::Unavailable(anyhow::Error::new(e).context("failed to hold the update")))?;
                Ok(Intake::Stored)
            }
        }
    }

    /// Serves a tenant whose storage is ready: moves its held updates into
    /// its inbox in arrival order, then stops holding. The tenant answers
    /// its API (and processes what was moved) from the first round on.
    pub async fn release(&self, info: TenantInfo) -> anyhow::Result<Arc<Tenant>> {
        let route = info.webhook_route.clone();
        let id = info.id.clone();
        let tenant = self.install(info).await?;
        let Some(held) = self.inner.inbound.held.by_route(&route) else {
            return Ok(tenant);
        };
        loop {
            let moved = self.move_held(&tenant).await?;
            if moved > 0 {
                continue;
            }
            let mut released = held.released.lock().await;
            // Nothing can be held while the lock is taken: check once more.
            if self.move_held(&tenant).await? == 0 {
                *released = true;
                self.inner.inbound.held.by_route.write().expect("poisoned").remove(&route);
                tracing::info!(tenant = %id, "tenant's storage is ready; its held updates are in its inbox");
                return Ok(tenant);
            }
        }
    }

    /// Moves one batch of a tenant's held updates into its inbox.
    async fn move_held(&self, tenant: &Tenant) -> anyhow::Result<usize> {
        let control = self.inner.storage.control();
        let id = tenant.info.id.as_str();
        let select = Query::select()
            .columns([Alias::new("id"), Alias::new("body")])
            .from(table())
            .and_where(Expr::col(Alias::new("tenant_id")).eq(id))
            .order_by(Alias::new("id"), Order::Asc)
            .limit(MOVE_BATCH)
            .to_owned();
        let rows = control.query_all(&select).await.context("failed to read held updates")?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let held_id: i64 = row.try_get("", "id")?;
            let body: String = row.try_get("", "body")?;
            self.intake_for(tenant, body.as_bytes()).await.map_err(|e| anyhow::anyhow!("failed to move a held update: {e}"))?;
            ids.push(held_id);
        }
        if !ids.is_empty() {
            delete_held(control, &ids).await?;
        }
        Ok(ids.len())
    }

    /// Forgets a deleted tenant's held updates.
    pub async fn drop_held(&self, id: &TenantId) -> anyhow::Result<()> {
        self.inner.inbound.held.remove_tenant(id);
        let delete = Query::delete().from_table(table()).and_where(Expr::col(Alias::new("tenant_id")).eq(id.as_str())).to_owned();
        self.inner.storage.control().execute(&delete).await.context("failed to remove held updates")?;
        Ok(())
    }
}

async fn delete_held(control: &crate::storage::ControlDb, ids: &[i64]) -> anyhow::Result<()> {
    let delete = Query::delete()
        .from_table(table())
        .and_where(Expr::col(Alias::new("id")).is_in(ids.iter().map(|i| Value::from(*i))))
        .to_owned();
    control.execute(&delete).await.context("failed to remove moved held updates")?;
    Ok(())
}
