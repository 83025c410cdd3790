//! Who a request is for: the tenant it was resolved to and the person
//! asking, with what they may see ([`Viewer`], [`Scope`]). Every operation
//! of the tenant API and every audit record starts from a [`TenantContext`];
//! it is built once, at sign-in's door (`desk::service`), and nothing below
//! it looks the tenant up again.

use std::sync::Arc;

use crate::domain::{Role, UserId};
use crate::error::Result;
use crate::storage::entities::users;
use crate::storage::tenant::Tenant;
use crate::Runtime;

/// A request resolved to its tenant and caller.
pub struct TenantContext {
    pub runtime: Runtime,
    pub tenant: Arc<Tenant>,
    pub user: users::Model,
    pub viewer: Viewer,
    /// When the access token this context was made from expires (Unix s).
    pub expires_at: i64,
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
        Ok(Viewer { user_id: UserId(u.id), telegram_id: u.telegram_id, role: Role::parse(&u.role)? })
    }

    pub fn scope(&self) -> Scope {
        match self.role {
            Role::User => Scope::Own,
            Role::Helper => Scope::Assigned,
            Role::Moderator | Role::Admin | Role::Owner => Scope::All,
        }
    }
}

