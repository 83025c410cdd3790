//! The plan catalogue: what each plan costs and allows, read from
//! `billing/plans.toml` (built in) or a file of the same shape.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Telegram takes no larger upload from a bot
/// (<https://core.telegram.org/bots/api#sending-files>), so no plan's file
/// limit goes above it.
pub const TELEGRAM_UPLOAD_LIMIT: u64 = 50 * 1000 * 1000;

/// The catalogue shipped with the build.
pub const BUILTIN: &str = include_str!("../plans.toml");

/// What a plan limits. Each has a stable name used in the plans file, in
/// limit overrides, in the API and in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    Agents,
    TicketsPerMonth,
    MessagesPerMonth,
    Plugins,
    AttachmentBytes,
    StorageBytes,
}

impl Limit {
    pub const ALL: [Limit; 6] =
        [Limit::Agents, Limit::TicketsPerMonth, Limit::MessagesPerMonth, Limit::Plugins, Limit::AttachmentBytes, Limit::StorageBytes];

    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Agents => "agents",
            Limit::TicketsPerMonth => "tickets_per_month",
            Limit::MessagesPerMonth => "messages_per_month",
            Limit::Plugins => "plugins",
            Limit::AttachmentBytes => "attachment_bytes",
            Limit::StorageBytes => "storage_bytes",
        }
    }

    pub fn parse(name: &str) -> Option<Limit> {
        Limit::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plan's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub agents: Option<u64>,
    pub tickets_per_month: Option<u64>,
    pub messages_per_month: Option<u64>,
    pub plugins: Option<u64>,
    pub attachment_bytes: Option<u64>,
    pub storage_bytes: Option<u64>,
}

impl Limits {
    pub fn get(&self, l: Limit) -> Option<u64> {
        match l {
            Limit::Agents => self.agents,
            Limit::TicketsPerMonth => self.tickets_per_month,
            Limit::MessagesPerMonth => self.messages_per_month,
            Limit::Plugins => self.plugins,
            Limit::AttachmentBytes => self.attachment_bytes,
            Limit::StorageBytes => self.storage_bytes,
        }
    }

    fn set(&mut self, l: Limit, v: Option<u64>) {
        let slot = match l {
            Limit::Agents => &mut self.agents,
            Limit::TicketsPerMonth => &mut self.tickets_per_month,
            Limit::MessagesPerMonth => &mut self.messages_per_month,
            Limit::Plugins => &mut self.plugins,
            Limit::AttachmentBytes => &mut self.attachment_bytes,
            Limit::StorageBytes => &mut self.storage_bytes,
        };
        *slot = v;
    }

    /// These limits with a tenant's overrides applied.
    pub fn with(mut self, o: &Overrides) -> Limits {
        for (l, v) in &o.0 {
            self.set(*l, *v);
        }
        self
    }

    /// The largest single file: the plan's limit, never above Telegram's.
    pub fn max_attachment_bytes(&self) -> u64 {
        self.attachment_bytes.unwrap_or(TELEGRAM_UPLOAD_LIMIT).min(TELEGRAM_UPLOAD_LIMIT)
    }
}

/// The operator's changes to one tenant's limits: a number, or `null` for
/// unlimited; a limit not named keeps the plan's. Stored as that JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides(pub BTreeMap<Limit, Option<u64>>);

/// Overrides that are not a JSON object of known limits to numbers or null.
#[derive(Debug, thiserror::Error)]
#[error("limits: {0}")]
pub struct InvalidOverrides(String);

impl Overrides {
    /// Parses `{"tickets_per_month": 500, "agents": null}`; an unknown
    /// name, a negative or fractional number or another type is refused.
    pub fn from_json(v: &serde_json::Value) -> Result<Overrides, InvalidOverrides> {
        let serde_json::Value::Object(map) = v else {
            return Err(InvalidOverrides("must be an object of limit names to numbers (or null for unlimited)".into()));
        };
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let l = Limit::parse(k).ok_or_else(|| {
                InvalidOverrides(format!("unknown limit {k:?}; known: {}", Limit::ALL.map(Limit::as_str).join(", ")))
            })?;
            let n = match v {
                serde_json::Value::Null => None,
                v => Some(v.as_u64().ok_or_else(|| InvalidOverrides(format!("{k} must be a whole number of 0 or more, or null (got {v})")))?),
            };
            if l == Limit::AttachmentBytes && n.is_some_and(|n| n > TELEGRAM_UPLOAD_LIMIT) {
                return Err(InvalidOverrides(format!("attachment_bytes cannot pass Telegram's upload limit of {TELEGRAM_UPLOAD_LIMIT} bytes")));
            }
            out.insert(l, n);
        }
        Ok(Overrides(out))
    }

    /// As stored; `None` when empty.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(self).expect("overrides serialize"))
    }

    /// What was stored; something unreadable counts as no overrides (the
    /// write path validates, so only a hand edit gets here).
    pub fn from_stored(s: Option<&str>) -> Overrides {
        s.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
    }
}

/// One plan of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub id: String,
    pub name: String,
    pub monthly_price_cents: u64,
    pub currency: String,
    /// The Stripe Price a Checkout Session subscribes to; `None` for a plan
    /// that is not sold (Free).
    #[serde(default)]
    pub stripe_price: Option<String>,
    #[serde(default)]
    pub limits: Limits,
}

/// The plan name is not one of the catalogue's.
#[derive(Debug, thiserror::Error)]
#[error("unknown plan {name:?}; known plans: {known}")]
pub struct UnknownPlan {
    pub name: String,
    pub known: String,
}

/// The plans file is not usable; the message says where and why.
#[derive(Debug, thiserror::Error)]
#[error("plans: {0}")]
pub struct InvalidCatalogue(String);

/// The plans on offer, in the file's order. The first is the default for a
/// new tenant.
#[derive(Debug, Clone)]
pub struct Catalogue {
    plans: Vec<PlanSpec>,
    trial: Option<Trial>,
}

/// What a desk opened through signup starts on (`[trial]` in the plans
/// file): a plan for some days, after which it falls to the default plan
/// unless it subscribed meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    pub plan: String,
    pub days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    plan: Vec<PlanSpec>,
    #[serde(default)]
    trial: Option<Trial>,
}

impl Catalogue {
    pub fn builtin() -> Catalogue {
        Catalogue::from_toml(BUILTIN).expect("the built-in plans are valid")
    }

    pub fn from_toml(text: &str) -> Result<Catalogue, InvalidCatalogue> {
        let file: File = toml::from_str(text).map_err(|e| InvalidCatalogue(e.to_string()))?;
        let plans = file.plan;
        let trial = file.trial;
        if plans.is_empty() {
            return Err(InvalidCatalogue("no [[plan]] given".into()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut prices = std::collections::HashSet::new();
        for p in &plans {
            let ok_id = !p.id.is_empty() && p.id.len() <= 40 && p.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
            if !ok_id {
                return Err(InvalidCatalogue(format!("plan id {:?} must be 1 to 40 of a-z, 0-9, - and _", p.id)));
            }
            if !seen.insert(p.id.as_str()) {
                return Err(InvalidCatalogue(format!("plan {:?} is given twice", p.id)));
            }
            if p.name.trim().is_empty() {
                return Err(InvalidCatalogue(format!("plan {:?} needs a name", p.id)));
            }
            if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(InvalidCatalogue(format!("plan {:?}: currency must be a lowercase ISO code such as \"usd\"", p.id)));
            }
            if let Some(price) = &p.stripe_price {
                if !prices.insert(price.as_str()) {
                    return Err(InvalidCatalogue(format!("Stripe price {price:?} is given to two plans")));
                }
            }
            if p.limits.attachment_bytes.is_some_and(|n| n > TELEGRAM_UPLOAD_LIMIT) {
                return Err(InvalidCatalogue(format!("plan {:?}: attachment_bytes cannot pass Telegram's {TELEGRAM_UPLOAD_LIMIT}", p.id)));
            }
        }
        if let Some(t) = &trial {
            if !plans.iter().any(|p| p.id == t.plan) {
                return Err(InvalidCatalogue(format!("[trial] names plan {:?}, which is not in the file", t.plan)));
            }
            if !(1..=365).contains(&t.days) {
                return Err(InvalidCatalogue(format!("[trial] days must be 1 to 365 (got {})", t.days)));
            }
        }
        Ok(Catalogue { plans, trial })
    }

    /// The trial a desk opened through signup starts on, if the file gives one.
    pub fn trial(&self) -> Option<&Trial> {
        self.trial.as_ref()
    }

    pub fn plans(&self) -> &[PlanSpec] {
        &self.plans
    }

    /// The plan a new tenant gets.
    pub fn default_plan(&self) -> &PlanSpec {
        &self.plans[0]
    }

    pub fn plan(&self, id: &str) -> Result<&PlanSpec, UnknownPlan> {
        self.plans.iter().find(|p| p.id == id).ok_or_else(|| UnknownPlan {
            name: id.to_owned(),
            known: self.plans.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// The plan a Stripe Price buys.
    pub fn by_stripe_price(&self, price: &str) -> Option<&PlanSpec> {
        self.plans.iter().find(|p| p.stripe_price.as_deref() == Some(price))
    }

    /// The limits of a stored plan id with a tenant's overrides. A plan id
    /// no longer in the catalogue (the file changed) gets the default plan's
    /// limits, so a tenant never runs unlimited by accident.
    pub fn limits_of(&self, plan: &str, overrides: &Overrides) -> Limits {
        self.plan(plan).unwrap_or_else(|_| self.default_plan()).limits.with(overrides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_offers_free_pro_and_business_within_telegrams_limits() {
        let c = Catalogue::builtin();
        let ids: Vec<&str> = c.plans().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["free", "starter", "pro", "business"]);
        assert_eq!(c.default_plan().id, "free");
        assert_eq!(c.plan("free").unwrap().stripe_price, None, "Free is not sold");
        assert_eq!(c.plan("free").unwrap().limits.tickets_per_month, Some(100));
        assert_eq!(c.plan("free").unwrap().limits.max_attachment_bytes(), 5 * 1024 * 1024);
        assert_eq!(c.plan("starter").unwrap().limits.max_attachment_bytes(), 20 * 1024 * 1024);
        assert_eq!(c.plan("business").unwrap().limits.tickets_per_month, None, "unlimited");
        assert_eq!(c.plan("business").unwrap().limits.max_attachment_bytes(), TELEGRAM_UPLOAD_LIMIT);
        assert_eq!(c.by_stripe_price("price_tikethet_pro_monthly").unwrap().id, "pro");
        let e = c.plan("gold").unwrap_err().to_string();
        assert!(e.contains("\"gold\"") && e.contains("free, starter, pro, business"), "{e}");
    }

    #[test]
    fn a_broken_plans_file_is_refused_with_the_reason() {
        let one = |extra: &str| format!("[[plan]]\nid = \"free\"\nname = \"Free\"\nmonthly_price_cents = 0\ncurrency = \"usd\"\n{extra}");
        assert!(Catalogue::from_toml(&one("")).is_ok());
        let cases = [
            (one("colour = \"red\""), "colour"),
            (format!("{}\n{}", one(""), one("")), "twice"),
            (one("[plan.limits]\nattachment_bytes = 60_000_000"), "Telegram"),
            (one("[plan.limits]\ntickets = 5"), "tickets"),
            (one("").replace("usd", "USD"), "currency"),
            (one("").replace("\"free\"", "\"Free Plan\""), "plan id"),
            (String::new(), "plan"),
            (one("\n[trial]\nplan = \"gold\"\ndays = 14"), "gold"),
            (one("\n[trial]\nplan = \"free\"\ndays = 0"), "days"),
            (one("\n[trial]\nplan = \"free\"\ndays = 14\nprice = 1"), "price"),
        ];
        assert_eq!(Catalogue::from_toml(&one("\n[trial]\nplan = \"free\"\ndays = 7")).unwrap().trial(), Some(&Trial { plan: "free".into(), days: 7 }));
        assert_eq!(Catalogue::from_toml(&one("")).unwrap().trial(), None);
        for (text, says) in cases {
            let e = Catalogue::from_toml(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn overrides_change_only_the_limits_they_name() {
        let c = Catalogue::builtin();
        let o = Overrides::from_json(&serde_json::json!({"tickets_per_month": 500, "agents": null})).unwrap();
        let l = c.limits_of("free", &o);
        assert_eq!((l.tickets_per_month, l.agents, l.plugins), (Some(500), None, Some(1)));
        assert_eq!(Overrides::from_stored(o.to_stored().as_deref()), o, "round trip");
        assert_eq!(Overrides::default().to_stored(), None);
        assert_eq!(c.limits_of("retired-plan", &Overrides::default()), c.plan("free").unwrap().limits, "an unknown plan gets the default's limits");
        for bad in [serde_json::json!({"seats": 3}), serde_json::json!({"agents": -1}), serde_json::json!({"agents": 1.5}), serde_json::json!({"agents": "3"}), serde_json::json!([1]), serde_json::json!({"attachment_bytes": 60_000_000})] {
            assert!(Overrides::from_json(&bad).is_err(), "{bad}");
        }
    }
}
