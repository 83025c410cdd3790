//! The tenant API's operations, independent of HTTP: sign-in, and tickets as
//! seen by the signed-in user. Every call resolves a [`TenantContext`] first;
//! all data access goes through it.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tikethet_themes::BotText;

use crate::auth::{self, InitDataError};
use crate::domain::{MessageText, Priority, TicketDescription, TicketId, TicketTitle};
use crate::entities::{messages, sessions, tickets, users};
use crate::error::{Result, RuntimeError};
use crate::tenant::{Tenant, TenantStatus};
use crate::tickets::{TelegramProfile, TicketFilter, Viewer};
use crate::Runtime;

/// Tokens handed to a signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: users::Model,
}

/// A request resolved to its tenant and caller.
pub struct TenantContext {
    pub runtime: Runtime,
    pub tenant: Arc<Tenant>,
    pub user: users::Model,
    pub viewer: Viewer,
}

impl Runtime {
    fn serving(&self, slug: &str) -> Result<Arc<Tenant>> {
        let tenant = self.tenants.by_slug(slug).ok_or(RuntimeError::NotFound("tenant"))?;
        if tenant.info.status == TenantStatus::Suspended {
            return Err(RuntimeError::Suspended);
        }
        Ok(tenant)
    }

    /// The tenant a slug names, for pages that need no sign-in.
    pub fn tenant_by_slug(&self, slug: &str) -> Result<Arc<Tenant>> {
        self.tenants.by_slug(slug).ok_or(RuntimeError::NotFound("tenant"))
    }

    async fn open_session(&self, tenant: &Tenant, user: users::Model) -> Result<Session> {
        let now = Utc::now();
        let (refresh_token, hash) = auth::new_refresh_token();
        let txn = tenant.db.begin().await?;
        sessions::ActiveModel {
            user_id: Set(user.id),
            token_hash: Set(hash),
            expires_at: Set(now + auth::REFRESH_TOKEN_TTL),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Session {
            access_token: self.tokens.issue(&tenant.info.id, user.id, now),
            refresh_token,
            expires_in: auth::ACCESS_TOKEN_TTL.num_seconds(),
            user,
        })
    }

    /// Exchanges Mini App initData for a session.
    pub async fn sign_in_telegram(&self, slug: &str, init_data: &str) -> Result<Session> {
        let tenant = self.serving(slug)?;
        let wa = auth::verify_init_data(init_data, &tenant.info.bot_token, Utc::now())
            .map_err(|e: InitDataError| RuntimeError::Unauthenticated(e.to_string()))?;
        let txn = tenant.db.begin().await?;
        let profile = TelegramProfile {
            telegram_id: wa.id,
            first_name: wa.first_name,
            last_name: wa.last_name,
            username: wa.username,
            language_code: wa.language_code,
        };
        let user = crate::tickets::upsert_user(&txn, &profile, tenant.info.owner_telegram_id).await?;
        txn.commit().await?;
        if user.blocked {
            return Err(RuntimeError::Forbidden("this account is blocked".into()));
        }
        self.open_session(&tenant, user).await
    }

    /// Rotates a refresh token: the old one stops working.
    pub async fn refresh_session(&self, slug: &str, refresh_token: &str) -> Result<Session> {
        let tenant = self.serving(slug)?;
        let bad = || RuntimeError::Unauthenticated("invalid or expired refresh token".into());
        let txn = tenant.db.begin().await?;
        let s = sessions::Entity::find()
            .filter(sessions::Column::TokenHash.eq(auth::hash_refresh_token(refresh_token)))
            .one(&txn)
            .await?
            .ok_or_else(bad)?;
        if s.revoked_at.is_some() || s.expires_at < Utc::now() {
            return Err(bad());
        }
        let user = users::Entity::find_by_id(s.user_id).one(&txn).await?.ok_or_else(bad)?;
        let mut am: sessions::ActiveModel = s.into();
        am.revoked_at = Set(Some(Utc::now()));
        am.update(&txn).await?;
        txn.commit().await?;
        if user.blocked {
            return Err(RuntimeError::Forbidden("this account is blocked".into()));
        }
        self.open_session(&tenant, user).await
    }

    /// Revokes a refresh token. Unknown tokens are ignored: logging out twice is fine.
    pub async fn sign_out(&self, slug: &str, refresh_token: &str) -> Result<()> {
        let tenant = self.tenant_by_slug(slug)?;
        let txn = tenant.db.begin().await?;
        if let Some(s) = sessions::Entity::find()
            .filter(sessions::Column::TokenHash.eq(auth::hash_refresh_token(refresh_token)))
            .one(&txn)
            .await?
        {
            let mut am: sessions::ActiveModel = s.into();
            am.revoked_at = Set(Some(Utc::now()));
            am.update(&txn).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Resolves a request: the tenant by slug, the caller by bearer token.
    /// A token of another tenant is refused here.
    pub async fn context(&self, slug: &str, bearer: &str) -> Result<TenantContext> {
        let tenant = self.serving(slug)?;
        let user_id = self
            .tokens
            .verify(&tenant.info.id, bearer)
            .map_err(|e| RuntimeError::Unauthenticated(e.to_string()))?;
        let txn = tenant.db.begin().await?;
        let user = users::Entity::find_by_id(user_id).one(&txn).await?;
        txn.commit().await?;
        let user = user.ok_or_else(|| RuntimeError::Unauthenticated("unknown user".into()))?;
        if user.blocked {
            return Err(RuntimeError::Forbidden("this account is blocked".into()));
        }
        let viewer = Viewer::from_user(&user)?;
        Ok(TenantContext { runtime: self.clone(), tenant, user, viewer })
    }
}

impl TenantContext {
    pub async fn list_tickets(&self, filter: &TicketFilter) -> Result<(Vec<tickets::Model>, u64)> {
        let txn = self.tenant.db.begin().await?;
        let out = crate::tickets::list_tickets(&txn, &self.viewer, filter).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub async fn create_ticket(&self, title: &TicketTitle, description: &TicketDescription, priority: Priority) -> Result<tickets::Model> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::tickets::create_ticket(&txn, self.viewer.user_id, title, description, priority).await?;
        txn.commit().await?;
        Ok(t)
    }

    pub async fn ticket(&self, id: TicketId) -> Result<tickets::Model> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::tickets::get_ticket(&txn, &self.viewer, id).await?;
        txn.commit().await?;
        Ok(t)
    }

    pub async fn messages(&self, id: TicketId) -> Result<Vec<messages::Model>> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let out = crate::tickets::list_messages(&txn, &self.viewer, &t).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Adds a message; a staff answer is delivered to the customer's chat.
    pub async fn post_message(&self, id: TicketId, text: &MessageText, internal: bool) -> Result<messages::Model> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let rt = &self.runtime;
        let tenant = &self.tenant;
        let added = crate::tickets::add_message(&txn, &self.viewer, t, text, internal, |number| {
            rt.renderer
                .bot_text(
                    BotText::StaffReply,
                    tenant.info.theme,
                    &tenant.info.name,
                    serde_json::json!({ "number": number, "text": text.as_str() }),
                )
                .map_err(|e| RuntimeError::Internal(e.into()))
        })
        .await?;
        txn.commit().await?;
        if let Some(o) = added.outbox {
            self.runtime.deliver(&self.tenant.info.id, o.chat_id, o.id);
        }
        Ok(added.message)
    }

    /// Delivery state of the bot messages queued for a ticket message.
    pub async fn delivery_of(&self, message_id: i64) -> Result<Option<String>> {
        use crate::entities::outbox;
        let txn = self.tenant.db.begin().await?;
        let o = outbox::Entity::find().filter(outbox::Column::MessageId.eq(message_id)).one(&txn).await?;
        txn.commit().await?;
        Ok(o.map(|o| o.status))
    }
}
