//! Self-serve signup: a business opens a desk without the operator.
//!
//! `POST /api/v1/signup` (and the `/signup` page) checks the bot token with
//! `getMe` and provisions the desk as the operator would, on the trial's
//! plan, but **unclaimed**: it serves nobody, its webhook is answered here
//! (not by the runtime), and it has no owner yet. The answer is a claim link
//! `https://t.me/{bot}?start={code}`, valid [`CLAIM_TTL`]: the first
//! `/start {code}` sent to the bot makes its sender the owner (one
//! conditional update, so two claims at once cannot both win), the desk is
//! served from then on, and that same update goes on to the runtime, which
//! answers the owner with a console sign-in link (and anyone else sending
//! the code later with a refusal; see `TenantInfo::claimed_with`). A desk
//! nobody claims is removed after [`UNCLAIMED_TTL`]; signing up again with
//! the same bot replaces an unclaimed desk, so an expired link is never a
//! dead end. The trial starts at the claim; [`ControlPlane::trials`]
//! reminds the owner before it ends and moves the desk to the default plan
//! when it does (limits fall; nothing is lost: what is over a limit is held
//! as it always is).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use subtle::ConstantTimeEq as _;
use teloxide::prelude::Requester as _;
use teloxide::types::{ChatKind, Update, UpdateKind};
use tikethet_runtime::domain::{BotToken, Invalid, TenantId, TenantSlug};
use tikethet_runtime::storage::tenant::claim_code_hash;
use tikethet_runtime::TenantStatus;
use tikethet_themes::{BotText, Theme};

use super::{ControlError, ControlPlane, Opening, tenants};
use crate::config::Signup as SignupMode;

/// How long a claim link works.
pub const CLAIM_TTL: Duration = Duration::minutes(30);
/// How long an unclaimed desk is kept.
pub const UNCLAIMED_TTL: Duration = Duration::hours(24);
/// A desk's status between its signup and its claim.
pub(crate) const UNCLAIMED: &str = "unclaimed";
/// Days before a trial's end at which its owner is reminded.
const TRIAL_REMINDERS: [i16; 2] = [3, 1];

/// The funnel's rows (`signups`): one per signup, kept after an unclaimed
/// desk is removed.
pub mod signups {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signups")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub tenant_id: String,
        pub slug: String,
        pub bot_username: String,
        pub started_at: DateTimeUtc,
        pub claimed_at: Option<DateTimeUtc>,
        pub removed_at: Option<DateTimeUtc>,
        /// The hash of the invitation it used, if any.
        pub invite: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Invitation codes (`TIKETHET_SIGNUP=invite`), kept hashed; each opens
/// one desk.
pub mod invites {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signup_invites")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub note: String,
        pub created_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        /// The slug of the desk it opened.
        pub used_by: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The language a signup (and its bot's first words) come in: one of the
/// built-in ones, which becomes the desk's default language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language(&'static str);

impl Language {
    pub const EN: Language = Language("en");

    pub fn parse(s: &str) -> Result<Language, Invalid> {
        let s = s.trim();
        tikethet_themes::language::BUILT_IN
            .iter()
            .find(|l| **l == s)
            .map(|l| Language(l))
            .ok_or_else(|| Invalid::new("language", format!("must be one of {}", tikethet_themes::language::BUILT_IN.join(", "))))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// A signup, validated.
pub struct NewSignup {
    pub name: String,
    pub bot_token: BotToken,
    /// `None`: made from the name (or the bot's username).
    pub slug: Option<TenantSlug>,
    pub language: Language,
    pub invite: Option<String>,
}

/// What a signup opened.
#[derive(Debug, Clone)]
pub struct Opened {
    pub slug: String,
    pub bot_username: String,
    pub claim_link: String,
    pub expires_at: DateTime<Utc>,
    /// The plan the desk is on, and for how many days once claimed (a trial).
    pub plan: String,
    pub trial_days: Option<u32>,
}

/// Why a signup was refused; each doc names its HTTP status and code.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// 403 `signup_closed`
    #[error("signups are closed on this platform: ask its operator for a desk")]
    Closed,
    /// 403 `invite_invalid`
    #[error("signups here are by invitation: the invitation code is missing, unknown or used")]
    InviteInvalid,
    /// 400 `invalid_request`
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// 422 `bot_token_invalid`
    #[error("Telegram refused the bot token ({0}): copy it again from @BotFather")]
    TokenInvalid(String),
    /// 409 `bot_taken`
    #[error("this bot already serves a desk: create a new bot with @BotFather")]
    BotTaken,
    /// 409 `slug_taken`
    #[error("the address {0:?} is taken: choose another")]
    SlugTaken(String),
    /// 429 `rate_limited`, with `Retry-After`
    #[error("too many signups: try again in a while")]
    RateLimited(std::time::Duration),
    /// 502 `telegram_unavailable`
    #[error("Telegram could not be reached or failed: {0}")]
    Telegram(String),
    /// 500
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<ControlError> for SignupError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::Invalid(i) => SignupError::Invalid(i),
            ControlError::TokenRefused(why) => SignupError::TokenInvalid(why),
            ControlError::BotInUse(_) => SignupError::BotTaken,
            ControlError::SlugTaken(s) | ControlError::StorageExists(s) => SignupError::SlugTaken(s),
            ControlError::Telegram(why) | ControlError::WebhookRefused(why) => SignupError::Telegram(why),
            other => SignupError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<sea_orm::DbErr> for SignupError {
    fn from(e: sea_orm::DbErr) -> Self {
        SignupError::Internal(anyhow::Error::new(e).context("signup: database operation failed"))
    }
}

/// An unclaimed desk as its webhook route knows it.
#[derive(Clone)]
pub(crate) struct Unclaimed {
    id: String,
    name: String,
    token: BotToken,
    secret: String,
    code_hash: String,
    expires_at: DateTime<Utc>,
    language: Option<&'static str>,
}

/// What the webhook route did with an update for a route the runtime does
/// not serve.
pub enum UnclaimedUpdate {
    /// No unclaimed desk has this route either: 404.
    Unknown,
    /// The secret header is missing or wrong: 401.
    BadSecret,
    /// Answered (or nothing to do): 200.
    Answered,
    /// The update claimed the desk, which is now served: hand the same
    /// update to the runtime, which answers the owner.
    Claimed,
}

/// The operator's signup funnel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    pub started: u64,
    pub claimed: u64,
    /// Removed unclaimed after [`UNCLAIMED_TTL`].
    pub expired: u64,
    /// Claimed desks still in their trial.
    pub trialling: u64,
    /// Claimed desks with a paid subscription.
    pub paying: u64,
}

/// An invitation as the dashboard lists it.
#[derive(Debug, Clone)]
pub struct Invite {
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<String>,
}

fn random_code() -> String {
    use base64::Engine as _;
    // 144 bits in 24 characters of A-Z a-z 0-9 _ -, which a deep link's
    // start parameter allows (up to 64).
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}

/// A slug made from a desk's name, or failing that its bot's username:
/// lowercase ASCII letters and digits, single hyphens, 3 to 40 long.
fn slug_from(name: &str, bot_username: &str) -> Option<String> {
    let make = |s: &str| {
        let mut out = String::new();
        for c in s.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let out = out.trim_start_matches(|c: char| !c.is_ascii_lowercase()).trim_end_matches('-');
        let mut out: String = out.chars().take(34).collect();
        while out.ends_with('-') {
            out.pop();
        }
        TenantSlug::parse(&out).ok().map(|s| s.to_string())
    };
    make(name).or_else(|| make(bot_username.trim_end_matches("_bot").trim_end_matches("bot")))
}

impl ControlPlane {
    /// Opens an unclaimed desk for whoever holds the bot token.
    pub async fn signup(&self, mode: SignupMode, new: NewSignup) -> Result<Opened, SignupError> {
        let invite = match (mode, &new.invite) {
            (SignupMode::Off, _) => return Err(SignupError::Closed),
            (SignupMode::Invite, None) => return Err(SignupError::InviteInvalid),
            (SignupMode::Invite, Some(code)) => {
                let hash = claim_code_hash(code);
                match invites::Entity::find_by_id(hash.clone()).one(self.storage.control()).await? {
                    Some(i) if i.used_at.is_none() => Some(hash),
                    _ => return Err(SignupError::InviteInvalid),
                }
            }
            (SignupMode::Open, _) => None,
        };
        let me = self.runtime.bot(&new.bot_token).get_me().await.map_err(|e| SignupError::from(super::token_error(e)))?;
        let bot_id = me.id.0 as i64;
        let bot_username = me.username.clone().unwrap_or_default();
        // The same bot signing up again, before anyone claimed its desk:
        // whoever holds the token may start over.
        if let Some(other) = tenants::Entity::find().filter(tenants::Column::BotId.eq(bot_id)).one(self.storage.control()).await? {
            if other.status != UNCLAIMED {
                return Err(SignupError::BotTaken);
            }
            self.remove_unclaimed(&other).await.map_err(SignupError::Internal)?;
        }
        let slug = match &new.slug {
            Some(s) => s.clone(),
            None => self.free_slug(&new.name, &bot_username).await?,
        };
        let plan = match self.plans.trial() {
            Some(t) => t.plan.clone(),
            None => self.plans.default_plan().id.clone(),
        };
        let code = random_code();
        let code_hash = claim_code_hash(&code);
        let expires_at = Utc::now() + CLAIM_TTL;
        let m = self
            .open(
                &slug,
                new.name.clone(),
                &new.bot_token,
                &me,
                Opening { status: UNCLAIMED, owner: 0, plan: plan.clone(), theme: Theme::default_theme(), claim: Some((code_hash.clone(), expires_at)), default_language: Some(new.language.as_str().to_owned()) },
            )
            .await?;
        if let Some(hash) = &invite {
            // One desk per invitation: the first to use it wins.
            let used = invites::Entity::update_many()
                .col_expr(invites::Column::UsedAt, Expr::value(Utc::now()))
                .col_expr(invites::Column::UsedBy, Expr::value(m.slug.clone()))
                .filter(invites::Column::CodeHash.eq(hash.as_str()))
                .filter(invites::Column::UsedAt.is_null())
                .exec(self.storage.control())
                .await?;
            if used.rows_affected != 1 {
                self.remove_unclaimed(&m).await.map_err(SignupError::Internal)?;
                return Err(SignupError::InviteInvalid);
            }
        }
        signups::ActiveModel {
            id: Default::default(),
            tenant_id: Set(m.id.clone()),
            slug: Set(m.slug.clone()),
            bot_username: Set(m.bot_username.clone()),
            started_at: Set(m.created_at),
            claimed_at: Set(None),
            removed_at: Set(None),
            invite: Set(invite),
        }
        .insert(self.storage.control())
        .await?;
        // The language the bot speaks to someone whose Telegram gives none.
        let mut desk = self.unclaimed_of(&m).map_err(SignupError::Internal)?;
        desk.language = Some(new.language.as_str());
        self.unclaimed.lock().expect("poisoned").insert(m.webhook_route.clone(), desk);
        tracing::info!(tenant = %m.id, slug = %m.slug, bot = %m.bot_username, "desk opened by signup, waiting for its claim");
        Ok(Opened {
            claim_link: format!("https://t.me/{}?start={code}", m.bot_username),
            slug: m.slug,
            bot_username: m.bot_username,
            expires_at,
            plan,
            trial_days: self.plans.trial().map(|t| t.days),
        })
    }

    /// A free slug from the name: the name's own, or with `-2`, `-3`, ….
    async fn free_slug(&self, name: &str, bot_username: &str) -> Result<TenantSlug, SignupError> {
        let base = slug_from(name, bot_username).unwrap_or_else(|| "desk".to_owned());
        for n in 1..=50u32 {
            let candidate = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            let Ok(slug) = TenantSlug::parse(&candidate) else { continue };
            let storage_name = self.storage.storage_name_for(&slug);
            let taken = tenants::Entity::find().filter(tenants::Column::Slug.eq(candidate.as_str())).count(self.storage.control()).await? > 0
                || self.storage.tenant_storage_exists(&storage_name).await.map_err(|e| SignupError::Internal(e.into()))?;
            if !taken {
                return Ok(slug);
            }
        }
        Err(SignupError::SlugTaken(base))
    }

    fn unclaimed_of(&self, m: &tenants::Model) -> anyhow::Result<Unclaimed> {
        use anyhow::Context as _;
        Ok(Unclaimed {
            id: m.id.clone(),
            name: m.name.clone(),
            token: BotToken::parse(&self.vault.open(&m.bot_token_enc).with_context(|| format!("tenant {}", m.slug))?).context("stored bot token")?,
            secret: self.vault.open(&m.webhook_secret_enc).with_context(|| format!("tenant {}", m.slug))?,
            code_hash: m.claim_code_hash.clone().unwrap_or_default(),
            expires_at: m.claim_expires_at.unwrap_or(m.created_at),
            language: None,
        })
    }

    /// Removes an unclaimed desk (expired, or replaced by a new signup of
    /// its bot) and notes it in the funnel.
    async fn remove_unclaimed(&self, m: &tenants::Model) -> anyhow::Result<()> {
        self.unclaimed.lock().expect("poisoned").remove(&m.webhook_route);
        self.delete(&m.slug, Some(&m.slug)).await?;
        signups::Entity::update_many()
            .col_expr(signups::Column::RemovedAt, Expr::value(Utc::now()))
            .filter(signups::Column::TenantId.eq(m.id.as_str()))
            .exec(self.storage.control())
            .await?;
        tracing::info!(tenant = %m.id, slug = %m.slug, "unclaimed desk removed");
        Ok(())
    }

    /// Whether a webhook route is an unclaimed desk's (checked before a
    /// byte of the body is read).
    pub fn is_unclaimed(&self, route: &str) -> bool {
        self.unclaimed.lock().expect("poisoned").contains_key(route)
    }

    /// An update for a route the runtime does not serve: an unclaimed
    /// desk's, or nobody's.
    pub async fn unclaimed_update(&self, route: &str, secret: Option<&str>, body: &[u8]) -> Result<UnclaimedUpdate, ControlError> {
        let Some(desk) = self.unclaimed.lock().expect("poisoned").get(route).cloned() else { return Ok(UnclaimedUpdate::Unknown) };
        if !secret.is_some_and(|s| bool::from(s.as_bytes().ct_eq(desk.secret.as_bytes()))) {
            return Ok(UnclaimedUpdate::BadSecret);
        }
        // Telegram's own updates always parse; anything else has nothing
        // to claim with.
        let Ok(update) = serde_json::from_slice::<Update>(body) else { return Ok(UnclaimedUpdate::Answered) };
        let UpdateKind::Message(msg) = update.kind else { return Ok(UnclaimedUpdate::Answered) };
        let Some(from) = msg.from.as_ref().filter(|u| !u.is_bot) else { return Ok(UnclaimedUpdate::Answered) };
        if !matches!(msg.chat.kind, ChatKind::Private(_)) {
            return Ok(UnclaimedUpdate::Answered);
        }
        let lang = from.language_code.as_deref().or(desk.language);
        let code = msg.text().and_then(|t| {
            let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
            (word == "/start" || word.strip_prefix("/start@").is_some()).then(|| rest.trim())
        });
        let outcome = match code {
            None | Some("") => "unclaimed",
            Some(c) if !bool::from(claim_code_hash(c).as_bytes().ct_eq(desk.code_hash.as_bytes())) => "wrong",
            Some(_) if Utc::now() > desk.expires_at => "expired",
            Some(_) => {
                self.claim(route, &desk, from.id.0 as i64).await?;
                return Ok(UnclaimedUpdate::Claimed);
            }
        };
        let signup = format!("{}/signup", self.public_url.as_str().trim_end_matches('/'));
        let text = self
            .runtime
            .renderer()
            .bot_text(BotText::Claim, lang, Theme::default_theme(), &desk.name, serde_json::json!({ "outcome": outcome, "signup": signup }))
            .map_err(|e| ControlError::Internal(e.into()))?;
        // Not queued: an unclaimed desk has no storage of its own in use.
        // A lost answer is a person sending the link again.
        if let Err(e) = self.runtime.bot(&desk.token).send_message(teloxide::types::ChatId(msg.chat.id.0), text).await {
            tracing::warn!(tenant = %desk.id, error = %e, "could not answer a message to an unclaimed desk");
        }
        Ok(UnclaimedUpdate::Answered)
    }

    /// Makes `owner` the owner of an unclaimed desk and serves it. Two
    /// claims at once: the conditional update lets one win; the other finds
    /// the desk served and is answered by the runtime as not its owner.
    async fn claim(&self, route: &str, desk: &Unclaimed, owner: i64) -> Result<(), ControlError> {
        let now = Utc::now();
        let trial_ends_at = self.plans.trial().map(|t| now + Duration::days(i64::from(t.days)));
        let won = tenants::Entity::update_many()
            .col_expr(tenants::Column::Status, Expr::value(TenantStatus::Active.as_str()))
            .col_expr(tenants::Column::OwnerTelegramId, Expr::value(owner))
            .col_expr(tenants::Column::ClaimExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(tenants::Column::TrialEndsAt, Expr::value(trial_ends_at))
            .col_expr(tenants::Column::UpdatedAt, Expr::value(now))
            .filter(tenants::Column::Id.eq(desk.id.as_str()))
            .filter(tenants::Column::Status.eq(UNCLAIMED))
            .filter(tenants::Column::ClaimCodeHash.eq(desk.code_hash.as_str()))
            .exec(self.storage.control())
            .await?
            .rows_affected
            == 1;
        if won {
            signups::Entity::update_many()
                .col_expr(signups::Column::ClaimedAt, Expr::value(now))
                .filter(signups::Column::TenantId.eq(desk.id.as_str()))
                .exec(self.storage.control())
                .await?;
        }
        self.unclaimed.lock().expect("poisoned").remove(route);
        let m = tenants::Entity::find_by_id(desk.id.clone()).one(self.storage.control()).await?.ok_or_else(|| ControlError::NotFound(desk.id.clone()))?;
        self.serve(&m).await?;
        if won {
            self.set_menu_button(&desk.token, &m.slug, m.custom_domain.as_deref()).await;
            tracing::info!(tenant = %m.id, slug = %m.slug, owner, "desk claimed by its owner");
        }
        Ok(())
    }

    /// Keeps the unclaimed desks' routes as the rows say and removes those
    /// past [`UNCLAIMED_TTL`]; part of every sync.
    pub(crate) async fn sweep_unclaimed(&self, rows: &[tenants::Model], now: DateTime<Utc>) {
        let mut keep: HashSet<String> = HashSet::new();
        for m in rows.iter().filter(|m| m.status == UNCLAIMED) {
            if now - m.created_at > UNCLAIMED_TTL {
                if let Err(e) = self.remove_unclaimed(m).await {
                    tracing::warn!(tenant = %m.id, slug = %m.slug, error = %format!("{e:#}"), "could not remove an unclaimed desk; the next sync tries again");
                }
                continue;
            }
            keep.insert(m.webhook_route.clone());
            if self.unclaimed.lock().expect("poisoned").contains_key(&m.webhook_route) {
                continue;
            }
            match self.unclaimed_of(m) {
                Ok(desk) => {
                    self.unclaimed.lock().expect("poisoned").insert(m.webhook_route.clone(), desk);
                }
                Err(e) => tracing::error!(tenant = %m.id, slug = %m.slug, error = %format!("{e:#}"), "cannot answer an unclaimed desk"),
            }
        }
        // Claimed or removed on another node.
        self.unclaimed.lock().expect("poisoned").retain(|route, _| keep.contains(route));
    }

    /// Reminds owners of trials that end soon and moves ended trials to
    /// the default plan (a desk that subscribed meanwhile keeps its plan);
    /// part of every sync. Each step is a conditional update, so with
    /// several nodes exactly one sends each reminder.
    pub(crate) async fn trials(&self, rows: &[tenants::Model], now: DateTime<Utc>) -> anyhow::Result<()> {
        let Some(trial) = self.plans.trial() else { return Ok(()) };
        let fallback = self.plans.default_plan();
        for m in rows.iter().filter(|m| m.status == TenantStatus::Active.as_str()) {
            let Some(ends) = m.trial_ends_at else { continue };
            let left = ends - now;
            let ended = left <= Duration::zero();
            // The reminder due now, if any, and not sent yet: most trials
            // need nothing on most syncs, and cost no query then.
            let due = TRIAL_REMINDERS.into_iter().filter(|d| left <= Duration::days(i64::from(*d))).min();
            if !ended && due.is_none_or(|d| m.trial_reminded_days.is_some_and(|r| r <= d)) {
                continue;
            }
            let paid = self.is_paying(&m.id).await?;
            let vars = |outcome: &str, days: i64| {
                serde_json::json!({
                    "outcome": outcome,
                    "days": days,
                    "date": ends.format("%Y-%m-%d").to_string(),
                    "plan": self.plans.plan(&trial.plan).map(|p| p.name.clone()).unwrap_or_else(|_| trial.plan.clone()),
                    "fallback": fallback.name,
                })
            };
            let end_trial = |plan: Option<String>| {
                let mut q = tenants::Entity::update_many()
                    .col_expr(tenants::Column::TrialEndsAt, Expr::value(Option::<DateTime<Utc>>::None))
                    .col_expr(tenants::Column::UpdatedAt, Expr::value(now));
                if let Some(p) = plan {
                    q = q.col_expr(tenants::Column::Plan, Expr::value(p));
                }
                q.filter(tenants::Column::Id.eq(m.id.as_str())).filter(tenants::Column::TrialEndsAt.eq(ends)).exec(self.storage.control())
            };
            if paid {
                // Subscribed meanwhile: the trial is over and the plan is
                // the one paid for (set by Stripe's events).
                end_trial(None).await?;
                continue;
            }
            if ended {
                if end_trial(Some(fallback.id.clone())).await?.rows_affected == 1 {
                    tracing::info!(tenant = %m.id, slug = %m.slug, plan = %fallback.id, "trial ended: desk moved to the default plan");
                    let fresh = tenants::Entity::find_by_id(m.id.clone()).one(self.storage.control()).await?;
                    if let Some(fresh) = fresh {
                        self.serve(&fresh).await?;
                    }
                    if let Err(e) = self.runtime.tell_owner(&TenantId::from_stored(m.id.clone()), BotText::Trial, vars("ended", 0)).await {
                        tracing::warn!(tenant = %m.id, error = %e, "could not tell the owner that the trial ended");
                    }
                }
                continue;
            }
            let Some(due) = due else { continue };
            let sent = tenants::Entity::update_many()
                .col_expr(tenants::Column::TrialRemindedDays, Expr::value(due))
                .filter(tenants::Column::Id.eq(m.id.as_str()))
                .filter(Expr::col(tenants::Column::TrialRemindedDays).is_null().or(Expr::col(tenants::Column::TrialRemindedDays).gt(due)))
                .exec(self.storage.control())
                .await?
                .rows_affected
                == 1;
            if sent {
                // Whole days left, counted up: "ends in 3 days" until it is 2.
                let days = (left.num_seconds() + 86_399) / 86_400;
                if let Err(e) = self.runtime.tell_owner(&TenantId::from_stored(m.id.clone()), BotText::Trial, vars("ending", days)).await {
                    tracing::warn!(tenant = %m.id, error = %e, "could not remind the owner of the trial's end");
                }
            }
        }
        Ok(())
    }

    /// Makes an invitation code (shown once) for `TIKETHET_SIGNUP=invite`.
    pub async fn create_invite(&self, note: &str) -> Result<String, ControlError> {
        let note = note.trim();
        if note.chars().count() > 200 || note.contains('\0') {
            return Err(Invalid::new("note", "must be at most 200 characters").into());
        }
        let code = random_code();
        invites::ActiveModel { code_hash: Set(claim_code_hash(&code)), note: Set(note.to_owned()), created_at: Set(Utc::now()), used_at: Set(None), used_by: Set(None) }
            .insert(self.storage.control())
            .await?;
        Ok(code)
    }

    /// The invitations, newest first.
    pub async fn invites(&self) -> Result<Vec<Invite>, ControlError> {
        let rows = invites::Entity::find().order_by_desc(invites::Column::CreatedAt).all(self.storage.control()).await?;
        Ok(rows.into_iter().map(|i| Invite { note: i.note, created_at: i.created_at, used_at: i.used_at, used_by: i.used_by }).collect())
    }

    /// Signups so far, as a funnel.
    pub async fn funnel(&self) -> Result<Funnel, ControlError> {
        let rows = signups::Entity::find().all(self.storage.control()).await?;
        let mut f = Funnel { started: rows.len() as u64, ..Default::default() };
        let now = Utc::now();
        for s in &rows {
            if s.removed_at.is_some() {
                f.expired += 1;
            }
            if s.claimed_at.is_none() {
                continue;
            }
            f.claimed += 1;
            let Some(t) = tenants::Entity::find_by_id(s.tenant_id.clone()).one(self.storage.control()).await? else { continue };
            if self.is_paying(&t.id).await? {
                f.paying += 1;
            } else if t.trial_ends_at.is_some_and(|e| e > now) {
                f.trialling += 1;
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_comes_from_the_name_or_else_the_bot() {
        assert_eq!(slug_from("Acme Support", "acme_bot").as_deref(), Some("acme-support"));
        assert_eq!(slug_from("  42 Pizza & Co.  ", "pizza_bot").as_deref(), Some("pizza-co"));
        assert_eq!(slug_from("Поддержка Ромашки", "romashka_help_bot").as_deref(), Some("romashka-help"));
        assert_eq!(slug_from("Поддержка", "xy_bot"), None, "too short either way");
        let long = "a".repeat(80);
        assert_eq!(slug_from(&long, "x_bot").map(|s| s.len()), Some(34), "room for a -NN suffix");
    }

    #[test]
    fn a_claim_code_fits_a_deep_link() {
        let c = random_code();
        assert_eq!(c.len(), 24);
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'), "{c}");
        assert_ne!(c, random_code());
    }
}
