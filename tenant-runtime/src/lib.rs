//! The tenant runtime: everything that happens inside one tenant's desk.
//!
//! Owns webhook intake (secret check, durable inbox, dedupe), routing of
//! updates to their tenant, the conversation worker (tickets out of
//! messages, the bot's answers), outbound delivery through each tenant's
//! bot within Telegram's limits, sign-in (initData, JWT) and the ticket
//! operations the tenant API exposes. It wraps teloxide and the tenant side
//! of sea-orm. It does not know HTTP (the platform maps [`RuntimeError`] to
//! statuses) nor the control plane (the platform hands it [`TenantInfo`]s).

pub mod api;
pub mod auth;
mod conversation;
pub mod db;
pub mod domain;
pub mod entities;
mod error;
mod hooks;
pub mod intake;
pub mod limiter;
pub mod queue;
mod sender;
pub mod tenant;
pub mod tickets;

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use anyhow::Context as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use teloxide::Bot;

pub use error::{Result, RuntimeError};
pub use tenant::{Registry, Tenant, TenantInfo, TenantStatus};

use crate::db::Storage;
use crate::domain::{BotToken, TenantId};
use crate::entities::{inbox, outbox};
use crate::limiter::Limiter;
use crate::queue::KeyedSerial;

/// Updates of different chats processed at once.
pub const WORKER_CONCURRENCY: usize = 64;
/// Chats sent to at once (each is still throttled by the limiter).
pub const SENDER_CONCURRENCY: usize = 256;

/// One stored update to process.
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub tenant: TenantId,
    pub chat: i64,
    pub inbox_id: i64,
}

/// Counters exported on `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub updates_processed: AtomicU64,
    pub updates_failed: AtomicU64,
    pub tickets_opened: AtomicU64,
    pub messages_sent: AtomicU64,
    pub messages_failed: AtomicU64,
    pub plugin_failures: AtomicU64,
}

/// What the runtime is built from.
pub struct RuntimeConfig {
    pub storage: Storage,
    /// Base URL of the Bot API (`TIKETHET_TELEGRAM_API_URL`).
    pub telegram_api_url: url::Url,
    pub jwt_secret: Vec<u8>,
    pub limiter: Limiter,
    pub plugins: tikethet_plugins::PluginHost,
}

/// The shared runtime; cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub storage: Storage,
    pub tenants: Registry,
    pub renderer: tikethet_themes::Renderer,
    pub tokens: auth::Tokens,
    pub metrics: Metrics,
    pub plugins: tikethet_plugins::PluginHost,
    telegram_api_url: url::Url,
    http: reqwest::Client,
    limiter: Limiter,
    worker: KeyedSerial<(TenantId, i64), i64>,
    sender: KeyedSerial<(TenantId, i64), i64>,
    /// PostgreSQL's shared intake writers (empty on SQLite).
    pg_writers: Vec<tokio::sync::mpsc::Sender<intake::IntakeJob>>,
    self_ref: Weak<Inner>,
}

impl Deref for Runtime {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

pub(crate) fn upgrade(weak: &Weak<Inner>) -> Option<Runtime> {
    weak.upgrade().map(|inner| Runtime { inner })
}

impl Runtime {
    pub fn new(cfg: RuntimeConfig) -> Runtime {
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let w = weak.clone();
            let worker = KeyedSerial::new(WORKER_CONCURRENCY, move |(tenant, chat): (TenantId, i64), inbox_id| {
                let rt = upgrade(&w);
                Box::pin(async move {
                    if let Some(rt) = rt {
                        rt.process(WorkItem { tenant, chat, inbox_id }).await;
                    }
                })
            });
            let w = weak.clone();
            let sender = KeyedSerial::new(SENDER_CONCURRENCY, move |(tenant, chat): (TenantId, i64), outbox_id| {
                let rt = upgrade(&w);
                Box::pin(async move {
                    if let Some(rt) = rt {
                        rt.send_one(tenant, chat, outbox_id).await;
                    }
                })
            });
            let pg_writers = if cfg.storage.is_postgres() {
                (0..intake::PG_WRITERS).map(|_| intake::spawn_writer(weak.clone())).collect()
            } else {
                Vec::new()
            };
            Inner {
                pg_writers,
                plugins: cfg.plugins,
                self_ref: weak.clone(),
                storage: cfg.storage,
                tenants: Registry::default(),
                renderer: tikethet_themes::Renderer::new(),
                tokens: auth::Tokens::new(&cfg.jwt_secret),
                metrics: Metrics::default(),
                telegram_api_url: cfg.telegram_api_url,
                http: teloxide::net::default_reqwest_settings().build().expect("the default HTTP client builds"),
                limiter: cfg.limiter,
                worker,
                sender,
            }
        });
        Runtime { inner }
    }

    /// A Bot API client for a token, pointed at the configured API URL and
    /// sharing this runtime's connection pool.
    pub fn bot(&self, token: &BotToken) -> Bot {
        Bot::with_client(token.expose(), self.http.clone()).set_api_url(self.telegram_api_url.clone())
    }

    /// Starts (or refreshes) serving a tenant.
    pub async fn install(&self, info: TenantInfo) -> anyhow::Result<Arc<Tenant>> {
        let db = self.storage.tenant(&info.storage_name).await?;
        let intake = if self.pg_writers.is_empty() {
            intake::spawn_writer(self.self_ref.clone())
        } else {
            let shard = info.id.as_str().bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            self.pg_writers[shard % self.pg_writers.len()].clone()
        };
        let tenant = Arc::new(Tenant { bot: self.bot(&info.bot_token), db, intake, info });
        self.tenants.insert(tenant.clone());
        Ok(tenant)
    }

    /// Stops serving a tenant.
    pub fn uninstall(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        self.tenants.remove(id)
    }

    pub(crate) fn dispatch(&self, item: WorkItem) {
        self.worker.push((item.tenant, item.chat), item.inbox_id);
    }

    /// Requeues what a previous run acknowledged but did not finish: pending
    /// updates in arrival order, and undelivered messages.
    pub async fn recover(&self, tenant: &Tenant) -> anyhow::Result<(usize, usize)> {
        let txn = tenant.db.begin().await?;
        let updates = inbox::Entity::find()
            .filter(inbox::Column::Status.eq(inbox::PENDING))
            .order_by_asc(inbox::Column::Id)
            .all(&txn)
            .await
            .context("failed to read pending updates")?;
        let messages = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(outbox::PENDING))
            .order_by_asc(outbox::Column::Id)
            .all(&txn)
            .await
            .context("failed to read pending messages")?;
        txn.commit().await?;
        for u in &updates {
            self.dispatch(WorkItem { tenant: tenant.info.id.clone(), chat: u.chat_id.unwrap_or(0), inbox_id: u.id });
        }
        for m in &messages {
            self.deliver(&tenant.info.id, m.chat_id, m.id);
        }
        Ok((updates.len(), messages.len()))
    }

    /// Updates and messages waiting in memory (for readiness and metrics).
    pub fn backlog(&self) -> (usize, usize) {
        (self.worker.backlog(), self.sender.backlog())
    }

    pub fn counter(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
