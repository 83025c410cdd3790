//! A desk's API keys: owners and admins make them (named, with scopes and
//! an optional expiry), see them with their last use, and revoke them. A
//! request with a key acts as the staff member who made it, with that
//! person's role as it is now (a key never outranks them: demoted, the key
//! is demoted; no longer staff, it is refused) and only within its scopes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::auth::keys::{self, KeyScope};
use crate::desk::context::{KeyGrant, TenantContext, Viewer};
use crate::domain::{Role, TenantId};
use crate::error::{Result, RuntimeError};
use crate::storage::entities::{api_keys, users};
use crate::Runtime;

/// The longest name of a key.
pub const MAX_NAME_CHARS: usize = 80;
/// Keys one desk may hold (revoked ones not counted).
pub const MAX_KEYS: usize = 50;
/// A key's last use is written at most this often (not a write per request).
const LAST_USE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// A key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<KeyScope>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_keys::Model> for KeyInfo {
    fn from(m: api_keys::Model) -> Self {
        KeyInfo {
            id: m.id,
            scopes: KeyScope::parse_list([m.scopes.as_str()]).unwrap_or_default(),
            name: m.name,
            prefix: m.prefix,
            created_by: m.created_by,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// What a new key is made of, checked.
pub struct NewKeyRequest {
    pub name: String,
    pub scopes: Vec<KeyScope>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewKeyRequest {
    pub fn parse(name: &str, scopes: &[String], expires_at: Option<DateTime<Utc>>) -> std::result::Result<NewKeyRequest, crate::domain::Invalid> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(crate::domain::Invalid::new("name", format!("a name of 1 to {MAX_NAME_CHARS} characters, without control characters")));
        }
        let scopes = KeyScope::parse_list(scopes.iter().map(String::as_str)).map_err(|e| crate::domain::Invalid::new("scopes", e))?;
        if expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(crate::domain::Invalid::new("expires_at", "must be in the future"));
        }
        Ok(NewKeyRequest { name: name.to_owned(), scopes, expires_at })
    }
}

impl TenantContext {
    fn may_manage_keys(&self) -> Result<()> {
        if self.key.is_some() {
            return Err(RuntimeError::Forbidden("an API key cannot manage keys; sign in as a person".into()));
        }
        self.require(Role::Admin)
    }

    /// The desk's keys, newest first (admins).
    pub async fn api_keys(&self) -> Result<Vec<KeyInfo>> {
        self.may_manage_keys()?;
        let txn = self.tenant.db.begin().await?;
        let rows = api_keys::Entity::find().order_by_desc(api_keys::Column::Id).all(&txn).await?;
        txn.commit().await?;
        Ok(rows.into_iter().map(KeyInfo::from).collect())
    }

    /// Makes a key acting for this person; the token is in the answer only.
    pub async fn create_api_key(&self, req: NewKeyRequest) -> Result<(KeyInfo, String)> {
        self.may_manage_keys()?;
        let txn = self.tenant.db.begin().await?;
        let live = api_keys::Entity::find().filter(api_keys::Column::RevokedAt.is_null()).all(&txn).await?.len();
        if live >= MAX_KEYS {
            return Err(RuntimeError::Conflict(format!("the desk holds {MAX_KEYS} keys; revoke one first")));
        }
        let made = keys::new_key();
        let row = api_keys::ActiveModel {
            name: Set(req.name.clone()),
            prefix: Set(made.prefix.clone()),
            secret_hash: Set(made.hash),
            scopes: Set(KeyScope::join(&req.scopes)),
            created_by: Set(self.user.id),
            created_at: Set(Utc::now()),
            expires_at: Set(req.expires_at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let expiry = req.expires_at.map_or("no expiry".to_owned(), |at| format!("expires {}", at.format("%Y-%m-%d %H:%M UTC")));
        crate::desk::audit::record(&txn, Some(self.user.id), "api_key.created", None, format!("key {:?} ({}), {}; {expiry}", req.name, made.prefix, KeyScope::join(&req.scopes))).await?;
        txn.commit().await?;
        Ok((row.into(), made.token))
    }

    /// Revokes a key at once (its next request is refused).
    pub async fn revoke_api_key(&self, id: i64) -> Result<KeyInfo> {
        self.may_manage_keys()?;
        let txn = self.tenant.db.begin().await?;
        let Some(row) = api_keys::Entity::find_by_id(id).one(&txn).await? else { return Err(RuntimeError::NotFound("API key")) };
        let row = if row.revoked_at.is_none() {
            let mut am: api_keys::ActiveModel = row.into();
            am.revoked_at = Set(Some(Utc::now()));
            let row = am.update(&txn).await?;
            crate::desk::audit::record(&txn, Some(self.user.id), "api_key.revoked", None, format!("key {:?} ({})", row.name, row.prefix)).await?;
            row
        } else {
            row
        };
        txn.commit().await?;
        Ok(row.into())
    }

    /// The scopes of the key this request came with; `None` for a person.
    pub fn key_scopes(&self) -> Option<&[KeyScope]> {
        self.key.as_ref().map(|k| k.scopes.as_slice())
    }
}

impl Runtime {
    /// A request with an API key (`tkh_…`): the key checked (known, its
    /// secret, not revoked or expired), its creator still staff, and one use
    /// counted against the key's rate.
    pub(crate) async fn key_context(&self, slug: &str, bearer: &str) -> Result<TenantContext> {
        let tenant = self.serving(slug)?;
        let refused = |why: &str| RuntimeError::Unauthenticated(why.to_owned());
        let (prefix, secret) = keys::split(bearer).ok_or_else(|| refused("not an API key"))?;
        let key = tenant.db.find_one(api_keys::Entity::find().filter(api_keys::Column::Prefix.eq(prefix))).await?;
        let key = key.filter(|k| keys::secret_matches(secret, &k.secret_hash)).ok_or_else(|| refused("unknown API key"))?;
        let now = Utc::now();
        if key.revoked_at.is_some() {
            return Err(refused("this API key was revoked"));
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(refused("this API key has expired"));
        }
        self.throttle_key(&tenant.info.id, key.id).await?;
        let user = tenant.db.find_one(users::Entity::find_by_id(key.created_by)).await?.ok_or_else(|| refused("the key's creator is gone"))?;
        if user.blocked || !user.role.is_staff() {
            return Err(refused("the key's creator is no longer staff of this desk"));
        }
        if key.last_used_at.is_none_or(|at| now - at >= LAST_USE_EVERY) {
            let desk = tenant.clone();
            let id = key.id;
            // Not on the request's path: a lost write is a slightly older "last used".
            tokio::spawn(async move {
                let noted = async {
                    let txn = desk.db.begin().await?;
                    api_keys::Entity::update_many().col_expr(api_keys::Column::LastUsedAt, Expr::value(now)).filter(api_keys::Column::Id.eq(id)).exec(&txn).await?;
                    txn.commit().await
                };
                if let Err(e) = noted.await {
                    tracing::warn!(error = %e, "could not note an API key's last use");
                }
            });
        }
        let viewer = Viewer::from_user(&user)?;
        let scopes = KeyScope::parse_list([key.scopes.as_str()]).map_err(|e| RuntimeError::Internal(anyhow::anyhow!("key {}: {e}", key.id)))?;
        // A key's context lasts the request; an hour is what the socket may keep it.
        let expires_at = key.expires_at.map_or(now.timestamp() + 3600, |at| at.timestamp().min(now.timestamp() + 3600));
        Ok(TenantContext { runtime: self.clone(), tenant, user, viewer, expires_at, key: Some(KeyGrant { id: key.id, name: key.name, scopes }) })
    }

    /// Counts one use of a key against its rate.
    async fn throttle_key(&self, tenant: &TenantId, key: i64) -> Result<()> {
        self.throttle_api_key(&format!("th:key:{tenant}:{key}")).await
    }
}
