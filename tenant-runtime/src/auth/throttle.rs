//! Request rate limits of the tenant API: sign-ins and writes, counted per
//! client address and per user, so one noisy client (or a script replaying
//! a stolen initData) cannot flood a desk nor sign in a thousand sessions.
//!
//! The counts live where the sender's do: in Redis when it is configured
//! (every node shares them), in this process otherwise. When Redis fails the
//! check falls back to this process's own count rather than refusing every
//! request or letting everything through.

use std::net::IpAddr;
use std::time::Duration;

use crate::Runtime;
use crate::domain::TenantId;
use crate::error::{Result, RuntimeError};
use crate::outbound::limiter::Rate;

/// What a request does, as far as limits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `auth/telegram`, `auth/dev`, `auth/refresh`.
    SignIn,
    /// Any POST, PUT, PATCH or DELETE of the tenant API.
    Write,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Action::SignIn => "signin",
            Action::Write => "write",
        }
    }
}

/// The limits; `None` in the runtime's configuration turns them off (the
/// benchmarks, which drive thousands of requests a second from one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub sign_in_per_ip: Rate,
    pub sign_in_per_user: Rate,
    pub writes_per_ip: Rate,
    pub writes_per_user: Rate,
    /// Desks opened through `/signup` by one client address, and by
    /// everyone together (a flood from many addresses cannot open desks
    /// faster than the platform means to sell them).
    pub signups_per_ip: Rate,
    pub signups_total: Rate,
    /// Requests, read or write, made with one API key.
    pub requests_per_key: Rate,
}

impl Default for Policy {
    /// Per address the limits allow a busy office or a mobile carrier's
    /// shared address (many customers behind one IP); per user they allow
    /// anything a person does by hand, with room for a burst of clicks.
    fn default() -> Self {
        Policy {
            sign_in_per_ip: Rate::per_minute(120, 60),
            sign_in_per_user: Rate::per_minute(10, 10),
            writes_per_ip: Rate::per_minute(1200, 300),
            writes_per_user: Rate::per_minute(120, 60),
            signups_per_ip: Rate { count: 10, period: Duration::from_secs(3600), burst: 5 },
            signups_total: Rate { count: 600, period: Duration::from_secs(3600), burst: 60 },
            // A script syncing a CRM: ten a second, with room for a burst.
            requests_per_key: Rate::per_minute(600, 100),
        }
    }
}

impl Policy {
    fn rate(&self, action: Action, per_user: bool) -> Rate {
        match (action, per_user) {
            (Action::SignIn, false) => self.sign_in_per_ip,
            (Action::SignIn, true) => self.sign_in_per_user,
            (Action::Write, false) => self.writes_per_ip,
            (Action::Write, true) => self.writes_per_user,
        }
    }
}

pub use crate::error::retry_secs;

/// The part of an address that one client controls: the whole IPv4
/// address, the /64 of an IPv6 one (a single host is handed a whole /64
/// and could otherwise step through it).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl Runtime {
    /// Counts one `action` from `ip`; [`RuntimeError::RateLimited`] says
    /// how long to wait when the address is over its limit.
    pub async fn throttle_client(&self, ip: IpAddr, action: Action) -> Result<()> {
        self.throttle(&format!("th:ip:{}:{}", action.key(), client_key(ip)), action, false).await
    }

    /// Counts one signup from a client address (when known) and one
    /// against everyone's.
    pub async fn throttle_signup(&self, ip: Option<IpAddr>) -> Result<()> {
        let Some(policy) = self.inner.auth.throttle_policy else { return Ok(()) };
        if let Some(ip) = ip {
            self.throttle_at(&format!("th:ip:signup:{}", client_key(ip)), policy.signups_per_ip).await?;
        }
        self.throttle_at("th:all:signup", policy.signups_total).await
    }

    /// Counts one request made with an API key (`key`: its counter's name).
    pub(crate) async fn throttle_api_key(&self, key: &str) -> Result<()> {
        let Some(policy) = self.inner.auth.throttle_policy else { return Ok(()) };
        self.throttle_at(key, policy.requests_per_key).await
    }

    /// Counts one `action` by a user of a tenant.
    pub async fn throttle_user(&self, tenant: &TenantId, user_id: i64, action: Action) -> Result<()> {
        self.throttle(&format!("th:user:{}:{tenant}:{user_id}", action.key()), action, true).await
    }

    /// Counts one sign-in of a Telegram user (known by their verified
    /// initData, before the desk has a user row for them).
    pub async fn throttle_sign_in(&self, tenant: &TenantId, telegram_id: i64) -> Result<()> {
        self.throttle(&format!("th:tg:signin:{tenant}:{telegram_id}"), Action::SignIn, true).await
    }

    /// Counts one write by the holder of `bearer`, when it is a valid access
    /// token of the tenant at `slug` (checked by signature only: the handler
    /// does the full check). Anything else is left to the handler to refuse,
    /// so a forged token can never spend a real user's allowance.
    pub async fn throttle_bearer(&self, slug: &str, bearer: &str, action: Action) -> Result<()> {
        let Some(tenant) = self.inner.tenants.by_slug(slug) else { return Ok(()) };
        match self.inner.auth.tokens.verify(&tenant.info.id, bearer) {
            Ok(v) => self.throttle_user(&tenant.info.id, v.user_id, action).await,
            Err(_) => Ok(()),
        }
    }

    async fn throttle(&self, key: &str, action: Action, per_user: bool) -> Result<()> {
        let Some(policy) = self.inner.auth.throttle_policy else { return Ok(()) };
        self.throttle_at(key, policy.rate(action, per_user)).await
    }

    async fn throttle_at(&self, key: &str, rate: Rate) -> Result<()> {
        let wait = match self.inner.limiter.try_acquire(key, rate).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "rate limit store failed; counting in this process");
                self.inner.auth.local_throttle.try_acquire(key, rate).await.map_err(RuntimeError::Internal)?
            }
        };
        match wait {
            None => Ok(()),
            Some(wait) => Err(RuntimeError::RateLimited { retry_after: wait.max(Duration::from_millis(1)) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        assert_eq!(client_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(client_key("10.1.2.3".parse().unwrap()), "10.1.2.3");
    }
}
