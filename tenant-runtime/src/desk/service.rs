//! The tenant API's operations, independent of HTTP: sign-in, and tickets as
//! seen by the signed-in user. Every call resolves a [`TenantContext`] first;
//! all data access goes through it.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use tikethet_themes::BotText;

use crate::auth::{self, InitDataError};
use crate::domain::{Invalid, MessageBody, PluginConfig, PluginName, Priority, Role, TicketDescription, TicketId, TicketTitle};
use crate::storage::entities::{attachments, messages, plugin_failures, plugins, sessions, tickets, users};
use crate::error::{Result, RuntimeError};
use crate::storage::tenant::{Tenant, TenantStatus};
use crate::desk::context::{TenantContext, Viewer};
use crate::desk::tickets::TelegramProfile;
use crate::Runtime;

/// Tokens handed to a signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: users::Model,
}

/// What a plugin did when run again on a failure's input (a dry run).
#[derive(Debug, Clone)]
pub struct Replay {
    pub failure: plugin_failures::Model,
    /// The contract version of the installed component that ran.
    pub version: String,
    /// Its answer as JSON, or why it failed again.
    pub output: std::result::Result<String, String>,
    pub logs: Vec<String>,
    pub elapsed_ms: f64,
}

impl Runtime {
    /// A tenant by slug that is not suspended.
    pub(crate) fn serving(&self, slug: &str) -> Result<Arc<Tenant>> {
        let tenant = self.tenant_by_slug(slug)?;
        if tenant.info.status == TenantStatus::Suspended {
            return Err(RuntimeError::Suspended);
        }
        Ok(tenant)
    }

    /// Applies a change of the tenant's owner inside its desk: the previous
    /// owner becomes an admin, the new one (if they signed in before) the
    /// owner. Returns how many were demoted.
    pub async fn change_owner(&self, tenant: &crate::domain::TenantId, new_owner: i64) -> Result<u64> {
        let tenant = self.inner.tenants.get(tenant).ok_or(RuntimeError::NotFound("tenant"))?;
        let txn = tenant.db.begin().await?;
        let demoted = users::Entity::update_many()
            .col_expr(users::Column::Role, sea_orm::sea_query::Expr::value(Role::Admin.as_str()))
            .col_expr(users::Column::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
            .filter(users::Column::Role.eq(Role::Owner.as_str()))
            .filter(users::Column::TelegramId.ne(new_owner))
            .exec(&txn)
            .await?
            .rows_affected;
        users::Entity::update_many()
            .col_expr(users::Column::Role, sea_orm::sea_query::Expr::value(Role::Owner.as_str()))
            .filter(users::Column::TelegramId.eq(new_owner))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if demoted > 0 {
            // The previous owner's sockets check their role again.
            self.inner.live.publish(&tenant.info.id, crate::live::Event::AccessChanged { user_id: None }).await;
        }
        Ok(demoted)
    }

    /// Tells the desk's owner something through the bot (a trial that
    /// ends, say), in their language, queued and sent like any message of
    /// the desk. The owner has talked to the bot (they claimed the desk with
    /// `/start`), so the bot may write to them.
    pub async fn tell_owner(&self, tenant: &crate::domain::TenantId, text: BotText, vars: serde_json::Value) -> Result<()> {
        let tenant = self.inner.tenants.get(tenant).ok_or(RuntimeError::NotFound("tenant"))?;
        let owner = tenant.info.owner_telegram_id;
        let txn = tenant.db.begin().await?;
        let lang = users::Entity::find().filter(users::Column::TelegramId.eq(owner)).one(&txn).await?.and_then(|u| u.language_code);
        let body = self.text(&tenant, lang.as_deref(), text, vars)?;
        let mut effects = crate::outbound::effects::Effects::default();
        effects.push(crate::desk::tickets::enqueue(&txn, owner, body, None).await?.chat_id);
        txn.commit().await?;
        self.after_commit(&tenant.info.id, effects).await;
        Ok(())
    }

    /// The tenant a slug names, for pages that need no sign-in.
    pub fn tenant_by_slug(&self, slug: &str) -> Result<Arc<Tenant>> {
        match self.inner.tenants.by_slug(slug) {
            Some(t) => Ok(t),
            None if self.is_held(slug) => Err(RuntimeError::Upgrading),
            None => Err(RuntimeError::NotFound("tenant")),
        }
    }

    /// Opens a session in a refresh-token family (a new one at sign-in, the
    /// old one when rotating).
    async fn open_session(&self, tenant: &Tenant, user: users::Model, family: Option<String>) -> Result<Session> {
        let txn = tenant.db.begin().await?;
        let session = self.open_session_in(&txn, tenant, user, family).await?;
        txn.commit().await?;
        Ok(session)
    }

    /// [`Self::open_session`] inside the caller's transaction (a sign-in
    /// records the user and the session in one commit).
    async fn open_session_in(&self, txn: &sea_orm::DatabaseTransaction, tenant: &Tenant, user: users::Model, family: Option<String>) -> Result<Session> {
        let (row, session) = self.new_session(tenant, user, family);
        sessions::Entity::insert(row).exec_without_returning(txn).await?;
        Ok(session)
    }

    /// A session's row and what its holder is given.
    fn new_session(&self, tenant: &Tenant, user: users::Model, family: Option<String>) -> (sessions::ActiveModel, Session) {
        let now = Utc::now();
        let (refresh_token, hash) = auth::new_refresh_token();
        let row = sessions::ActiveModel {
            user_id: Set(user.id),
            token_hash: Set(hash),
            expires_at: Set(now + auth::REFRESH_TOKEN_TTL),
            created_at: Set(now),
            family_id: Set(Some(family.unwrap_or_else(|| format!("fam_{}", crate::domain::random_hex(12))))),
            ..Default::default()
        };
        let session = Session {
            access_token: self.inner.auth.tokens.issue(&tenant.info.id, user.id, now),
            refresh_token,
            expires_in: auth::ACCESS_TOKEN_TTL.num_seconds(),
            user,
        };
        (row, session)
    }

    /// The usual sign-in, a returning person whose profile is unchanged, in
    /// two statements and no transaction: their row read, the session
    /// inserted (one commit). `None` when the person is new or their
    /// profile changed: the caller records them in a transaction.
    async fn returning_sign_in(&self, tenant: &Tenant, profile: &TelegramProfile) -> Result<Option<Session>> {
        let direct = tenant.db.direct().await?;
        let found = direct.qualify(users::Entity::find().filter(users::Column::TelegramId.eq(profile.telegram_id))).one(&*direct).await?;
        let Some(user) = found.filter(|u| !crate::desk::tickets::profile_differs(u, profile, tenant.info.owner_telegram_id)) else {
            return Ok(None);
        };
        if user.blocked {
            return Err(RuntimeError::Forbidden("this account is blocked".into()));
        }
        let (row, session) = self.new_session(tenant, user, None);
        direct.qualify_insert(sessions::Entity::insert(row)).exec_without_returning(&*direct).await?;
        Ok(Some(session))
    }

    /// Exchanges Mini App initData for a session.
    pub async fn sign_in_telegram(&self, slug: &str, init_data: &str) -> Result<Session> {
        let tenant = self.serving(slug)?;
        let wa = auth::verify_init_data(init_data, &tenant.info.bot_token, Utc::now())
            .map_err(|e: InitDataError| RuntimeError::Unauthenticated(e.to_string()))?;
        self.throttle_sign_in(&tenant.info.id, wa.id).await?;
        let profile = TelegramProfile {
            telegram_id: wa.id,
            first_name: wa.first_name,
            last_name: wa.last_name,
            username: wa.username,
            language_code: wa.language_code,
        };
        if let Some(session) = self.returning_sign_in(&tenant, &profile).await? {
            return Ok(session);
        }
        let txn = tenant.db.begin().await?;
        let user = crate::desk::tickets::upsert_user(&txn, &profile, tenant.info.owner_telegram_id).await?;
        self.session_for_sign_in(txn, &tenant, user).await
    }

    /// Opens a signed-in user's session in the sign-in's own transaction
    /// (one commit), unless they are blocked.
    async fn session_for_sign_in(&self, txn: sea_orm::DatabaseTransaction, tenant: &Tenant, user: users::Model) -> Result<Session> {
        if user.blocked {
            txn.commit().await?;
            return Err(RuntimeError::Forbidden("this account is blocked".into()));
        }
        let session = self.open_session_in(&txn, tenant, user, None).await?;
        txn.commit().await?;
        Ok(session)
    }

    /// Development only (the platform refuses it in production): signs in
    /// as any Telegram user without initData, so that the Mini App can be
    /// opened in an ordinary browser.
    pub async fn sign_in_for_development(&self, slug: &str, profile: TelegramProfile) -> Result<Session> {
        let tenant = self.serving(slug)?;
        self.throttle_sign_in(&tenant.info.id, profile.telegram_id).await?;
        let txn = tenant.db.begin().await?;
        let user = crate::desk::tickets::upsert_user(&txn, &profile, tenant.info.owner_telegram_id).await?;
        self.session_for_sign_in(txn, &tenant, user).await
    }

    /// Rotates a refresh token: the old one stops working. Rotation is
    /// atomic (two concurrent uses of one token cannot both succeed), and a
    /// token presented after it was rotated means it leaked: its whole family
    /// is revoked (<https://datatracker.ietf.org/doc/html/rfc6819#section-5.2.2.3>).
    pub async fn refresh_session(&self, slug: &str, refresh_token: &str) -> Result<Session> {
        let tenant = self.serving(slug)?;
        let bad = || RuntimeError::Unauthenticated("invalid or expired refresh token".into());
        let now = Utc::now();
        let hash = auth::hash_refresh_token(refresh_token);
        let txn = tenant.db.begin().await?;
        let s = sessions::Entity::find().filter(sessions::Column::TokenHash.eq(hash.clone())).one(&txn).await?.ok_or_else(bad)?;
        let rotated = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
            .filter(sessions::Column::TokenHash.eq(hash))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected;
        if rotated != 1 {
            if s.revoked_at.is_some() {
                if let Some(family) = &s.family_id {
                    let n = revoke_family(&txn, family, now).await?;
                    tracing::warn!(tenant = %tenant.info.id, user = s.user_id, revoked = n, "a rotated refresh token was presented again; its family is revoked");
                }
                txn.commit().await?;
            }
            return Err(bad());
        }
        let user = users::Entity::find_by_id(s.user_id).one(&txn).await?.ok_or_else(bad)?;
        txn.commit().await?;
        if user.blocked {
            return Err(RuntimeError::Forbidden("this account is blocked".into()));
        }
        self.open_session(&tenant, user, s.family_id).await
    }

    /// Signs out: revokes the refresh token's whole family and, when the
    /// access token comes along, that token too (until it would expire).
    /// Unknown tokens are ignored: logging out twice is fine.
    pub async fn sign_out(&self, slug: &str, refresh_token: &str, access_token: Option<&str>) -> Result<()> {
        let tenant = self.tenant_by_slug(slug)?;
        let now = Utc::now();
        if let Some(v) = access_token.and_then(|a| self.inner.auth.tokens.verify(&tenant.info.id, a).ok()) {
            self.inner.auth.denylist.revoke(&v.jti, v.exp).await?;
            // A socket opened with that token closes (on every node).
            self.inner.live.publish(&tenant.info.id, crate::live::Event::AccessChanged { user_id: Some(v.user_id) }).await;
        }
        let txn = tenant.db.begin().await?;
        if let Some(s) = sessions::Entity::find()
            .filter(sessions::Column::TokenHash.eq(auth::hash_refresh_token(refresh_token)))
            .one(&txn)
            .await?
        {
            match &s.family_id {
                Some(f) => {
                    revoke_family(&txn, f, now).await?;
                }
                None => {
                    let mut am: sessions::ActiveModel = s.into();
                    am.revoked_at = Set(Some(now));
                    am.update(&txn).await?;
                }
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Resolves a request: the tenant by slug, the caller by bearer token.
    /// A token of another tenant is refused here.
    pub async fn context(&self, slug: &str, bearer: &str) -> Result<TenantContext> {
        if bearer.starts_with(crate::auth::keys::KEY_START) {
            return self.key_context(slug, bearer).await;
        }
        let tenant = self.serving(slug)?;
        let verified = self
            .inner.auth.tokens
            .verify(&tenant.info.id, bearer)
            .map_err(|e| RuntimeError::Unauthenticated(e.to_string()))?;
        if self.inner.auth.denylist.is_revoked(&verified.jti).await? {
            return Err(RuntimeError::Unauthenticated("this access token was revoked (signed out)".into()));
        }
        let user = tenant.db.find_one(users::Entity::find_by_id(verified.user_id)).await?;
        let user = user.ok_or_else(|| RuntimeError::Unauthenticated("unknown user".into()))?;
        if user.blocked {
            return Err(RuntimeError::Forbidden("this account is blocked".into()));
        }
        let viewer = Viewer::from_user(&user)?;
        Ok(TenantContext { runtime: self.clone(), tenant, user, viewer, expires_at: verified.exp, key: None })
    }
}

impl TenantContext {
    /// Joins the desk's live events as this user (see [`crate::live`]).
    pub fn join_live(&self) -> std::result::Result<crate::live::Subscription, crate::live::TooManySockets> {
        self.runtime.inner.live.join(&self.tenant.info.id, &self.viewer)
    }

    /// Records that this staff member has a ticket open in the console
    /// (typing a reply or not), or left it, in `store`, tells the desk's
    /// other staff through the live events, and answers who else is there.
    pub async fn presence(&self, store: &crate::live::presence::Presence, id: TicketId, typing: bool, leaving: bool) -> Result<Vec<crate::live::presence::Other>> {
        if !self.viewer.role.is_staff() {
            return Err(RuntimeError::Forbidden("presence is for staff".into()));
        }
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        txn.commit().await?;
        let name = crate::outbound::notify::name_of(&self.user);
        let others = store.report(self.tenant.info.id.as_str(), t.id, self.user.id, &name, typing, leaving).await;
        let event = crate::live::Event::Presence { audience: (&t).into(), user_id: self.user.id, name, typing, leaving };
        self.runtime.inner.live.publish(&self.tenant.info.id, event).await;
        Ok(others)
    }

    /// Tells the others who can see a ticket that this user is typing in it.
    pub async fn typing(&self, id: TicketId) -> Result<()> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        txn.commit().await?;
        let event = crate::live::Event::Typing { audience: (&t).into(), user_id: self.viewer.user_id.get(), role: self.viewer.role.as_str().to_owned() };
        self.runtime.inner.live.publish(&self.tenant.info.id, event).await;
        Ok(())
    }

    /// Opens a ticket; `files` are the caller's uploads, sent with its description.
    pub async fn create_ticket(
        &self,
        title: &TicketTitle,
        description: &TicketDescription,
        priority: Priority,
        category: Option<i64>,
        files: &[i64],
    ) -> Result<tickets::Model> {
        crate::domain::check_ids(files)?;
        let txn = self.tenant.db.begin().await?;
        crate::desk::usage::within_month(&txn, &self.tenant.info, "tickets a month", self.tenant.info.quotas.tickets_per_month, crate::desk::usage::TICKETS).await?;
        if let Some(c) = category {
            let found = crate::storage::entities::categories::Entity::find_by_id(c).one(&txn).await?;
            if !found.is_some_and(|c| c.active) {
                return Err(Invalid::new("category_id", format!("{c} is not an active category of this desk")).into());
            }
        }
        let routing = plugins::Entity::find().filter(plugins::Column::Enabled.eq(true)).one(&txn).await?.is_some();
        let mut effects = crate::outbound::effects::Effects::default();
        let new = crate::desk::tickets::NewTicket { customer: &self.user, title, description, priority, category, files, kind: crate::worker::incoming::TEXT, details: None, telegram_message_id: None };
        let t = self.runtime.open_ticket(&self.tenant, &txn, new, &mut effects).await?;
        txn.commit().await?;
        if !routing {
            // No plugin to route it: the ticket is as stored.
            self.runtime.after_commit(&self.tenant.info.id, effects).await;
            return Ok(t);
        }
        // Routing plugins run after the ticket is stored, off the
        // transaction; a crash in between leaves the ticket unrouted, never
        // routed twice.
        let effects = self.runtime.route_ticket(&self.tenant, None, t.id, effects).await?;
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::tickets_by_id(&txn, t.id).await?.ok_or(RuntimeError::NotFound("ticket"))?;
        txn.commit().await?;
        Ok(t)
    }

    /// A ticket's tags.
    pub async fn tags(&self, id: TicketId) -> Result<Vec<String>> {
        let txn = self.tenant.db.begin().await?;
        crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let tags = crate::desk::tickets::tags_of(&txn, id).await?;
        txn.commit().await?;
        Ok(tags)
    }

    /// Refuses (403) a caller below `role`.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.viewer.role < role {
            return Err(RuntimeError::Forbidden(format!("needs the {role} role")));
        }
        Ok(())
    }

    /// Installs (or replaces) a plugin. The component is validated first;
    /// a replaced plugin keeps its config, order and store and is enabled.
    pub async fn install_plugin(&self, name: &PluginName, bytes: &[u8]) -> Result<plugins::Model> {
        self.require(Role::Admin)?;
        // Compiling takes real CPU: on the plugin pool, within a budget.
        let owned = bytes.to_vec();
        let loaded = self
            .runtime
            .on_plugin_pool("install", &self.tenant.info.id, move |host| host.load_within(&owned, tikethet_plugins::limits::COMPILE_BUDGET))
            .await
            .and_then(|r| r)
            .map_err(|f| RuntimeError::Invalid(Invalid::new("component", f.message)))?;
        let now = Utc::now();
        let txn = self.tenant.db.begin().await?;
        let existing = plugins::Entity::find().filter(plugins::Column::Name.eq(name.as_str())).one(&txn).await?;
        if existing.is_none() {
            let count = plugins::Entity::find().count(&txn).await?;
            crate::desk::usage::within(&self.tenant.info, "plugins", self.tenant.info.quotas.plugins, count, 1)?;
            if count >= tikethet_plugins::limits::MAX_PLUGINS_PER_TENANT as u64 {
                return Err(RuntimeError::Conflict(format!(
                    "a desk may have at most {} plugins; remove one first",
                    tikethet_plugins::limits::MAX_PLUGINS_PER_TENANT
                )));
            }
        }
        let before = existing.as_ref().map(|p| p.version.clone());
        let model = match existing {
            Some(p) => {
                let mut am: plugins::ActiveModel = p.into();
                am.component = Set(bytes.to_vec());
                am.hash = Set(loaded.hash.clone());
                am.version = Set(loaded.version.to_owned());
                am.enabled = Set(true);
                am.consecutive_failures = Set(0);
                am.disabled_reason = Set(None);
                am.updated_at = Set(now);
                am.update(&txn).await?
            }
            None => {
                let position = plugins::Entity::find().count(&txn).await? as i32;
                plugins::ActiveModel {
                    name: Set(name.as_str().to_owned()),
                    component: Set(bytes.to_vec()),
                    hash: Set(loaded.hash.clone()),
                    version: Set(loaded.version.to_owned()),
                    config: Set("{}".to_owned()),
                    kv: Set("{}".to_owned()),
                    enabled: Set(true),
                    position: Set(position),
                    consecutive_failures: Set(0),
                    disabled_reason: Set(None),
                    invocations: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&txn)
                .await?
            }
        };
        let short = &model.hash[..model.hash.len().min(12)];
        match before {
            Some(v) => crate::desk::audit::record(&txn, Some(self.user.id), "plugin.replaced", None, format!("{}: contract {v} → {} ({short})", model.name, model.version)).await?,
            None => crate::desk::audit::record(&txn, Some(self.user.id), "plugin.installed", None, format!("{}: contract {} ({short})", model.name, model.version)).await?,
        }
        txn.commit().await?;
        Ok(model)
    }

    pub async fn plugins(&self) -> Result<Vec<plugins::Model>> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let list = plugins::Entity::find()
            .order_by_asc(plugins::Column::Position)
            .order_by_asc(plugins::Column::Id)
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(list)
    }

    async fn plugin_named(&self, txn: &sea_orm::DatabaseTransaction, name: &str) -> Result<plugins::Model> {
        // What is not a plugin name names no plugin (and never reaches the database).
        if crate::domain::PluginName::parse(name).is_err() {
            return Err(RuntimeError::NotFound("plugin"));
        }
        plugins::Entity::find().filter(plugins::Column::Name.eq(name)).one(txn).await?.ok_or(RuntimeError::NotFound("plugin"))
    }

    /// Changes a plugin's config, order or state. Enabling clears its
    /// failure streak.
    pub async fn update_plugin(&self, name: &str, config: Option<&PluginConfig>, enabled: Option<bool>, position: Option<i32>) -> Result<plugins::Model> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let p = self.plugin_named(&txn, name).await?;
        // The configuration may hold secrets: the log says it changed, not what it holds.
        let mut said = Vec::new();
        if config.is_some_and(|c| c.as_str() != p.config) {
            said.push("configuration changed".to_owned());
        }
        if let Some(e) = enabled.filter(|e| *e != p.enabled) {
            said.push(format!("{} → {}", if p.enabled { "on" } else { "off" }, if e { "on" } else { "off" }));
        }
        if let Some(pos) = position.filter(|pos| *pos != p.position) {
            said.push(format!("position {} → {pos}", p.position));
        }
        let mut am: plugins::ActiveModel = p.into();
        if let Some(c) = config {
            am.config = Set(c.as_str().to_owned());
        }
        if let Some(e) = enabled {
            am.enabled = Set(e);
            if e {
                am.consecutive_failures = Set(0);
                am.disabled_reason = Set(None);
            }
        }
        if let Some(pos) = position {
            am.position = Set(pos);
        }
        am.updated_at = Set(Utc::now());
        let p = am.update(&txn).await?;
        if !said.is_empty() {
            crate::desk::audit::record(&txn, Some(self.user.id), "plugin.changed", None, format!("{}: {}", p.name, said.join("; "))).await?;
        }
        txn.commit().await?;
        Ok(p)
    }

    /// The most recent failures of a plugin, newest first, with their input.
    pub async fn plugin_failures(&self, name: &str, limit: u64) -> Result<Vec<plugin_failures::Model>> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let p = self.plugin_named(&txn, name).await?;
        let list = plugin_failures::Entity::find()
            .filter(plugin_failures::Column::PluginId.eq(p.id))
            .order_by_desc(plugin_failures::Column::Id)
            .limit(limit.clamp(1, 100))
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(list)
    }

    /// Runs the installed version of a plugin again on the input of one of
    /// its recorded failures, with its current configuration and store, and
    /// says what it would do. A dry run: nothing is sent, stored or counted,
    /// so an admin can check a fix (a new upload, a changed configuration)
    /// against the input that broke it.
    pub async fn replay_plugin_failure(&self, name: &str, failure_id: i64) -> Result<Replay> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let p = self.plugin_named(&txn, name).await?;
        let failure = plugin_failures::Entity::find_by_id(failure_id)
            .filter(plugin_failures::Column::PluginId.eq(p.id))
            .one(&txn)
            .await?
            .ok_or(RuntimeError::NotFound("plugin failure"))?;
        txn.commit().await?;
        let event: tikethet_plugins::HookEvent = serde_json::from_str(&failure.input)
            .map_err(|e| RuntimeError::Conflict(format!("this failure's input is not an event this build can replay: {e}")))?;
        let ctx = tikethet_plugins::CallContext {
            config: p.config.clone(),
            kv: serde_json::from_str(&p.kv).unwrap_or_default(),
            now_ms: u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0),
        };
        let component = p.component;
        let result = self
            .runtime
            .on_plugin_pool("replay", &self.tenant.info.id, move |host| {
                let loaded = host.load_within(&component, tikethet_plugins::limits::COMPILE_BUDGET)?;
                host.run(&loaded, ctx, &event)
            })
            .await
            .and_then(|r| r);
        Ok(match result {
            Ok(out) => Replay {
                failure,
                version: p.version,
                output: Ok(serde_json::to_string_pretty(&out.output).unwrap_or_default()),
                logs: out.logs.iter().map(|l| format!("{}: {}", l.level, l.message)).collect(),
                elapsed_ms: out.usage.elapsed.as_secs_f64() * 1000.0,
            },
            Err(f) => Replay { failure, version: p.version, output: Err(format!("{} ({})", f.message, f.kind.as_str())), logs: Vec::new(), elapsed_ms: 0.0 },
        })
    }

    pub async fn remove_plugin(&self, name: &str) -> Result<()> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let p = self.plugin_named(&txn, name).await?;
        plugin_failures::Entity::delete_many().filter(plugin_failures::Column::PluginId.eq(p.id)).exec(&txn).await?;
        plugins::Entity::delete_by_id(p.id).exec(&txn).await?;
        crate::desk::audit::record(&txn, Some(self.user.id), "plugin.removed", None, format!("{}: contract {}", p.name, p.version)).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Stores an uploaded file for a ticket or message the caller sends
    /// next. The file's type is judged by its content; its size by the
    /// tenant's plan.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Result<attachments::Model> {
        let limit = self.tenant.info.max_attachment_bytes;
        if bytes.len() as u64 > limit {
            return Err(RuntimeError::TooLarge(format!(
                "the file is {} and this desk accepts files up to {}",
                crate::storage::files::human_size(bytes.len() as u64),
                crate::storage::files::human_size(limit)
            )));
        }
        let sniffed = crate::storage::files::sniff(&bytes).map_err(RuntimeError::UnsupportedType)?;
        // Uploads nobody sent yet are bounded per person (they are removed
        // after a day; see the retention job).
        let txn = self.tenant.db.begin().await?;
        if self.tenant.info.quotas.storage_bytes.is_some() {
            let kept = crate::desk::usage::storage_bytes(&txn).await?;
            crate::desk::usage::within(&self.tenant.info, "bytes of files", self.tenant.info.quotas.storage_bytes, kept, bytes.len() as u64)?;
        }
        let waiting = attachments::Entity::find()
            .filter(attachments::Column::UploaderId.eq(self.viewer.user_id.get()))
            .filter(attachments::Column::MessageId.is_null())
            .count(&txn)
            .await?;
        txn.commit().await?;
        if waiting >= crate::storage::files::MAX_WAITING_UPLOADS {
            return Err(RuntimeError::Conflict(format!(
                "{waiting} uploads are waiting to be sent; send or discard them first (unsent uploads are removed after a day)"
            )));
        }
        let key = crate::storage::files::Files::new_key(&self.tenant.info.id);
        let size = bytes.len() as i64;
        self.runtime.inner.files.put(&key, bytes).await?;
        let txn = self.tenant.db.begin().await?;
        let row = attachments::ActiveModel {
            uploader_id: Set(self.viewer.user_id.get()),
            message_id: Set(None),
            name: Set(crate::storage::files::clean_name(name)),
            content_type: Set(sniffed.content_type.to_owned()),
            size: Set(size),
            kind: Set(sniffed.kind.to_owned()),
            object_key: Set(Some(key)),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// A file and its bytes, if the caller may see it: their own upload not
    /// yet sent, or a file of a message they can see (customers never see
    /// the files of internal notes). A file a customer sent the bot is
    /// fetched from Telegram the first time and kept.
    pub async fn attachment(&self, id: i64) -> Result<(attachments::Model, Vec<u8>)> {
        let txn = self.tenant.db.begin().await?;
        let a = attachments::Entity::find_by_id(id).one(&txn).await?.ok_or(RuntimeError::NotFound("file"))?;
        match a.message_id {
            None if a.uploader_id == self.viewer.user_id.get() => {}
            None => return Err(RuntimeError::NotFound("file")),
            Some(m) => {
                let m = messages::Entity::find_by_id(m).one(&txn).await?.ok_or(RuntimeError::NotFound("file"))?;
                crate::desk::tickets::get_ticket(&txn, &self.viewer, TicketId::new(m.ticket_id)).await.map_err(|_| RuntimeError::NotFound("file"))?;
                if (m.internal && !self.viewer.role.is_staff()) || m.deleted_at.is_some() {
                    return Err(RuntimeError::NotFound("file"));
                }
            }
        }
        txn.commit().await?;
        self.runtime.file_bytes(&self.tenant, a).await
    }

    pub async fn ticket(&self, id: TicketId) -> Result<tickets::Model> {
        let t = self.tenant.db.find_one(tickets::Entity::find_by_id(id.get())).await?;
        crate::desk::tickets::visible_to(&self.viewer, t)
    }

    pub async fn messages(&self, id: TicketId) -> Result<Vec<messages::Model>> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let out = crate::desk::tickets::list_messages(&txn, &self.viewer, &t).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Adds a message; a staff answer is delivered to the customer's chat.
    /// The desk's usage against its plan's limits (admins and above).
    pub async fn usage(&self) -> Result<Usage> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let (lines, plugin_invocations) = crate::desk::usage::report(&txn, &self.tenant.info.quotas).await?;
        txn.commit().await?;
        let info = &self.tenant.info;
        Ok(Usage {
            plan: info.plan.clone(),
            plan_name: info.plan_name.clone(),
            month: crate::desk::usage::month_of(Utc::now()),
            lines,
            plugin_invocations,
            max_attachment_bytes: info.max_attachment_bytes,
        })
    }

    /// A staff reply sent only if nobody else wrote in the ticket after
    /// message `seen` (the last one the agent's page showed). The check and
    /// the write are one transaction, with the ticket's row locked first
    /// (PostgreSQL; SQLite runs one writer at a time), so a message
    /// committed in between cannot slip past the check.
    pub async fn reply_if_current(&self, id: TicketId, body: &MessageBody, seen: i64) -> Result<Reply> {
        let txn = self.tenant.db.begin().await?;
        tickets::Entity::find_by_id(id.get()).lock_exclusive().one(&txn).await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let newer = crate::desk::tickets::newer_than(&txn, t.id, seen, self.user.id).await?;
        if !newer.is_empty() {
            txn.rollback().await?;
            return Ok(Reply::Newer(newer));
        }
        let mut effects = crate::outbound::effects::Effects::default();
        let added = self.runtime.write_message(&self.tenant, &txn, &self.user, &self.viewer, t, body, false, true, &mut effects).await?;
        txn.commit().await?;
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(Reply::Sent(added.message))
    }

    pub async fn post_message(&self, id: TicketId, body: &MessageBody, internal: bool) -> Result<messages::Model> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let mut effects = crate::outbound::effects::Effects::default();
        let added = self.runtime.write_message(&self.tenant, &txn, &self.user, &self.viewer, t, body, internal, true, &mut effects).await?;
        txn.commit().await?;
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(added.message)
    }
}

impl Runtime {
    /// Adds a reply or note by `user` to a ticket they may see, in `txn`:
    /// the month's limit for staff replies, the delivery to the customer,
    /// the notifications, a copy in the staff group's topic (unless it was
    /// written there: `to_topic`), and the live events.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn write_message(
        &self,
        tenant: &Tenant,
        txn: &sea_orm::DatabaseTransaction,
        user: &users::Model,
        viewer: &Viewer,
        ticket: tickets::Model,
        body: &MessageBody,
        internal: bool,
        to_topic: bool,
        effects: &mut crate::outbound::effects::Effects,
    ) -> Result<crate::desk::tickets::Added> {
        if !internal && viewer.role.is_staff() {
            // A customer's message is always kept; staff replies stop at
            // the month's limit.
            crate::desk::usage::within_month(txn, &tenant.info, "messages a month", tenant.info.quotas.messages_per_month, crate::desk::usage::MESSAGES).await?;
        }
        let added = crate::desk::tickets::add_message(txn, viewer, ticket, body, internal, |number, lang, shown| {
            let body = self.text(tenant, lang, BotText::StaffReply, serde_json::json!({ "number": number, "text": shown }))?;
            Ok((body, self.ticket_buttons(tenant, lang, number)?))
        })
        .await?;
        let said = body.text();
        if internal {
            self.notify_mentions(tenant, txn, &added.ticket, user, said, effects).await?;
        } else if !viewer.role.is_staff() {
            self.notify_customer_message(tenant, txn, &added.ticket, user, said, body.files(), effects).await?;
        }
        if to_topic && viewer.role.is_staff() && !said.is_empty() {
            self.topic_staff_message(tenant, txn, &added.ticket, user, said, internal, effects).await?;
        }
        if let Some(o) = &added.outbox {
            effects.push(o.chat_id);
        }
        effects.events.push(crate::live::Event::MessageCreated { audience: (&added.ticket).into(), message: added.message.clone() });
        // A note changes nothing a customer may see; its ticket event would
        // tell them a note was written.
        if !internal {
            effects.events.push(crate::live::Event::TicketUpdated { ticket: added.ticket.clone() });
        }
        Ok(added)
    }
}

/// What a staff reply came to ([`TenantContext::reply_if_current`]).
#[derive(Debug)]
pub enum Reply {
    Sent(messages::Model),
    /// Not sent: these came in after the page the reply was written on.
    Newer(Vec<messages::Model>),
}

/// A desk's usage this month against its plan.
#[derive(Debug, Clone)]
pub struct Usage {
    pub plan: String,
    pub plan_name: String,
    /// The month's first day (`YYYY-MM-01`, UTC).
    pub month: String,
    pub lines: Vec<crate::desk::usage::UsageLine>,
    /// Plugin calls this month (metered, not limited).
    pub plugin_invocations: u64,
    /// The largest single file the plan takes.
    pub max_attachment_bytes: u64,
}

async fn revoke_family(txn: &sea_orm::DatabaseTransaction, family: &str, now: chrono::DateTime<Utc>) -> Result<u64> {
    Ok(sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
        .filter(sessions::Column::FamilyId.eq(family))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected)
}
