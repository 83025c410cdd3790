//! The runtime's view of a tenant, and the registry that routes to them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use teloxide::Bot;
use tikethet_themes::Theme;
use tokio::sync::mpsc;

use crate::storage::TenantDb;
use crate::domain::{BotToken, TenantId, TenantSlug};
use crate::inbound::intake::IntakeJob;

/// Whether a tenant's desk is serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(TenantStatus::Active),
            "suspended" => Some(TenantStatus::Suspended),
            _ => None,
        }
    }
}

/// What the runtime needs to know of a tenant, decrypted; the platform's
/// control plane is the source of truth and hands these over. Its `Debug`
/// leaves out the secrets.
#[derive(Clone)]
pub struct TenantInfo {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub status: TenantStatus,
    pub theme: Theme,
    /// The tenant's overrides of its theme's tokens.
    pub branding: tikethet_themes::branding::Branding,
    /// The tenant's own host name: its desk answers there without the
    /// `/t/{slug}` prefix, and its links and webhook use it.
    pub custom_domain: Option<String>,
    /// The tenant's own versions of the bot's texts.
    pub bot_texts: tikethet_themes::BotTexts,
    pub bot_token: BotToken,
    pub bot_username: String,
    pub webhook_route: String,
    pub webhook_secret: String,
    pub owner_telegram_id: i64,
    pub storage_name: String,
    /// The largest attachment the tenant's plan accepts, in bytes.
    pub max_attachment_bytes: u64,
    /// The tenant's plan (its id and its name for people).
    pub plan: String,
    pub plan_name: String,
    /// What the plan (with the operator's overrides) allows.
    pub quotas: Quotas,
    /// The desk's service-level targets, if it set any.
    pub sla: Option<crate::desk::sla::SlaPolicy>,
    /// Days after a ticket is resolved in which the customer's next
    /// message reopens it (counted as a reopening); later ones open a new
    /// ticket. 0: never.
    pub reopen_days: u32,
    /// The language the bot speaks to a customer whose Telegram gives none
    /// or one the desk does not speak: a built-in language or one the desk
    /// has texts of its own in (a BCP 47 tag; `en` unless chosen).
    pub default_language: String,
    /// For a desk opened through signup: the hash of the code its owner
    /// claimed it with ([`claim_code_hash`]), so that the same code sent
    /// again gets the owner a console link and anyone else a refusal.
    pub claimed_with: Option<String>,
}

/// How a desk's claim code is kept: SHA-256, hex. The code itself is shown
/// once, in the claim link.
/// [`TenantInfo::reopen_days`] of a desk that did not choose: a customer
/// who writes within three days of a resolution is taken to be coming back
/// to the same matter (as Zendesk's follow-ups and Help Scout's replies do).
pub const DEFAULT_REOPEN_DAYS: u32 = 3;
/// The longest reopening window a desk may choose.
pub const MAX_REOPEN_DAYS: u32 = 90;

pub fn claim_code_hash(code: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(code.trim().as_bytes()))
}

impl TenantInfo {
    /// Whether `/start {args}` carries the code this desk was claimed with.
    pub fn claimed_with(&self, args: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let args = args.trim();
        !args.is_empty() && self.claimed_with.as_ref().is_some_and(|h| bool::from(h.as_bytes().ct_eq(claim_code_hash(args).as_bytes())))
    }
}

/// A plan's limits as the desk enforces them; `None` is unlimited. Monthly
/// limits count calendar months in UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    /// Staff members (helper and above, the owner included).
    pub agents: Option<u64>,
    pub tickets_per_month: Option<u64>,
    /// Ticket messages, customers' and staff's (notes excluded).
    pub messages_per_month: Option<u64>,
    pub plugins: Option<u64>,
    /// All attachments together.
    pub storage_bytes: Option<u64>,
}

impl std::fmt::Debug for TenantInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantInfo")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .field("status", &self.status)
            .field("bot_token", &self.bot_token)
            .field("bot_username", &self.bot_username)
            .field("webhook_route", &self.webhook_route)
            .field("webhook_secret", &"***")
            .field("owner_telegram_id", &self.owner_telegram_id)
            .field("storage_name", &self.storage_name)
            .finish_non_exhaustive()
    }
}

/// A tenant being served: its facts, its storage, its bot client and the
/// writer that stores its webhook updates.
pub struct Tenant {
    pub info: TenantInfo,
    pub db: TenantDb,
    pub bot: Bot,
    /// Where its webhook updates are written: one of PostgreSQL's shared
    /// writers, or on SQLite a writer of its own, started by its first
    /// update (an idle tenant costs no task).
    pub(crate) intake: std::sync::OnceLock<mpsc::Sender<IntakeJob>>,
}

#[derive(Default)]
struct Index {
    by_id: HashMap<TenantId, Arc<Tenant>>,
    by_route: HashMap<String, TenantId>,
    by_slug: HashMap<String, TenantId>,
    by_domain: HashMap<String, TenantId>,
}

/// Every tenant this node serves, by id, webhook route and slug.
#[derive(Default)]
pub struct Registry {
    index: RwLock<Index>,
}

impl Registry {
    pub fn get(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        self.index.read().expect("poisoned").by_id.get(id).cloned()
    }

    pub fn by_route(&self, route: &str) -> Option<Arc<Tenant>> {
        let idx = self.index.read().expect("poisoned");
        idx.by_route.get(route).and_then(|id| idx.by_id.get(id)).cloned()
    }

    pub fn by_slug(&self, slug: &str) -> Option<Arc<Tenant>> {
        let idx = self.index.read().expect("poisoned");
        idx.by_slug.get(slug).and_then(|id| idx.by_id.get(id)).cloned()
    }

    /// The tenant answering on its own host name.
    pub fn by_domain(&self, host: &str) -> Option<Arc<Tenant>> {
        let idx = self.index.read().expect("poisoned");
        idx.by_domain.get(host).and_then(|id| idx.by_id.get(id)).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Tenant>> {
        self.index.read().expect("poisoned").by_id.values().cloned().collect()
    }

    /// Serves `tenant` (replacing an earlier version of it); returns it.
    pub(crate) fn insert(&self, tenant: Arc<Tenant>) -> Arc<Tenant> {
        let mut idx = self.index.write().expect("poisoned");
        if let Some(old) = idx.by_id.get(&tenant.info.id).cloned() {
            idx.by_route.remove(&old.info.webhook_route);
            idx.by_slug.remove(old.info.slug.as_str());
            if let Some(d) = &old.info.custom_domain {
                idx.by_domain.remove(d);
            }
        }
        if let Some(d) = &tenant.info.custom_domain {
            idx.by_domain.insert(d.clone(), tenant.info.id.clone());
        }
        idx.by_route.insert(tenant.info.webhook_route.clone(), tenant.info.id.clone());
        idx.by_slug.insert(tenant.info.slug.as_str().to_owned(), tenant.info.id.clone());
        idx.by_id.insert(tenant.info.id.clone(), tenant.clone());
        tenant
    }

    pub(crate) fn remove(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        let mut idx = self.index.write().expect("poisoned");
        let old = idx.by_id.remove(id)?;
        idx.by_route.remove(&old.info.webhook_route);
        idx.by_slug.remove(old.info.slug.as_str());
        if let Some(d) = &old.info.custom_domain {
            idx.by_domain.remove(d);
        }
        Some(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_out_the_secrets() {
        let info = TenantInfo {
            id: TenantId::generate(),
            slug: TenantSlug::parse("acme").unwrap(),
            name: "Acme".into(),
            status: TenantStatus::Active,
            theme: Theme::default_theme(),
            branding: Default::default(),
            custom_domain: None,
            bot_texts: Default::default(),
            bot_token: BotToken::parse("123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap(),
            bot_username: "acme_bot".into(),
            webhook_route: "rabc".into(),
            webhook_secret: "whsec_0123456789abcdef".into(),
            owner_telegram_id: 1,
            storage_name: "acme.db".into(),
            max_attachment_bytes: 1,
            plan: "free".into(),
            plan_name: "Free".into(),
            quotas: Default::default(),
            sla: None,
            reopen_days: DEFAULT_REOPEN_DAYS,
            default_language: "en".to_owned(),
            claimed_with: None,
        };
        let shown = format!("{info:?}");
        assert!(!shown.contains("whsec_0123456789abcdef") && !shown.contains("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"), "{shown}");
        assert!(shown.contains("acme_bot"), "{shown}");
    }
}
