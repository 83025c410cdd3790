//! Who a request is for: the tenant it was resolved to and the person
//! asking, with what they may see ([`Viewer`], [`Scope`]). Every operation
//! of the tenant API and every audit record starts from a [`TenantContext`];
//! it is built once, at sign-in's door (`desk::service`), and nothing below
//! it looks the tenant up again.

use std::sync::Arc;

use crate::domain::{Role, UserId};
use crate::error::Result;
use crate::storage::entities::users;
use crate::storage::tenant::{Tenant, TenantInfo};
use crate::Runtime;

/// A request resolved to its tenant and caller. Only the runtime makes one
/// (from a verified token or console session); its parts are read through
/// accessors, so nothing outside can point it at another tenant.
pub struct TenantContext {
    pub(crate) runtime: Runtime,
    pub(crate) tenant: Arc<Tenant>,
    pub(crate) user: users::Model,
    pub(crate) viewer: Viewer,
    /// When the access token this context was made from expires (Unix s).
    pub(crate) expires_at: i64,
    /// Set when the request came with an API key: what it may do.
    pub(crate) key: Option<KeyGrant>,
}

/// The API key a request came with.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<crate::domain::KeyScope>,
}

impl TenantContext {
    /// The desk the request is for.
    pub fn tenant(&self) -> &TenantInfo {
        &self.tenant.info
    }

    /// The person asking.
    pub fn user(&self) -> &users::Model {
        &self.user
    }

    /// What the person asking may see.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    /// The person's role in the desk.
    pub fn role(&self) -> Role {
        self.viewer.role
    }

    /// When the access token (or console session) expires, in Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// Refuses (403) a caller below `role`: what a route declares it needs.
    pub fn at_least(self, role: Role) -> Result<Self> {
        if self.viewer.role < role {
            return Err(crate::error::RuntimeError::Forbidden(format!("needs the {role} role")));
        }
        Ok(self)
    }
}

/// Who is asking, inside a tenant.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: UserId,
    pub telegram_id: i64,
    pub role: Role,
}

/// Which tickets a viewer may see and answer (PRODUCT.md's roles): a
/// customer their own, a helper those assigned to them, moderators and up
/// all of the desk's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Own,
    Assigned,
    All,
}

impl Viewer {
    pub fn from_user(u: &users::Model) -> Result<Viewer> {
        Ok(Viewer { user_id: UserId::new(u.id), telegram_id: u.telegram_id, role: u.role })
    }

    pub fn scope(&self) -> Scope {
        match self.role {
            Role::User => Scope::Own,
            Role::Helper => Scope::Assigned,
            Role::Moderator | Role::Admin | Role::Owner => Scope::All,
        }
    }
}

