//! Canned responses: answers staff insert by typing `/shortcut` in a
//! reply (the console replaces it; a reply that is exactly `/shortcut`
//! is sent as the answer). Staff read them; admins write them.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, EntityTrait, QueryOrder};

use crate::domain::{Invalid, MessageText, Role};
use crate::storage::entities::canned_responses;
use crate::error::{Result, RuntimeError};
use crate::desk::context::TenantContext;

/// Canned responses a desk keeps at most.
pub const MAX_CANNED: u64 = 500;

/// 1 to 32 lowercase letters, digits, `_` and `-`, typed after `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortcut(String);

impl Shortcut {
    pub fn parse(s: &str) -> Result<Shortcut, Invalid> {
        let s = s.trim().trim_start_matches('/');
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
            return Err(Invalid::new("shortcut", "1 to 32 lowercase letters, digits, _ and -"));
        }
        Ok(Shortcut(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

async fn list(txn: &DatabaseTransaction) -> Result<Vec<canned_responses::Model>> {
    Ok(canned_responses::Entity::find().order_by_asc(canned_responses::Column::Shortcut).all(txn).await?)
}

fn taken(e: sea_orm::DbErr, shortcut: &Shortcut) -> RuntimeError {
    if crate::is_unique_violation(&e) {
        RuntimeError::Conflict(format!("the shortcut /{} is taken", shortcut.as_str()))
    } else {
        e.into()
    }
}

impl TenantContext {
    /// The desk's canned responses, by shortcut (staff).
    pub async fn canned(&self) -> Result<Vec<canned_responses::Model>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let out = list(&txn).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Adds one (admins).
    pub async fn create_canned(&self, shortcut: &Shortcut, text: &MessageText) -> Result<canned_responses::Model> {
        use sea_orm::PaginatorTrait as _;
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        if canned_responses::Entity::find().count(&txn).await? >= MAX_CANNED {
            return Err(RuntimeError::Conflict(format!("a desk keeps at most {MAX_CANNED} canned responses")));
        }
        let now = Utc::now();
        let m = canned_responses::ActiveModel { id: sea_orm::ActiveValue::NotSet, shortcut: Set(shortcut.as_str().to_owned()), text: Set(text.as_str().to_owned()), created_at: Set(now), updated_at: Set(now) }
            .insert(&txn)
            .await
            .map_err(|e| taken(e, shortcut))?;
        super::audit::record(&txn, Some(self.user.id), "canned.created", None, format!("/{}", m.shortcut)).await?;
        txn.commit().await?;
        Ok(m)
    }

    /// Changes one (admins).
    pub async fn update_canned(&self, id: i64, shortcut: Option<&Shortcut>, text: Option<&MessageText>) -> Result<canned_responses::Model> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let m = canned_responses::Entity::find_by_id(id).one(&txn).await?.ok_or(RuntimeError::NotFound("canned response"))?;
        let mut am: canned_responses::ActiveModel = m.into();
        if let Some(s) = shortcut {
            am.shortcut = Set(s.as_str().to_owned());
        }
        if let Some(t) = text {
            am.text = Set(t.as_str().to_owned());
        }
        am.updated_at = Set(Utc::now());
        let m = match shortcut {
            Some(s) => am.update(&txn).await.map_err(|e| taken(e, s))?,
            None => am.update(&txn).await?,
        };
        super::audit::record(&txn, Some(self.user.id), "canned.changed", None, format!("/{}", m.shortcut)).await?;
        txn.commit().await?;
        Ok(m)
    }

    /// Removes one (admins).
    pub async fn delete_canned(&self, id: i64) -> Result<()> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let Some(m) = canned_responses::Entity::find_by_id(id).one(&txn).await? else { return Err(RuntimeError::NotFound("canned response")) };
        canned_responses::Entity::delete_by_id(id).exec(&txn).await?;
        super::audit::record(&txn, Some(self.user.id), "canned.deleted", None, format!("/{}", m.shortcut)).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// A reply that is exactly `/shortcut` of one of `canned`: its text.
pub fn expand<'a>(reply: &str, canned: &'a [canned_responses::Model]) -> Option<&'a str> {
    let s = reply.trim().strip_prefix('/')?;
    canned.iter().find(|c| c.shortcut == s).map(|c| c.text.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_short_plain_words() {
        assert_eq!(Shortcut::parse("/thanks").unwrap().as_str(), "thanks");
        assert_eq!(Shortcut::parse("refund-eu_2").unwrap().as_str(), "refund-eu_2");
        for bad in ["", "/", "Thanks", "two words", "x".repeat(33).as_str(), "ü"] {
            assert!(Shortcut::parse(bad).is_err(), "{bad:?}");
        }
        let now = Utc::now();
        let c = vec![canned_responses::Model { id: 1, shortcut: "thanks".into(), text: "Thank you!".into(), created_at: now, updated_at: now }];
        assert_eq!(expand(" /thanks ", &c), Some("Thank you!"));
        assert_eq!(expand("/thanks a lot", &c), None, "only a reply that is the shortcut alone");
        assert_eq!(expand("thanks", &c), None);
    }
}
