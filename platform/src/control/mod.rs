//! The control plane: provisioning, changing and removing tenants. The HTTP
//! operator API and the `tikethet tenant` commands both call this.

pub mod billing;
pub mod dashboard;
pub mod domains;
pub mod entity;
pub mod signup;
pub mod subscription;

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr};
use teloxide::payloads::{SetChatMenuButtonSetters as _, SetWebhookSetters as _};
use teloxide::prelude::Requester;
use teloxide::types::AllowedUpdate;
use teloxide::{ApiError, RequestError};
use tikethet_billing::{Catalogue, Overrides};
use tikethet_runtime::storage::Storage;
use tikethet_runtime::domain::{BotToken, CustomDomain, Invalid, TelegramUserId, TenantId, TenantSlug};
use tikethet_runtime::{Runtime, TenantInfo, TenantStatus};
use tikethet_themes::Theme;

use crate::secrets::Vault;
use entity as tenants;

/// Errors of the control plane; each doc names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// 400: the request failed validation.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// 400: deleting needs `confirm` equal to the slug.
    #[error("deleting a tenant removes all its data: repeat its slug in `confirm` to go ahead")]
    ConfirmationRequired,
    /// 404
    #[error("no tenant with slug {0:?}")]
    NotFound(String),
    /// 409
    #[error("the slug {0:?} is taken")]
    SlugTaken(String),
    /// 409
    #[error("this bot already serves tenant {0:?}")]
    BotInUse(String),
    /// 409: storage of that name exists, left over from an earlier tenant
    /// whose deletion did not finish; it is never adopted silently.
    #[error("storage {0:?} for this slug already exists (left over from an earlier tenant); remove it or pick another slug")]
    StorageExists(String),
    /// 409
    #[error("the domain {0:?} already serves another tenant")]
    DomainTaken(String),
    /// 422: Telegram refused to register the webhook (a public URL it
    /// cannot use, say).
    #[error("Telegram refused the webhook: {0}")]
    WebhookRefused(String),
    /// 422: Telegram refused the bot token.
    #[error("Telegram refused the bot token: {0}")]
    TokenRefused(String),
    /// 409: billing runs offline (no Stripe keys): plans are the operator's.
    #[error("billing runs offline: plans are set by the operator")]
    BillingOffline,
    /// 409: the plan cannot be bought (it has no Stripe price).
    #[error("the {0} plan is not sold through Stripe")]
    NotForSale(String),
    /// 409: the tenant has no Stripe customer yet (nothing bought).
    #[error("this desk has not subscribed through Stripe yet")]
    NoCustomer,
    /// 409: the desk has no subscription that still bills (to change or cancel).
    #[error("this desk has no active subscription: choose a plan through Checkout first")]
    NoSubscription,
    /// 409: a second Checkout while a subscription bills would make a second subscription.
    #[error("this desk already has a subscription: change its plan instead of buying another")]
    AlreadySubscribed,
    /// 409: the desk is on that plan already.
    #[error("this desk is on the {0} plan already")]
    SamePlan(String),
    /// 502: Stripe refused or could not be reached.
    #[error("{0}")]
    Stripe(#[from] tikethet_billing::stripe::client::CallError),
    /// 502: Telegram could not be reached or failed.
    #[error("Telegram could not be reached or failed: {0}")]
    Telegram(String),
    /// 500
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for ControlError {
    fn from(e: sea_orm::DbErr) -> Self {
        ControlError::Internal(anyhow::Error::new(e).context("control-plane database operation failed"))
    }
}

type Result<T, E = ControlError> = std::result::Result<T, E>;

/// A new tenant, as validated from a request.
pub struct NewTenant {
    pub slug: TenantSlug,
    pub name: String,
    pub bot_token: BotToken,
    pub owner_telegram_id: TelegramUserId,
    /// A plan id of the catalogue; `None` for its default plan.
    pub plan: Option<String>,
    pub theme: Theme,
}

/// Changes to a tenant; `None` leaves a field as it is.
#[derive(Default)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub owner_telegram_id: Option<TelegramUserId>,
    pub plan: Option<String>,
    /// Replaces the operator's overrides of the plan's limits (an empty
    /// set removes them all).
    pub limits: Option<Overrides>,
    pub theme: Option<Theme>,
    /// `Some(None)` removes the tenant's own domain.
    pub custom_domain: Option<Option<CustomDomain>>,
}

pub fn parse_name(name: &str) -> Result<String, Invalid> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(Invalid::new("name", "must be 1 to 200 characters"));
    }
    if n.contains('\0') {
        return Err(Invalid::new("name", tikethet_runtime::domain::NO_NUL));
    }
    Ok(n.to_owned())
}

/// What the operator sees of a tenant (never its bot token or secret).
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct TenantRecord {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// `active`, `suspended`, or `unclaimed` (opened by signup, waiting for its owner).
    pub status: String,
    pub plan: String,
    /// What the tenant may use: its plan's limits with the operator's
    /// overrides.
    pub limits: TenantLimits,
    /// The limits the operator overrides for this tenant.
    pub limits_overridden: Vec<String>,
    pub theme: String,
    pub bot_id: i64,
    pub bot_username: String,
    pub owner_telegram_id: i64,
    /// The newest migration applied to the tenant's schema.
    #[oai(nullable)]
    pub schema_version: Option<String>,
    /// Where Telegram delivers this bot's updates (an opaque route, never the token).
    pub webhook_url: String,
    /// The tenant's own host name: its desk answers there without the
    /// `/t/{slug}` prefix (TLS is the deployment's proxy's).
    #[oai(nullable)]
    pub custom_domain: Option<String>,
    /// The end of the desk's trial (a desk opened by signup), while it has one.
    #[oai(nullable)]
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tenant's limits; `null` is unlimited. Monthly ones count calendar
/// months in UTC.
#[derive(Debug, Clone, PartialEq, Eq, poem_openapi::Object)]
pub struct TenantLimits {
    #[oai(nullable)]
    pub agents: Option<u64>,
    #[oai(nullable)]
    pub tickets_per_month: Option<u64>,
    #[oai(nullable)]
    pub messages_per_month: Option<u64>,
    #[oai(nullable)]
    pub plugins: Option<u64>,
    #[oai(nullable)]
    pub attachment_bytes: Option<u64>,
    #[oai(nullable)]
    pub storage_bytes: Option<u64>,
}

impl From<tikethet_billing::Limits> for TenantLimits {
    fn from(l: tikethet_billing::Limits) -> Self {
        TenantLimits {
            agents: l.agents,
            tickets_per_month: l.tickets_per_month,
            messages_per_month: l.messages_per_month,
            plugins: l.plugins,
            attachment_bytes: Some(l.max_attachment_bytes()),
            storage_bytes: l.storage_bytes,
        }
    }
}

/// What `tikethet migrate` did.
#[derive(Debug, Default)]
pub struct MigrateReport {
    pub total: usize,
    pub up_to_date: usize,
    pub migrated: usize,
    /// (slug, reason)
    pub failed: Vec<(String, String)>,
}

/// What [`ControlPlane::migrate_all`] tells as it goes.
pub enum MigrateEvent<'a> {
    Plan { total: usize, up_to_date: usize, to_migrate: usize },
    Tenant { done: usize, slug: &'a str, result: &'a anyhow::Result<String> },
}

pub struct ControlPlane {
    storage: Storage,
    runtime: Runtime,
    vault: Vault,
    public_url: url::Url,
    plans: std::sync::Arc<Catalogue>,
    /// Stripe, when `TIKETHET_STRIPE_SECRET_KEY` is set (offline otherwise).
    stripe: Option<tikethet_billing::stripe::client::StripeApi>,
    /// When the last usage report to Stripe went through whole.
    pub(crate) usage_reported_at: Mutex<Option<std::time::Instant>>,
    /// updated_at of each tenant the runtime serves, to reload only changes.
    served: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Tenants behind on migrations, held while a background task migrates
    /// them (see [`ControlPlane::sync`]).
    catching_up: Mutex<std::collections::HashSet<String>>,
    /// Those background migrations run this many at a time.
    migrations: std::sync::Arc<tokio::sync::Semaphore>,
    /// Usage across tenants as the dashboard last read it.
    pub(crate) usage_across: tokio::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<dashboard::UsageAcross>)>>,
    /// Desks opened by signup and not yet claimed, by webhook route: their
    /// updates are answered here (see [`signup`]).
    unclaimed: Mutex<HashMap<String, signup::Unclaimed>>,
    /// Looks up the DNS records that prove desks' own domains.
    dns: domains::DnsCheck,
}

/// How a new desk's row starts: the operator's, active with its owner; a
/// signup's, unclaimed with a claim code's hash and expiry.
struct Opening {
    status: &'static str,
    owner: i64,
    plan: String,
    theme: Theme,
    claim: Option<(String, DateTime<Utc>)>,
    /// `None`: English.
    default_language: Option<String>,
}

/// Tenants a serving node migrates at once (as `tikethet migrate` by default).
pub const SERVE_MIGRATIONS: usize = 4;

/// The status of a tenant whose deletion started (and may be retried).
const DELETING: &str = "deleting";

fn token_error(e: RequestError) -> ControlError {
    match e {
        RequestError::Api(ApiError::InvalidToken) | RequestError::Api(ApiError::BotKicked) => {
            ControlError::TokenRefused("Unauthorized".into())
        }
        RequestError::Api(other) => ControlError::TokenRefused(other.to_string()),
        other => ControlError::Telegram(other.to_string()),
    }
}

/// A refused `setWebhook` is about the URL, not the token (which `getMe`
/// just accepted).
fn webhook_error(e: RequestError) -> ControlError {
    match e {
        RequestError::Api(ApiError::InvalidToken) => ControlError::TokenRefused("Unauthorized".into()),
        RequestError::Api(other) => ControlError::WebhookRefused(other.to_string()),
        other => ControlError::Telegram(other.to_string()),
    }
}

fn new_route() -> String {
    format!("r{}", random_hex(16))
}

fn new_secret() -> String {
    // secret_token allows A-Z, a-z, 0-9, _ and -, 1 to 256 characters.
    random_hex(32)
}

fn random_hex(n: usize) -> String {
    use rand::RngCore as _;
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl ControlPlane {
    pub fn new(
        storage: Storage,
        runtime: Runtime,
        vault: Vault,
        public_url: url::Url,
        plans: std::sync::Arc<Catalogue>,
        stripe: Option<tikethet_billing::stripe::client::StripeApi>,
        dns: domains::DnsCheck,
    ) -> Self {
        ControlPlane {
            storage,
            runtime,
            vault,
            public_url,
            plans,
            stripe,
            usage_reported_at: Mutex::new(None),
            served: Mutex::new(HashMap::new()),
            catching_up: Mutex::new(Default::default()),
            migrations: std::sync::Arc::new(tokio::sync::Semaphore::new(SERVE_MIGRATIONS)),
            usage_across: tokio::sync::Mutex::new(None),
            unclaimed: Mutex::new(HashMap::new()),
            dns,
        }
    }

    /// The webhook's URL: on the tenant's own domain when it has one.
    fn webhook_url(&self, route: &str, domain: Option<&str>) -> String {
        match domain {
            Some(d) => format!("https://{d}/tg/{route}"),
            None => format!("{}/tg/{route}", self.public_url.as_str().trim_end_matches('/')),
        }
    }

    /// The plans on offer.
    pub fn plans(&self) -> &Catalogue {
        &self.plans
    }

    /// A plan id of the catalogue, or a 400 naming the known ones.
    fn plan_id(&self, id: &str) -> Result<String> {
        Ok(self.plans.plan(id).map_err(|e| Invalid::new("plan", e.to_string()))?.id.clone())
    }

    fn record(&self, m: &tenants::Model) -> TenantRecord {
        let overrides = Overrides::from_stored(m.limit_overrides.as_deref());
        TenantRecord {
            limits: self.plans.limits_of(&m.plan, &overrides).into(),
            limits_overridden: overrides.0.keys().map(|l| l.as_str().to_owned()).collect(),
            id: m.id.clone(),
            slug: m.slug.clone(),
            name: m.name.clone(),
            status: m.status.clone(),
            plan: m.plan.clone(),
            theme: m.theme.clone(),
            bot_id: m.bot_id,
            bot_username: m.bot_username.clone(),
            owner_telegram_id: m.owner_telegram_id,
            schema_version: m.schema_version.clone(),
            webhook_url: self.webhook_url(&m.webhook_route, m.custom_domain.as_deref()),
            custom_domain: m.custom_domain.clone(),
            trial_ends_at: m.trial_ends_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }

    fn info(&self, m: &tenants::Model) -> anyhow::Result<TenantInfo> {
        let token = self.vault.open(&m.bot_token_enc).with_context(|| format!("tenant {}", m.slug))?;
        // A plan no longer in the catalogue counts as the default one.
        let plan = self.plans.plan(&m.plan).unwrap_or_else(|_| self.plans.default_plan());
        let limits = self.plans.limits_of(&m.plan, &Overrides::from_stored(m.limit_overrides.as_deref()));
        Ok(TenantInfo {
            id: TenantId::from_stored(m.id.clone()),
            slug: TenantSlug::parse(&m.slug).context("stored slug")?,
            name: m.name.clone(),
            // A desk being deleted, or not yet claimed, is served by nobody; as facts it is suspended.
            status: TenantStatus::parse(&m.status).or_else(|| (m.status == DELETING || m.status == signup::UNCLAIMED).then_some(TenantStatus::Suspended)).context("stored status")?,
            theme: Theme::parse(&m.theme).unwrap_or_else(|_| Theme::default_theme()),
            branding: tikethet_themes::branding::Branding::from_stored(m.branding.as_deref()),
            custom_domain: m.custom_domain.clone(),
            bot_texts: tikethet_themes::BotTexts::from_stored(m.bot_texts.as_deref()),
            bot_token: BotToken::parse(&token).context("stored bot token")?,
            bot_username: m.bot_username.clone(),
            webhook_route: m.webhook_route.clone(),
            webhook_secret: self.vault.open(&m.webhook_secret_enc).with_context(|| format!("tenant {}", m.slug))?,
            owner_telegram_id: m.owner_telegram_id,
            storage_name: m.storage_name.clone(),
            max_attachment_bytes: limits.max_attachment_bytes(),
            plan: plan.id.clone(),
            plan_name: plan.name.clone(),
            quotas: tikethet_runtime::Quotas {
                agents: limits.agents,
                tickets_per_month: limits.tickets_per_month,
                messages_per_month: limits.messages_per_month,
                plugins: limits.plugins,
                storage_bytes: limits.storage_bytes,
            },
            // Checked before it was stored; one that no longer reads (a
            // hand edit) counts as none.
            sla: m.sla.as_deref().and_then(|s| serde_json::from_str(s).ok()).and_then(|v| tikethet_runtime::desk::sla::SlaPolicy::from_json(&v).ok()).filter(|p| !p.is_empty()),
            reopen_days: m.reopen_days.and_then(|d| u32::try_from(d).ok()).map_or(tikethet_runtime::storage::tenant::DEFAULT_REOPEN_DAYS, |d| d.min(tikethet_runtime::storage::tenant::MAX_REOPEN_DAYS)),
            // Checked when set; a language the desk no longer has texts in
            // still renders (its texts fall back to the built-in ones).
            default_language: m.default_language.clone().unwrap_or_else(|| "en".to_owned()),
            claimed_with: m.claim_code_hash.clone(),
        })
    }

    async fn find(&self, slug: &str) -> Result<tenants::Model> {
        // What is not a slug names no tenant (and never reaches the database).
        if TenantSlug::parse(slug).is_err() {
            return Err(ControlError::NotFound(slug.to_owned()));
        }
        tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug))
            .one(self.storage.control())
            .await?
            .ok_or_else(|| ControlError::NotFound(slug.to_owned()))
    }

    async fn serve(&self, m: &tenants::Model) -> Result<()> {
        let info = self.info(m)?;
        self.runtime.install(info).await?;
        self.served.lock().expect("poisoned").insert(m.id.clone(), m.updated_at);
        Ok(())
    }

    /// Brings the runtime in line with the control plane: serves new and
    /// changed tenants, stops serving removed ones. Runs at start-up and then
    /// periodically, so changes made by the CLI or another node take effect.
    /// Returns the tenants newly served, for recovery.
    ///
    /// A tenant whose storage is behind this build's migrations is held (its
    /// webhooks are stored in the control plane and acknowledged; its API
    /// answers 503) and migrated in the background, a few at a time, then
    /// released and recovered: the node serves everyone else at once.
    pub async fn sync(self: &std::sync::Arc<Self>) -> anyhow::Result<Vec<String>> {
        // What is served, noted before the rows are read: a change made on
        // this node meanwhile (served after its commit) then differs from
        // the note only if the rows already show it, so a row read just
        // before that commit is never served over it.
        let known: HashMap<String, DateTime<Utc>> = self.served.lock().expect("poisoned").clone();
        // Unpaid past the grace period: suspended before the rows are read,
        // so this very sync serves the change.
        if let Err(e) = self.suspend_after_grace(Utc::now()).await {
            tracing::warn!(error = %format!("{e:#}"), "could not check billing grace periods; the next sync will");
        }
        let rows = tenants::Entity::find().all(self.storage.control()).await.context("failed to list tenants")?;
        let now = Utc::now();
        self.sweep_unclaimed(&rows, now).await;
        if let Err(e) = self.trials(&rows, now).await {
            tracing::warn!(error = %format!("{e:#}"), "could not check trials; the next sync will");
        }
        let mut fresh = Vec::new();
        for m in &rows {
            if m.status == signup::UNCLAIMED {
                // Answered by the control plane until claimed (see `signup`).
                continue;
            }
            if m.status == DELETING {
                if known.contains_key(&m.id) || self.catching_up.lock().expect("poisoned").contains(&m.id) {
                    self.runtime.uninstall(&TenantId::from_stored(m.id.clone()));
                    self.served.lock().expect("poisoned").remove(&m.id);
                }
                continue;
            }
            if known.get(&m.id) == Some(&m.updated_at) || self.catching_up.lock().expect("poisoned").contains(&m.id) {
                continue;
            }
            if m.schema_version.as_deref() != Some(tikethet_migrations::latest_tenant_version().as_str()) {
                self.catch_up(m);
                continue;
            }
            match self.serve(m).await {
                Ok(()) => {
                    if !known.contains_key(&m.id) {
                        fresh.push(m.id.clone());
                    }
                }
                Err(e) => tracing::error!(tenant = %m.id, slug = %m.slug, error = %format!("{e:#}"), "cannot serve tenant"),
            }
        }
        let live: std::collections::HashSet<&String> = rows.iter().map(|m| &m.id).collect();
        let gone: Vec<String> = known.keys().filter(|id| !live.contains(id)).cloned().collect();
        for id in gone {
            self.runtime.uninstall(&TenantId::from_stored(id.clone()));
            self.served.lock().expect("poisoned").remove(&id);
        }
        Ok(fresh)
    }

    /// Holds a tenant that is behind and migrates it in the background;
    /// a failed migration is logged and tried again by the next sync, the
    /// tenant staying held (its updates kept) meanwhile.
    fn catch_up(self: &std::sync::Arc<Self>, m: &tenants::Model) {
        let info = match self.info(m) {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(tenant = %m.id, slug = %m.slug, error = %format!("{e:#}"), "cannot serve tenant");
                return;
            }
        };
        self.catching_up.lock().expect("poisoned").insert(m.id.clone());
        self.runtime.hold(&info);
        tracing::info!(tenant = %m.id, slug = %m.slug, "tenant's storage is behind: holding its updates while it is migrated");
        let this = self.clone();
        let m = m.clone();
        tokio::spawn(async move {
            let Ok(_slot) = this.migrations.clone().acquire_owned().await else { return };
            let result = async {
                this.migrate_one(&m).await?;
                let tenant = this.runtime.release(info).await?;
                this.served.lock().expect("poisoned").insert(m.id.clone(), m.updated_at);
                this.runtime.recover(&tenant).await?;
                anyhow::Ok(())
            }
            .await;
            if let Err(e) = result {
                tracing::error!(tenant = %m.id, slug = %m.slug, error = %format!("{e:#}"), "tenant's storage could not be made ready; its updates stay held and it is tried again");
            }
            this.catching_up.lock().expect("poisoned").remove(&m.id);
        });
    }

    async fn migrate_one(&self, m: &tenants::Model) -> anyhow::Result<String> {
        let version = self.storage.migrate_tenant(&m.storage_name).await?;
        self.record_version(m, &version).await?;
        Ok(version)
    }

    /// Migrates every tenant's schema that needs it, `concurrency` at a
    /// time; a failure is reported and the others go on. Schemas already at
    /// the newest version are found up front without touching each one, and
    /// each tenant migrates in one transaction, so an interrupted run leaves
    /// every schema either migrated or as it was: running again resumes.
    /// `progress` hears the plan once, then about each tenant as it is done.
    pub async fn migrate_all(&self, concurrency: usize, mut progress: impl FnMut(MigrateEvent<'_>)) -> anyhow::Result<MigrateReport> {
        use futures::StreamExt as _;
        let rows = tenants::Entity::find()
            .order_by_asc(tenants::Column::CreatedAt)
            .all(self.storage.control())
            .await
            .context("failed to list tenants")?;
        let names: Vec<String> = rows.iter().map(|m| m.storage_name.clone()).collect();
        let current = self.storage.up_to_date(&names).await;
        let latest = tikethet_migrations::latest_tenant_version();
        let mut report = MigrateReport { total: rows.len(), ..Default::default() };
        let mut todo = Vec::new();
        for m in &rows {
            if current.contains(&m.storage_name) {
                report.up_to_date += 1;
                if m.schema_version.as_deref() != Some(latest.as_str()) {
                    // Migrated by a run that stopped before recording it.
                    self.record_version(m, &latest).await.ok();
                }
            } else {
                todo.push(m);
            }
        }
        progress(MigrateEvent::Plan { total: report.total, up_to_date: report.up_to_date, to_migrate: todo.len() });
        let mut results = futures::stream::iter(todo)
            .map(|m| async move { (m, self.migrate_one(m).await) })
            .buffer_unordered(concurrency.max(1));
        let mut done = 0;
        while let Some((m, r)) = results.next().await {
            done += 1;
            match &r {
                Ok(_) => report.migrated += 1,
                Err(e) => report.failed.push((m.slug.clone(), format!("{e:#}"))),
            }
            progress(MigrateEvent::Tenant { done, slug: &m.slug, result: &r });
        }
        Ok(report)
    }

    async fn record_version(&self, m: &tenants::Model, version: &str) -> anyhow::Result<()> {
        let mut am: tenants::ActiveModel = m.clone().into();
        am.schema_version = Set(Some(version.to_owned()));
        am.update(self.storage.control()).await?;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<TenantRecord>> {
        let rows = tenants::Entity::find().order_by_asc(tenants::Column::CreatedAt).all(self.storage.control()).await?;
        Ok(rows.iter().map(|m| self.record(m)).collect())
    }

    pub async fn get(&self, slug: &str) -> Result<TenantRecord> {
        Ok(self.record(&self.find(slug).await?))
    }

    async fn check_bot_free(&self, bot_id: i64, except: Option<&str>) -> Result<()> {
        if let Some(other) = tenants::Entity::find()
            .filter(tenants::Column::BotId.eq(bot_id))
            .one(self.storage.control())
            .await?
            .filter(|o| Some(o.id.as_str()) != except)
        {
            return Err(ControlError::BotInUse(other.slug));
        }
        Ok(())
    }

    /// Provisions a tenant: checks the token with `getMe`, creates and
    /// migrates its schema, stores it, registers the webhook, and serves it.
    pub async fn create(&self, new: NewTenant) -> Result<TenantRecord> {
        let plan = match &new.plan {
            Some(p) => self.plan_id(p)?,
            None => self.plans.default_plan().id.clone(),
        };
        if tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(new.slug.as_str()))
            .one(self.storage.control())
            .await?
            .is_some()
        {
            return Err(ControlError::SlugTaken(new.slug.to_string()));
        }
        let me = self.runtime.bot(&new.bot_token).get_me().await.map_err(token_error)?;
        self.check_bot_free(me.id.0 as i64, None).await?;
        let opening = Opening { status: TenantStatus::Active.as_str(), owner: new.owner_telegram_id.get(), plan, theme: new.theme, claim: None, default_language: None };
        let m = self.open(&new.slug, new.name, &new.bot_token, &me, opening).await?;
        self.set_menu_button(&new.bot_token, &m.slug, None).await;
        self.serve(&m).await?;
        tracing::info!(tenant = %m.id, slug = %m.slug, bot = %m.bot_username, "tenant provisioned");
        Ok(self.record(&m))
    }

    /// Creates and migrates a new desk's storage, stores its row and
    /// registers its webhook; on any failure nothing is left behind.
    async fn open(&self, slug: &TenantSlug, name: String, token: &BotToken, me: &teloxide::types::Me, opening: Opening) -> Result<tenants::Model> {
        let id = TenantId::generate();
        let route = new_route();
        let secret = new_secret();
        let storage_name = self.storage.storage_name_for(slug);
        if self.storage.tenant_storage_exists(&storage_name).await? {
            return Err(ControlError::StorageExists(storage_name));
        }
        let version = match self.storage.create_tenant_storage(&storage_name).await {
            Ok(v) => v,
            Err(e) => {
                self.storage.drop_tenant(&storage_name).await.ok();
                return Err(e.into());
            }
        };
        let now = Utc::now();
        let (claim_code_hash, claim_expires_at) = opening.claim.map_or((None, None), |(h, at)| (Some(h), Some(at)));
        let row = tenants::ActiveModel {
            id: Set(id.to_string()),
            slug: Set(slug.to_string()),
            name: Set(name),
            status: Set(opening.status.to_owned()),
            plan: Set(opening.plan),
            limit_overrides: Set(None),
            sla: Set(None),
            reopen_days: Set(None),
            default_language: Set(opening.default_language),
            theme: Set(opening.theme.name.to_owned()),
            branding: Set(None),
            custom_domain: Set(None),
            bot_texts: Set(None),
            bot_id: Set(me.id.0 as i64),
            bot_username: Set(me.username.clone().unwrap_or_default()),
            bot_token_enc: Set(self.vault.seal(token.expose())),
            webhook_route: Set(route.clone()),
            webhook_secret_enc: Set(self.vault.seal(&secret)),
            owner_telegram_id: Set(opening.owner),
            storage_name: Set(storage_name.clone()),
            schema_version: Set(Some(version)),
            claim_code_hash: Set(claim_code_hash),
            claim_expires_at: Set(claim_expires_at),
            trial_ends_at: Set(None),
            trial_reminded_days: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let m = match row.insert(self.storage.control()).await {
            Ok(m) => m,
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                // Lost a race for the slug (the schema belongs to the
                // winner) or for the bot (unique bot id).
                let slug_row = tenants::Entity::find().filter(tenants::Column::Slug.eq(slug.as_str())).one(self.storage.control()).await?;
                if slug_row.is_some() {
                    return Err(ControlError::SlugTaken(slug.to_string()));
                }
                self.storage.drop_tenant(&storage_name).await.ok();
                let other = tenants::Entity::find().filter(tenants::Column::BotId.eq(me.id.0 as i64)).one(self.storage.control()).await?;
                return Err(ControlError::BotInUse(other.map(|o| o.slug).unwrap_or_default()));
            }
            Err(e) => {
                self.storage.drop_tenant(&storage_name).await.ok();
                return Err(e.into());
            }
        };
        if let Err(e) = self.register_webhook(token, &route, &secret, None).await {
            tenants::Entity::delete_by_id(m.id.clone()).exec(self.storage.control()).await.ok();
            self.storage.drop_tenant(&storage_name).await.ok();
            return Err(e);
        }
        Ok(m)
    }

    /// Points the bot's chat menu button at the desk's Mini App. Telegram
    /// takes https only, so a development desk on plain HTTP keeps the
    /// default menu; a refusal is logged, not fatal (the desk works without).
    async fn set_menu_button(&self, token: &BotToken, slug: &str, domain: Option<&str>) {
        let url = match domain {
            Some(d) => format!("https://{d}/app/"),
            None if self.public_url.scheme() == "https" || self.runtime.mini_app_over_http() => format!("{}/t/{slug}/app/", self.public_url.as_str().trim_end_matches('/')),
            None => return,
        };
        let Ok(url) = url.parse() else { return };
        let text = self
            .runtime
            .renderer()
            .bot_text(tikethet_themes::BotText::MenuButton, None, Theme::default_theme(), "", ())
            .unwrap_or_else(|_| "Support".to_owned());
        let button = teloxide::types::MenuButton::WebApp { text, web_app: teloxide::types::WebAppInfo { url } };
        if let Err(e) = self.runtime.bot(token).set_chat_menu_button().menu_button(button).await {
            tracing::warn!(slug, error = %e, "could not set the bot's menu button to the Mini App");
        }
    }

    async fn register_webhook(&self, token: &BotToken, route: &str, secret: &str, domain: Option<&str>) -> Result<()> {
        // What the runtime handles (`tikethet_runtime::inbound::intake::HANDLED_KINDS`).
        let allowed: Vec<AllowedUpdate> = vec![AllowedUpdate::Message, AllowedUpdate::EditedMessage, AllowedUpdate::CallbackQuery];
        self.runtime
            .bot(token)
            .set_webhook(self.webhook_url(route, domain).parse().map_err(|e| ControlError::Internal(anyhow::anyhow!("bad webhook URL: {e}")))?)
            .secret_token(secret.to_owned())
            .allowed_updates(allowed)
            .await
            .map_err(webhook_error)?;
        Ok(())
    }

    pub async fn update(&self, slug: &str, changes: TenantChanges) -> Result<TenantRecord> {
        let m = self.find(slug).await?;
        let old_plan = m.plan.clone();
        let owner_changed = changes.owner_telegram_id.is_some_and(|o| o.get() != m.owner_telegram_id);
        let old_domain = m.custom_domain.clone();
        let mut am: tenants::ActiveModel = m.into();
        if let Some(n) = changes.name {
            am.name = Set(n);
        }
        if let Some(o) = changes.owner_telegram_id {
            am.owner_telegram_id = Set(o.get());
        }
        if let Some(p) = changes.plan {
            am.plan = Set(self.plan_id(&p)?);
        }
        if let Some(o) = changes.limits {
            am.limit_overrides = Set(o.to_stored());
        }
        if let Some(t) = changes.theme {
            am.theme = Set(t.name.to_owned());
        }
        let domain_change = changes.custom_domain.map(|d| d.map(|d| d.as_str().to_owned())).filter(|d| *d != old_domain);
        if let Some(d) = &domain_change {
            if d.as_deref() == self.public_url.host_str() {
                return Err(Invalid::new("custom_domain", "is the platform's own host name").into());
            }
            am.custom_domain = Set(d.clone());
        }
        am.updated_at = Set(Utc::now());
        let m = match am.update(self.storage.control()).await {
            Ok(m) => m,
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(ControlError::DomainTaken(domain_change.flatten().unwrap_or_default()));
            }
            Err(e) => return Err(e.into()),
        };
        if m.plan != old_plan {
            // A paying tenant moved to another plan by hand: its MRR moves too.
            let status = self.billing_status_of(&m.id).await?;
            let (before, after) = (dashboard::mrr_of(&self.plans, &old_plan, status.as_deref()), dashboard::mrr_of(&self.plans, &m.plan, status.as_deref()));
            dashboard::record_mrr_change(self.storage.control(), &self.plans, &m.id, &m.plan, before, after, "operator").await?;
        }
        if domain_change.is_some() {
            // Telegram delivers to, and the Mini App opens on, the new host.
            let info = self.info(&m)?;
            self.register_webhook(&info.bot_token, &m.webhook_route, &info.webhook_secret, m.custom_domain.as_deref()).await?;
            self.set_menu_button(&info.bot_token, &m.slug, m.custom_domain.as_deref()).await;
        }
        self.serve(&m).await?;
        if owner_changed {
            // The previous owner keeps working as an admin, no longer owner.
            let demoted = self
                .runtime
                .change_owner(&TenantId::from_stored(m.id.clone()), m.owner_telegram_id)
                .await
                .map_err(|e| ControlError::Internal(anyhow::anyhow!("failed to change the owner inside the desk: {e}")))?;
            tracing::info!(tenant = %m.id, slug = %m.slug, demoted, "tenant owner changed");
        }
        Ok(self.record(&m))
    }

    pub async fn set_status(&self, slug: &str, status: TenantStatus) -> Result<TenantRecord> {
        let m = self.find(slug).await?;
        if m.status == signup::UNCLAIMED {
            // Resuming it would serve a desk nobody owns.
            return Err(Invalid::new("status", "this desk waits for its owner's claim (it was opened by signup); it serves nobody until then, and is removed a day after signup if unclaimed").into());
        }
        let mut am: tenants::ActiveModel = m.into();
        am.status = Set(status.as_str().to_owned());
        am.updated_at = Set(Utc::now());
        let m = am.update(self.storage.control()).await?;
        self.serve(&m).await?;
        tracing::info!(tenant = %m.id, slug = %m.slug, status = %m.status, "tenant status changed");
        Ok(self.record(&m))
    }

    /// Sets a tenant's theme (when given) and its brand over it (replacing
    /// the previous brand). The brand was checked where it came in. Other
    /// nodes pick the change up with the next sync.
    pub async fn set_theme(&self, slug: &str, theme: Option<Theme>, branding: &tikethet_themes::branding::Branding) -> Result<TenantInfo> {
        let m = self.find(slug).await?;
        let mut am: tenants::ActiveModel = m.into();
        if let Some(t) = theme {
            am.theme = Set(t.name.to_owned());
        }
        let stored = if branding.is_empty() { None } else { Some(serde_json::to_string(branding).map_err(|e| ControlError::Internal(e.into()))?) };
        am.branding = Set(stored);
        am.updated_at = Set(Utc::now());
        let m = am.update(self.storage.control()).await?;
        self.serve(&m).await?;
        Ok(self.info(&m)?)
    }

    /// Replaces a desk's service-level policy (checked where it came in);
    /// one without targets clears it.
    pub async fn set_sla(&self, slug: &str, policy: &tikethet_runtime::desk::sla::SlaPolicy) -> Result<TenantInfo> {
        let m = self.find(slug).await?;
        let mut am: tenants::ActiveModel = m.into();
        am.sla = Set((!policy.is_empty()).then(|| policy.to_json().to_string()));
        am.updated_at = Set(Utc::now());
        let m = am.update(self.storage.control()).await?;
        self.serve(&m).await?;
        Ok(self.info(&m)?)
    }

    /// Sets how many days after resolution a customer's message reopens a
    /// ticket (checked where it came in).
    pub async fn set_reopen_days(&self, slug: &str, days: u32) -> Result<TenantInfo> {
        let m = self.find(slug).await?;
        let mut am: tenants::ActiveModel = m.into();
        am.reopen_days = Set(Some(i32::try_from(days).unwrap_or(i32::MAX)));
        am.updated_at = Set(Utc::now());
        let m = am.update(self.storage.control()).await?;
        self.serve(&m).await?;
        Ok(self.info(&m)?)
    }

    /// Sets the language the desk speaks when a customer's is not one of
    /// its own: a built-in language or one the desk has texts in.
    pub async fn set_default_language(&self, slug: &str, language: &str) -> Result<TenantInfo> {
        let m = self.find(slug).await?;
        let texts = tikethet_themes::BotTexts::from_stored(m.bot_texts.as_deref());
        let lang = tikethet_themes::language::canonical_tag(language).map_err(|e| Invalid::new("default_language", e))?;
        if !tikethet_themes::language::is_built_in(&lang) && !texts.0.contains_key(&lang) {
            return Err(Invalid::new("default_language", format!("{lang}: the desk has no texts in this language; add some first, or choose one of {}", tikethet_themes::language::BUILT_IN.join(", "))).into());
        }
        let mut am: tenants::ActiveModel = m.into();
        am.default_language = Set(Some(lang));
        am.updated_at = Set(Utc::now());
        let m = am.update(self.storage.control()).await?;
        self.serve(&m).await?;
        Ok(self.info(&m)?)
    }

    /// Replaces a tenant's own bot texts (checked where they came in).
    pub async fn set_bot_texts(&self, slug: &str, texts: &tikethet_themes::BotTexts) -> Result<TenantInfo> {
        let m = self.find(slug).await?;
        // The default language of the desk's own must keep its texts.
        if let Some(d) = m.default_language.as_deref().filter(|d| !tikethet_themes::language::is_built_in(d) && !texts.0.contains_key(*d)) {
            return Err(Invalid::new("texts", format!("{d} is the desk's default language: choose another default before removing its texts")).into());
        }
        let mut am: tenants::ActiveModel = m.into();
        let stored = if texts.is_empty() { None } else { Some(serde_json::to_string(texts).map_err(|e| ControlError::Internal(e.into()))?) };
        am.bot_texts = Set(stored);
        am.updated_at = Set(Utc::now());
        let m = am.update(self.storage.control()).await?;
        self.serve(&m).await?;
        Ok(self.info(&m)?)
    }

    /// Replaces the bot: the new token is checked, the webhook moves to it
    /// with a fresh secret, and the old bot's webhook is removed.
    pub async fn replace_bot_token(&self, slug: &str, token: BotToken) -> Result<TenantRecord> {
        let m = self.find(slug).await?;
        let old = self.info(&m)?;
        let me = self.runtime.bot(&token).get_me().await.map_err(token_error)?;
        self.check_bot_free(me.id.0 as i64, Some(&m.id)).await?;
        let secret = new_secret();
        self.register_webhook(&token, &m.webhook_route, &secret, m.custom_domain.as_deref()).await?;
        self.set_menu_button(&token, &m.slug, m.custom_domain.as_deref()).await;
        if old.bot_token.bot_id() != token.bot_id() {
            if let Err(e) = self.runtime.bot(&old.bot_token).delete_webhook().await {
                tracing::warn!(slug = %m.slug, error = %e, "could not remove the old bot's webhook");
            }
        }
        let mut am: tenants::ActiveModel = m.into();
        am.bot_id = Set(me.id.0 as i64);
        am.bot_username = Set(me.username.clone().unwrap_or_default());
        am.bot_token_enc = Set(self.vault.seal(token.expose()));
        am.webhook_secret_enc = Set(self.vault.seal(&secret));
        am.updated_at = Set(Utc::now());
        let m = am.update(self.storage.control()).await?;
        self.serve(&m).await?;
        Ok(self.record(&m))
    }

    /// Removes a tenant and all its data. `confirm` must repeat the slug.
    pub async fn delete(&self, slug: &str, confirm: Option<&str>) -> Result<()> {
        let m = self.find(slug).await?;
        if confirm != Some(slug) {
            return Err(ControlError::ConfirmationRequired);
        }
        let info = self.info(&m)?;
        if let Err(e) = self.runtime.bot(&info.bot_token).delete_webhook().await {
            // The tenant goes anyway: its route stops existing, so Telegram's
            // deliveries get 404 until the bot's owner points it elsewhere.
            tracing::warn!(slug = %m.slug, error = %e, "could not remove the webhook of a deleted tenant");
        }
        // Marked first, so that no node serves it (or reopens its storage)
        // meanwhile; the storage goes before the row, so that a failed drop
        // leaves the row to retry with, never a row-less leftover that a new
        // tenant of the same slug would inherit. Retrying is safe.
        if m.status != DELETING {
            let mut am: tenants::ActiveModel = m.clone().into();
            am.status = Set(DELETING.to_owned());
            am.updated_at = Set(Utc::now());
            am.update(self.storage.control()).await?;
        }
        self.runtime.uninstall(&info.id);
        self.served.lock().expect("poisoned").remove(&m.id);
        self.runtime.drop_held(&info.id).await.with_context(|| format!("failed to remove the held updates of tenant {}; retry the deletion", m.slug))?;
        // Its attachments leave the object store before its storage goes:
        // the row stays (DELETING) until both are gone, so a retry finishes.
        let files = self.runtime.files().delete_tenant(&info.id).await.with_context(|| format!("failed to remove the files of tenant {}; retry the deletion", m.slug))?;
        tracing::info!(tenant = %m.id, files, "tenant's files removed");
        self.storage.drop_tenant(&m.storage_name).await.with_context(|| format!("failed to remove the storage of tenant {}; retry the deletion", m.slug))?;
        domains::custom_domains::Entity::delete_by_id(m.id.clone()).exec(self.storage.control()).await?;
        tenants::Entity::delete_by_id(m.id.clone()).exec(self.storage.control()).await?;
        tracing::info!(tenant = %m.id, slug = %m.slug, "tenant deleted");
        Ok(())
    }
}
