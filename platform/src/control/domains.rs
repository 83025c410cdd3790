//! Desks' own domains, self-served.
//!
//! A desk's owner or admin asks for a domain (`support.acme.com`) in the
//! console and is given a token to publish as a DNS TXT record,
//! `_tikethet.support.acme.com` holding `tikethet-verify={token}`. Nothing
//! is routed until that record holds: "Check now" looks it up (with
//! `hickory-resolver`, against `TIKETHET_DNS_SERVERS` or the system's
//! resolvers), and only then does the domain become the desk's
//! `custom_domain`, which routes it (`http::domains`), lets the proxy
//! obtain its certificate (`GET /tls/ask`, Caddy's on-demand TLS) and moves
//! the bot's webhook and Mini App there.
//!
//! A verified domain is looked up again every day (`TIKETHET_DOMAIN_CHECK_SECS`);
//! the first failed check tells the owner through the bot, and after
//! [`FAILED_CHECKS_TO_REMOVE`] failed checks in a row the domain stops
//! being routed (the owner is told again; the desk stays on the platform's
//! address, so nothing breaks for good). Each check is claimed by a
//! conditional update, so with several nodes exactly one does it. The
//! operator sees every domain in the dashboard and can revoke one.
//!
//! A request proves nothing until its record holds, so requests are not
//! unique: a desk asking for someone else's domain blocks nobody. Only a
//! routed domain is unique (`tenants.custom_domain`).

use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tikethet_runtime::domain::{CustomDomain, Invalid, TenantId};
use tikethet_themes::BotText;

use super::{ControlError, ControlPlane, TenantChanges, tenants};

type Result<T, E = ControlError> = std::result::Result<T, E>;

/// The label under the domain that holds its token.
pub const RECORD_LABEL: &str = "_tikethet";
/// What the record's text starts with (the token follows).
pub const RECORD_PREFIX: &str = "tikethet-verify=";
/// Failed daily checks in a row after which a domain stops being routed.
pub const FAILED_CHECKS_TO_REMOVE: i32 = 3;

/// The states of a desk's domain.
pub mod status {
    /// Asked for; its record has not been seen yet. Not routed.
    pub const PENDING: &str = "pending";
    /// Its record held at the last check. Routed.
    pub const VERIFIED: &str = "verified";
    /// Verified, but its last check(s) failed. Still routed, for now.
    pub const FAILING: &str = "failing";
    /// Failed [`super::FAILED_CHECKS_TO_REMOVE`] checks in a row. Not routed.
    pub const REMOVED: &str = "removed";
    /// Revoked by the operator. Not routed, and not to be asked for again.
    pub const REVOKED: &str = "revoked";
}

/// `custom_domains`: one row per desk (see `migrations/src/control/m0013_domains.rs`).
pub mod custom_domains {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "custom_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        pub domain: String,
        pub token: String,
        pub status: String,
        pub requested_at: DateTimeUtc,
        pub verified_at: Option<DateTimeUtc>,
        pub checked_at: Option<DateTimeUtc>,
        pub failures: i32,
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Looks up the TXT records that prove a domain.
pub struct DnsCheck {
    /// `Err`: the resolver could not be configured (no `/etc/resolv.conf`,
    /// say); every check then fails with this reason instead of the
    /// server refusing to start.
    resolver: std::result::Result<hickory_resolver::TokioResolver, String>,
}

impl DnsCheck {
    /// Asks `servers` (UDP, then TCP), or the system's resolvers when none
    /// are given. Answers are not cached: an owner who has just published
    /// the record must not wait out an earlier "no such record".
    pub fn new(servers: &[SocketAddr]) -> DnsCheck {
        use hickory_resolver::config::{NameServerConfig, ResolverConfig};
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        let builder = if servers.is_empty() {
            hickory_resolver::Resolver::builder_tokio().map_err(|e| format!("the system's DNS configuration could not be read: {e}"))
        } else {
            let names = servers
                .iter()
                .map(|s| {
                    let mut n = NameServerConfig::udp_and_tcp(s.ip());
                    for c in &mut n.connections {
                        c.port = s.port();
                    }
                    n
                })
                .collect();
            Ok(hickory_resolver::Resolver::builder_with_config(ResolverConfig::from_name_servers(names), TokioRuntimeProvider::default()))
        };
        let resolver = builder.and_then(|mut b| {
            let o = b.options_mut();
            o.positive_max_ttl = Some(StdDuration::ZERO);
            o.negative_max_ttl = Some(StdDuration::ZERO);
            o.timeout = StdDuration::from_secs(5);
            o.attempts = 2;
            b.build().map_err(|e| format!("the DNS resolver could not be set up: {e}"))
        });
        if let Err(e) = &resolver {
            tracing::warn!(error = %e, "domain checks will fail until this is fixed");
        }
        DnsCheck { resolver }
    }

    /// The texts of `name`'s TXT records (each record's strings joined);
    /// none when it has none. `Err`: the lookup itself failed.
    async fn txt(&self, name: &str) -> std::result::Result<Vec<String>, String> {
        use hickory_resolver::proto::rr::RData;
        let resolver = self.resolver.as_ref().map_err(Clone::clone)?;
        match resolver.txt_lookup(format!("{name}.")).await {
            Ok(found) => Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(t) => Some(t.txt_data.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect::<String>()),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(format!("the DNS lookup of {name} failed: {e}")),
        }
    }

    /// Whether the domain's record holds the token; `Err` says why not.
    pub async fn proves(&self, domain: &str, token: &str) -> std::result::Result<(), String> {
        let name = format!("{RECORD_LABEL}.{domain}");
        let want = format!("{RECORD_PREFIX}{token}");
        let found = self.txt(&name).await?;
        if found.iter().any(|t| t.trim() == want) {
            return Ok(());
        }
        Err(match found.len() {
            0 => format!("no TXT record at {name} yet (DNS changes can take a few minutes to show)"),
            _ => format!("the TXT record at {name} does not hold {want:?} (found {})", found.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", ")),
        })
    }
}

/// A desk's domain as its console shows it.
#[derive(Debug, Clone)]
pub struct DeskDomain {
    /// The domain the desk is served on now (set by a verified request, or
    /// by the operator).
    pub routed: Option<String>,
    /// Its request, if it made one through the console.
    pub request: Option<custom_domains::Model>,
}

impl custom_domains::Model {
    /// The TXT record's name.
    pub fn record_name(&self) -> String {
        format!("{RECORD_LABEL}.{}", self.domain)
    }

    /// The TXT record's text.
    pub fn record_value(&self) -> String {
        format!("{RECORD_PREFIX}{}", self.token)
    }
}

/// A domain as the operator's dashboard lists it.
#[derive(Debug, Clone)]
pub struct DomainRow {
    pub slug: String,
    pub desk: String,
    pub domain: String,
    /// One of [`status`], or `operator` for a domain the operator set.
    pub status: String,
    pub routed: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub checked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl ControlPlane {
    async fn request_of(&self, tenant_id: &str) -> Result<Option<custom_domains::Model>> {
        Ok(custom_domains::Entity::find_by_id(tenant_id.to_owned()).one(self.storage.control()).await?)
    }

    /// The desk's domain and its request.
    pub async fn desk_domain(&self, slug: &str) -> Result<DeskDomain> {
        let m = self.find(slug).await?;
        Ok(DeskDomain { request: self.request_of(&m.id).await?, routed: m.custom_domain })
    }

    /// Asks for `domain` for the desk: a new token to publish (asking again
    /// for the same domain keeps its token). A domain the desk is
    /// served on meanwhile stays routed until the new one is proven.
    pub async fn request_domain(&self, slug: &str, domain: &CustomDomain) -> Result<custom_domains::Model> {
        let m = self.find(slug).await?;
        let d = domain.as_str();
        if Some(d) == self.public_url.host_str() {
            return Err(Invalid::new("custom_domain", "is the platform's own host name").into());
        }
        if m.custom_domain.as_deref() == Some(d) {
            return Err(Invalid::new("custom_domain", "already serves this desk").into());
        }
        let elsewhere = tenants::Entity::find().filter(tenants::Column::CustomDomain.eq(d)).one(self.storage.control()).await?;
        if elsewhere.is_some() {
            return Err(ControlError::DomainTaken(d.to_owned()));
        }
        let old = self.request_of(&m.id).await?;
        if let Some(o) = &old {
            if o.domain == d && o.status == status::REVOKED {
                return Err(Invalid::new("custom_domain", "was revoked for this desk by the platform's operator; ask them, or use another domain").into());
            }
            if o.domain == d {
                // The same name again keeps its token: the record published
                // for it stays good.
                return Ok(o.clone());
            }
        }
        let row = custom_domains::ActiveModel {
            tenant_id: Set(m.id.clone()),
            domain: Set(d.to_owned()),
            token: Set(super::random_hex(16)),
            status: Set(status::PENDING.to_owned()),
            requested_at: Set(Utc::now()),
            verified_at: Set(None),
            checked_at: Set(None),
            failures: Set(0),
            last_error: Set(None),
        };
        let row = match old {
            Some(_) => row.update(self.storage.control()).await?,
            None => row.insert(self.storage.control()).await?,
        };
        tracing::info!(tenant = %m.id, slug = %m.slug, domain = d, "custom domain requested");
        Ok(row)
    }

    /// Looks the desk's requested domain up now: when its record holds, the
    /// domain is routed (and the answer says `verified`); when not, the
    /// answer carries the reason in `last_error` and nothing changes.
    pub async fn check_domain(&self, slug: &str) -> Result<custom_domains::Model> {
        let m = self.find(slug).await?;
        let Some(row) = self.request_of(&m.id).await? else {
            return Err(Invalid::new("custom_domain", "this desk has not asked for a domain yet").into());
        };
        if row.status == status::REVOKED {
            return Err(Invalid::new("custom_domain", "was revoked for this desk by the platform's operator; ask them, or use another domain").into());
        }
        let now = Utc::now();
        let mut am: custom_domains::ActiveModel = row.clone().into();
        am.checked_at = Set(Some(now));
        match self.dns.proves(&row.domain, &row.token).await {
            Ok(()) => {
                if m.custom_domain.as_deref() != Some(row.domain.as_str()) {
                    let d = CustomDomain::parse(&row.domain)?;
                    self.update(slug, TenantChanges { custom_domain: Some(Some(d)), ..Default::default() }).await?;
                    tracing::info!(tenant = %m.id, slug = %m.slug, domain = %row.domain, "custom domain verified and routed");
                }
                am.status = Set(status::VERIFIED.to_owned());
                am.verified_at = Set(Some(now));
                am.failures = Set(0);
                am.last_error = Set(None);
            }
            Err(why) => am.last_error = Set(Some(clip(&why))),
        }
        Ok(am.update(self.storage.control()).await?)
    }

    /// The owner's "remove": the domain stops being routed and its request
    /// is forgotten.
    pub async fn remove_domain(&self, slug: &str) -> Result<()> {
        let m = self.find(slug).await?;
        let row = self.request_of(&m.id).await?;
        if row.as_ref().is_some_and(|r| r.status == status::REVOKED) {
            // Kept, so that the operator's word stands.
            return Err(Invalid::new("custom_domain", "was revoked by the platform's operator; ask them to lift it").into());
        }
        if m.custom_domain.is_some() {
            self.update(slug, TenantChanges { custom_domain: Some(None), ..Default::default() }).await?;
        }
        custom_domains::Entity::delete_by_id(m.id.clone()).exec(self.storage.control()).await?;
        tracing::info!(tenant = %m.id, slug = %m.slug, "custom domain removed by the desk");
        Ok(())
    }

    /// The operator's "revoke": the desk's domain stops being routed, its
    /// request is marked revoked (so it is not simply asked for again), and
    /// the owner is told.
    pub async fn revoke_domain(&self, slug: &str) -> Result<String> {
        let m = self.find(slug).await?;
        let row = self.request_of(&m.id).await?;
        let Some(domain) = m.custom_domain.clone().or_else(|| row.as_ref().filter(|r| r.status != status::REVOKED).map(|r| r.domain.clone())) else {
            return Err(Invalid::new("custom_domain", "this desk has no domain to revoke").into());
        };
        if m.custom_domain.is_some() {
            self.update(slug, TenantChanges { custom_domain: Some(None), ..Default::default() }).await?;
        }
        let am = custom_domains::ActiveModel {
            tenant_id: Set(m.id.clone()),
            domain: Set(domain.clone()),
            token: Set(row.as_ref().map(|r| r.token.clone()).unwrap_or_default()),
            status: Set(status::REVOKED.to_owned()),
            requested_at: Set(row.as_ref().map_or_else(Utc::now, |r| r.requested_at)),
            verified_at: Set(row.as_ref().and_then(|r| r.verified_at)),
            checked_at: Set(row.as_ref().and_then(|r| r.checked_at)),
            failures: Set(row.as_ref().map_or(0, |r| r.failures)),
            last_error: Set(Some("revoked by the platform's operator".to_owned())),
        };
        match row {
            Some(_) => am.update(self.storage.control()).await?,
            None => am.insert(self.storage.control()).await?,
        };
        tracing::info!(tenant = %m.id, slug = %m.slug, domain = %domain, "custom domain revoked by the operator");
        self.tell_about_domain(&m.id, "revoked", &domain, 0).await;
        Ok(domain)
    }

    /// Every desk's domain, routed or asked for, for the dashboard.
    pub async fn domains(&self) -> Result<Vec<DomainRow>> {
        let requests = custom_domains::Entity::find().all(self.storage.control()).await?;
        let desks = tenants::Entity::find()
            .filter(Expr::col(tenants::Column::CustomDomain).is_not_null().or(tenants::Column::Id.is_in(requests.iter().map(|r| r.tenant_id.clone()))))
            .all(self.storage.control())
            .await?;
        let mut rows: Vec<DomainRow> = desks
            .iter()
            .map(|t| {
                let r = requests.iter().find(|r| r.tenant_id == t.id);
                // The row says what the desk asked for; the tenant what is routed.
                let (domain, status) = match (r, &t.custom_domain) {
                    (Some(r), _) => (r.domain.clone(), r.status.clone()),
                    (None, Some(d)) => (d.clone(), "operator".to_owned()),
                    (None, None) => (String::new(), String::new()),
                };
                DomainRow {
                    slug: t.slug.clone(),
                    desk: t.name.clone(),
                    routed: t.custom_domain.is_some(),
                    domain: match (&t.custom_domain, r) {
                        (Some(routed), Some(r)) if *routed != r.domain => format!("{routed} (asked for {})", r.domain),
                        _ => domain,
                    },
                    status,
                    verified_at: r.and_then(|r| r.verified_at),
                    checked_at: r.and_then(|r| r.checked_at),
                    last_error: r.and_then(|r| r.last_error.clone()),
                }
            })
            .collect();
        rows.sort_by(|a, b| a.domain.cmp(&b.domain));
        Ok(rows)
    }

    /// Checks every routed domain not checked for `every`; returns how many
    /// were checked. A check is claimed by moving its `checked_at`, so each
    /// runs on one node.
    pub async fn recheck_domains(&self, every: StdDuration) -> anyhow::Result<usize> {
        let now = Utc::now();
        let due_before = now - chrono::Duration::from_std(every).unwrap_or(chrono::Duration::days(1));
        let due = custom_domains::Entity::find()
            .filter(custom_domains::Column::Status.is_in([status::VERIFIED, status::FAILING]))
            .filter(Expr::col(custom_domains::Column::CheckedAt).is_null().or(Expr::col(custom_domains::Column::CheckedAt).lte(due_before)))
            .all(self.storage.control())
            .await
            .context("failed to list the domains due for a check")?;
        let mut checked = 0;
        for row in due {
            let mut claim = custom_domains::Entity::update_many()
                .col_expr(custom_domains::Column::CheckedAt, Expr::value(Some(now)))
                .filter(custom_domains::Column::TenantId.eq(row.tenant_id.as_str()))
                .filter(custom_domains::Column::Status.eq(row.status.as_str()));
            claim = match row.checked_at {
                Some(t) => claim.filter(custom_domains::Column::CheckedAt.eq(t)),
                None => claim.filter(custom_domains::Column::CheckedAt.is_null()),
            };
            if claim.exec(self.storage.control()).await?.rows_affected != 1 {
                continue;
            }
            checked += 1;
            if let Err(e) = self.recheck(row, now).await {
                tracing::warn!(error = %format!("{e:#}"), "a domain check could not be finished; it is tried again tomorrow");
            }
        }
        Ok(checked)
    }

    async fn recheck(&self, row: custom_domains::Model, now: DateTime<Utc>) -> anyhow::Result<()> {
        let Some(t) = tenants::Entity::find_by_id(row.tenant_id.clone()).one(self.storage.control()).await? else { return Ok(()) };
        let mut am: custom_domains::ActiveModel = row.clone().into();
        am.checked_at = Set(Some(now));
        match self.dns.proves(&row.domain, &row.token).await {
            Ok(()) => {
                am.failures = Set(0);
                am.last_error = Set(None);
                am.status = Set(status::VERIFIED.to_owned());
                am.update(self.storage.control()).await?;
                if row.status == status::FAILING {
                    tracing::info!(tenant = %t.id, domain = %row.domain, "custom domain holds again");
                    self.tell_about_domain(&t.id, "restored", &row.domain, 0).await;
                }
            }
            Err(why) => {
                let failures = row.failures + 1;
                am.failures = Set(failures);
                am.last_error = Set(Some(clip(&why)));
                if failures >= FAILED_CHECKS_TO_REMOVE {
                    if t.custom_domain.as_deref() == Some(row.domain.as_str()) {
                        self.update(&t.slug, TenantChanges { custom_domain: Some(None), ..Default::default() }).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    }
                    am.status = Set(status::REMOVED.to_owned());
                    am.update(self.storage.control()).await?;
                    tracing::warn!(tenant = %t.id, domain = %row.domain, reason = %why, "custom domain no longer proven: no longer routed");
                    let desk = TenantId::from_stored(t.id.clone());
                    if let Err(e) = self.runtime.record_for_desk(&desk, "domain.removed", format!("{} → the platform's address, by the daily check: {why}", row.domain)).await {
                        tracing::error!(error = %e, "a domain's removal could not be written to the desk's audit log");
                    }
                    self.tell_about_domain(&t.id, "removed", &row.domain, 0).await;
                } else {
                    am.status = Set(status::FAILING.to_owned());
                    am.update(self.storage.control()).await?;
                    tracing::warn!(tenant = %t.id, domain = %row.domain, reason = %why, failures, "custom domain check failed");
                    if row.failures == 0 {
                        self.tell_about_domain(&t.id, "failing", &row.domain, FAILED_CHECKS_TO_REMOVE - failures).await;
                    }
                }
            }
        }
        Ok(())
    }

    async fn tell_about_domain(&self, tenant_id: &str, outcome: &str, domain: &str, checks_left: i32) {
        let vars = serde_json::json!({
            "outcome": outcome,
            "domain": domain,
            "record": format!("{RECORD_LABEL}.{domain}"),
            "checks_left": checks_left,
        });
        if let Err(e) = self.runtime.tell_owner(&TenantId::from_stored(tenant_id.to_owned()), BotText::Domain, vars).await {
            tracing::warn!(tenant = %tenant_id, outcome, error = %e, "could not tell the owner about the desk's domain");
        }
    }

    /// Checks routed domains in the background: every minute (or `every`,
    /// when shorter) it looks for those not checked for `every`.
    pub fn spawn_domain_checks(self: std::sync::Arc<Self>, every: StdDuration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.min(StdDuration::from_secs(60)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.recheck_domains(every).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(domains = n, "custom domains checked"),
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "checking custom domains failed; the next pass tries again"),
                }
            }
        })
    }
}

/// A reason short enough for its column.
fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}
