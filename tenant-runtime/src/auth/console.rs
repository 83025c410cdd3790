//! Sign-in to the staff console. `/admin` in the bot (or the Mini App, for
//! staff) hands out a one-time link, good for ten minutes; opening it
//! redeems it (once: the redemption is a single conditional UPDATE, so two
//! opens of one link cannot both win) and opens a browser session kept as
//! the SHA-256 of its cookie. Sessions last a week, are listed to their
//! owner and revocable; a blocked user or one no longer staff is refused at
//! the next request.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use crate::desk::context::TenantContext;
use crate::auth::hash_refresh_token as hash;
use crate::storage::entities::{console_links, console_sessions, users};
use crate::error::{Result, RuntimeError};
use crate::storage::tenant::Tenant;
use crate::desk::context::Viewer;
use crate::Runtime;

/// How long a sign-in link works.
pub const LINK_TTL: Duration = Duration::minutes(10);
/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::days(7);
/// `last_seen_at` is written at most this often.
const SEEN_EVERY: Duration = Duration::minutes(1);

fn secret() -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn refused_link() -> RuntimeError {
    RuntimeError::Unauthenticated("this sign-in link was already used or has expired; send /admin to the bot for a new one".into())
}

impl Runtime {
    /// The console's address: on the tenant's own domain when it has one.
    pub fn console_url(&self, tenant: &Tenant) -> String {
        match &tenant.info.custom_domain {
            Some(domain) => format!("https://{domain}/admin/"),
            None => format!("{}/t/{}/admin/", self.inner.out.public_url.as_str().trim_end_matches('/'), tenant.info.slug.as_str()),
        }
    }

    /// A one-time sign-in link for a staff member, written in `txn`.
    pub(crate) async fn console_link_in(&self, txn: &DatabaseTransaction, tenant: &Tenant, user: &users::Model) -> Result<String> {
        let role = user.role;
        if !role.is_staff() || user.blocked {
            return Err(RuntimeError::Forbidden("the console is for staff".into()));
        }
        let token = secret();
        let now = Utc::now();
        console_links::ActiveModel { token_hash: Set(hash(&token)), user_id: Set(user.id), created_at: Set(now), expires_at: Set(now + LINK_TTL), used_at: Set(None) }
            .insert(txn)
            .await?;
        // Links nobody opened are cleared as new ones are made.
        console_links::Entity::delete_many().filter(console_links::Column::ExpiresAt.lt(now - Duration::days(1))).exec(txn).await?;
        Ok(format!("{}login?token={token}", self.console_url(tenant)))
    }

    /// Redeems a sign-in link: the session's secret (for its cookie).
    pub async fn redeem_console_link(&self, slug: &str, token: &str, user_agent: Option<&str>) -> Result<String> {
        let tenant = self.tenant_by_slug(slug)?;
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refused_link());
        }
        let now = Utc::now();
        let txn = tenant.db.begin().await?;
        let claimed = console_links::Entity::update_many()
            .col_expr(console_links::Column::UsedAt, Expr::value(now))
            .filter(console_links::Column::TokenHash.eq(hash(token)))
            .filter(console_links::Column::UsedAt.is_null())
            .filter(console_links::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed != 1 {
            return Err(refused_link());
        }
        let link = console_links::Entity::find_by_id(hash(token)).one(&txn).await?.ok_or_else(refused_link)?;
        let user = users::Entity::find_by_id(link.user_id).one(&txn).await?.ok_or_else(refused_link)?;
        staff(&user)?;
        let secret = secret();
        console_sessions::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            token_hash: Set(hash(&secret)),
            user_id: Set(user.id),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(now + SESSION_TTL),
            revoked_at: Set(None),
            user_agent: Set(user_agent.map(|u| u.chars().take(200).collect())),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(secret)
    }

    /// The staff member a console cookie stands for, and the session.
    pub async fn console_context(&self, slug: &str, secret: &str) -> Result<(TenantContext, console_sessions::Model)> {
        let tenant = self.serving(slug)?;
        let signed_out = || RuntimeError::Unauthenticated("signed out".into());
        let now = Utc::now();
        let s = tenant
            .db
            .find_one(console_sessions::Entity::find().filter(console_sessions::Column::TokenHash.eq(hash(secret))))
            .await?
            .filter(|s| s.revoked_at.is_none() && s.expires_at > now)
            .ok_or_else(signed_out)?;
        let user = tenant.db.find_one(users::Entity::find_by_id(s.user_id)).await?.ok_or_else(signed_out)?;
        staff(&user)?;
        let s = if now - s.last_seen_at > SEEN_EVERY {
            let txn = tenant.db.begin().await?;
            let mut am: console_sessions::ActiveModel = s.into();
            am.last_seen_at = Set(now);
            let s = am.update(&txn).await?;
            txn.commit().await?;
            s
        } else {
            s
        };
        let viewer = Viewer::from_user(&user)?;
        let ctx = TenantContext { runtime: self.clone(), tenant, user, viewer, expires_at: s.expires_at.timestamp(), key: None };
        Ok((ctx, s))
    }

    /// Ends a console session (signing out); an unknown one is ignored.
    pub async fn end_console_session(&self, slug: &str, secret: &str) -> Result<()> {
        let tenant = self.tenant_by_slug(slug)?;
        let txn = tenant.db.begin().await?;
        console_sessions::Entity::update_many()
            .col_expr(console_sessions::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(console_sessions::Column::TokenHash.eq(hash(secret)))
            .filter(console_sessions::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Staff only, and not blocked.
fn staff(user: &users::Model) -> Result<()> {
    if user.blocked {
        return Err(RuntimeError::Forbidden("this account is blocked".into()));
    }
    if !user.role.is_staff() {
        return Err(RuntimeError::Forbidden("the console is for staff (helpers and above)".into()));
    }
    Ok(())
}

impl TenantContext {
    /// Messages of a ticket newer than `seen` from anyone but this staff
    /// member (what a reply written on an older page would miss), oldest
    /// first, at most 20; the newest message's id; and the ticket.
    pub async fn newer_messages(&self, ticket: crate::domain::TicketId, seen: i64) -> Result<(Vec<crate::storage::entities::messages::Model>, i64, crate::storage::entities::tickets::Model)> {
        use crate::storage::entities::messages;
        use sea_orm::QuerySelect as _;
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, ticket).await?;
        let newer = crate::desk::tickets::newer_than(&txn, t.id, seen, self.user.id).await?;
        let latest: Option<i64> = messages::Entity::find().select_only().column_as(messages::Column::Id.max(), "m").filter(messages::Column::TicketId.eq(t.id)).into_tuple().one(&txn).await?.flatten();
        txn.commit().await?;
        Ok((newer, latest.unwrap_or(0), t))
    }

    /// People by id (authors, customers, assignees on a page).
    pub async fn people_by_ids(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, users::Model>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let txn = self.tenant.db.begin().await?;
        let rows = users::Entity::find().filter(users::Column::Id.is_in(ids)).all(&txn).await?;
        txn.commit().await?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }

    /// A one-time console sign-in link for this staff member (the Mini
    /// App's way in).
    pub async fn console_link(&self) -> Result<String> {
        let txn = self.tenant.db.begin().await?;
        let url = self.runtime.console_link_in(&txn, &self.tenant, &self.user).await?;
        txn.commit().await?;
        Ok(url)
    }

    /// This staff member's console sessions still open, newest first.
    pub async fn console_sessions(&self) -> Result<Vec<console_sessions::Model>> {
        let now = Utc::now();
        let txn = self.tenant.db.begin().await?;
        let rows = console_sessions::Entity::find()
            .filter(console_sessions::Column::UserId.eq(self.user.id))
            .filter(console_sessions::Column::RevokedAt.is_null())
            .filter(console_sessions::Column::ExpiresAt.gt(now))
            .order_by_desc(console_sessions::Column::LastSeenAt)
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(rows)
    }

    /// Revokes one of this staff member's console sessions.
    pub async fn revoke_console_session(&self, id: i64) -> Result<()> {
        let txn = self.tenant.db.begin().await?;
        let n = console_sessions::Entity::update_many()
            .col_expr(console_sessions::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(console_sessions::Column::Id.eq(id))
            .filter(console_sessions::Column::UserId.eq(self.user.id))
            .filter(console_sessions::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        if n == 0 {
            return Err(RuntimeError::NotFound("session"));
        }
        Ok(())
    }
}
