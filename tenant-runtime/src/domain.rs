//! Domain types: each parses once at the boundary and is trusted after.

use std::fmt;

/// Why an input was refused. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Invalid { field, reason: reason.into() }
    }
}

/// PostgreSQL's text cannot hold U+0000, so no stored text may contain it
/// (on either backend, so that both answer alike).
pub const NO_NUL: &str = "must not contain NUL (U+0000) characters";

/// A tenant's URL name: `/t/{slug}/`. Lowercase letters, digits and inner
/// hyphens, 3 to 40 characters, so that it is safe in a URL, a file name and
/// a PostgreSQL schema name alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = |r: &str| Err(Invalid::new("slug", r));
        if s.len() < 3 || s.len() > 40 {
            return bad("must be 3 to 40 characters long");
        }
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return bad("may contain only lowercase letters, digits and hyphens");
        }
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return bad("must not start or end with a hyphen or contain two in a row");
        }
        if !s.as_bytes()[0].is_ascii_lowercase() {
            return bad("must start with a letter");
        }
        Ok(TenantSlug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant's own host name (`support.acme.com`): lowercase letters, digits
/// and hyphens in dot-separated labels of 1 to 63, at least two labels, 253
/// characters at most, not an IP address. The desk answers on it without
/// the `/t/{slug}` prefix; TLS for it is the deployment's proxy's job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomDomain(String);

impl CustomDomain {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = |r: &str| Err(Invalid::new("custom_domain", r));
        let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if d.is_empty() || d.len() > 253 {
            return bad("must be a host name of 1 to 253 characters, like support.example.com");
        }
        let labels: Vec<&str> = d.split('.').collect();
        if labels.len() < 2 {
            return bad("must have at least two labels, like support.example.com");
        }
        for l in &labels {
            if l.is_empty() || l.len() > 63 || !l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') || l.starts_with('-') || l.ends_with('-') {
                return bad("labels are 1 to 63 letters, digits and inner hyphens, like support.example.com (no scheme, port or path)");
            }
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return bad("must be a host name, not an IP address");
        }
        Ok(CustomDomain(d))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's id in the control plane: `tnt_` and 26 hex digits, so that an
/// id in a log line says what it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn generate() -> Self {
        TenantId(format!("tnt_{}", random_hex(13)))
    }

    /// Trusts a value read back from the control plane.
    pub fn from_stored(s: String) -> Self {
        TenantId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bot token from @BotFather: `<bot id>:<secret>`. Never printed: its
/// `Debug` shows only the bot id.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(String);

impl BotToken {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let Some((id, secret)) = s.split_once(':') else {
            return Err(Invalid::new("bot_token", "must look like 123456:ABC-DEF… (from @BotFather)"));
        };
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("bot_token", "must start with the bot's numeric id"));
        }
        if secret.len() < 20
            || secret.len() > 100
            || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Invalid::new("bot_token", "the part after ':' is not a valid token secret"));
        }
        Ok(BotToken(s.to_owned()))
    }

    pub fn bot_id(&self) -> i64 {
        self.0.split_once(':').and_then(|(id, _)| id.parse().ok()).unwrap_or(0)
    }

    /// The token itself, for the Bot API client and HMAC keys only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BotToken({}:***)", self.bot_id())
    }
}

/// A Telegram user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelegramUserId(i64);

impl TelegramUserId {
    pub fn parse(v: i64) -> Result<Self, Invalid> {
        if v <= 0 {
            return Err(Invalid::new("telegram_id", "must be a positive Telegram user id"));
        }
        Ok(TelegramUserId(v))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A ticket's number inside its tenant ("#42"); the tenant's schema is the
/// namespace, so this is also the row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketId(i64);

impl TicketId {
    pub const fn new(id: i64) -> Self {
        TicketId(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A user's id inside their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(i64);

impl UserId {
    pub const fn new(id: i64) -> Self {
        UserId(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A ticket title: required, at most 200 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketTitle(String);

impl TicketTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("title", "is required"));
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("title", format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if t.contains('\n') {
            return Err(Invalid::new("title", "must be a single line"));
        }
        if t.contains('\0') {
            return Err(Invalid::new("title", NO_NUL));
        }
        Ok(TicketTitle(t.to_owned()))
    }

    /// A title derived from a customer's first message: its first non-empty
    /// line, cut to the limit on a character boundary.
    pub fn from_message(text: &str) -> Self {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("New request");
        let cut: String = if line.chars().count() > Self::MAX_CHARS {
            let mut s: String = line.chars().take(Self::MAX_CHARS - 1).collect();
            s.push('…');
            s
        } else {
            line.to_owned()
        };
        TicketTitle(cut)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket's description: required, at most 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDescription(String);

impl TicketDescription {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("description", "is required"));
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(
                "description",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if t.contains('\0') {
            return Err(Invalid::new("description", NO_NUL));
        }
        Ok(TicketDescription(t.to_owned()))
    }

    /// A description from a customer's message, cut to the limit.
    pub fn from_message(text: &str) -> Self {
        let t = text.trim();
        let t = if t.is_empty() { "(no text)" } else { t };
        TicketDescription(t.chars().take(Self::MAX_CHARS).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of a message in a ticket: required, at most 4096 characters
/// (Telegram's own limit for one message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub const MAX_CHARS: usize = 4096;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("text", "is required"));
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("text", format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if t.contains('\0') {
            return Err(Invalid::new("text", NO_NUL));
        }
        Ok(MessageText(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tag as staff write it: trimmed and lowercased, 1 to 64 characters of
/// letters, digits and `-`, `_`, `.`, `:`, `/` (a space becomes `-`), so
/// that one tag is never two by case or spacing. Plugins' and merges' tags
/// are kept as they come (see `desk::tickets::add_tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName(String);

impl TagName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t: String = s.trim().to_lowercase().split_whitespace().collect::<Vec<_>>().join("-");
        if t.is_empty() || t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("tag", format!("must be 1 to {} characters", Self::MAX_CHARS)));
        }
        if !t.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/')) {
            return Err(Invalid::new("tag", "may hold letters, digits, and - _ . : / only"));
        }
        Ok(TagName(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a new message carries: its text, and the ids of the uploads sent
/// with it. The text may be empty only when files go with it. A customer's
/// message from Telegram also says its kind (see
/// `crate::worker::incoming`); everything else is `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody {
    text: String,
    files: Vec<i64>,
    kind: &'static str,
    details: Option<String>,
    /// The customer's message in Telegram (found again when they edit it).
    telegram_message_id: Option<i64>,
}

impl MessageBody {
    pub fn parse(text: &str, files: &[i64]) -> Result<Self, Invalid> {
        check_ids(files)?;
        if files.is_empty() {
            return Ok(MessageText::parse(text)?.into());
        }
        let t = text.trim();
        if t.chars().count() > MessageText::MAX_CHARS {
            return Err(Invalid::new("text", format!("must be at most {} characters", MessageText::MAX_CHARS)));
        }
        if t.contains('\0') {
            return Err(Invalid::new("text", NO_NUL));
        }
        Ok(MessageBody { text: t.to_owned(), files: files.to_vec(), kind: "text", details: None, telegram_message_id: None })
    }

    /// The same body as a customer's Telegram message of a kind, with its
    /// details and its id in the chat.
    pub fn with_telegram(self, kind: &'static str, details: Option<String>, telegram_message_id: Option<i64>) -> Self {
        MessageBody { kind, details, telegram_message_id, ..self }
    }

    pub fn telegram_message_id(&self) -> Option<i64> {
        self.telegram_message_id
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }

    pub fn files(&self) -> &[i64] {
        &self.files
    }
}

impl From<MessageText> for MessageBody {
    fn from(t: MessageText) -> Self {
        MessageBody { text: t.0, files: Vec::new(), kind: "text", details: None, telegram_message_id: None }
    }
}

/// A plugin's name in a tenant: 1 to 64 lowercase letters, digits and hyphens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginName(String);

impl PluginName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(Invalid::new("name", "must be 1 to 64 lowercase letters, digits and hyphens"));
        }
        Ok(PluginName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plugin's configuration: a JSON object of at most 64 KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig(String);

impl PluginConfig {
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn parse(v: &serde_json::Value) -> Result<Self, Invalid> {
        if !v.is_object() {
            return Err(Invalid::new("config", "must be a JSON object"));
        }
        let text = v.to_string();
        if text.len() > Self::MAX_BYTES {
            return Err(Invalid::new("config", format!("must be at most {} bytes", Self::MAX_BYTES)));
        }
        Ok(PluginConfig(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        ///
        /// Stored as its text (a database enum: columns hold exactly these
        /// values and are read back typed), and so in JSON.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name { $(#[sea_orm(string_value = $s)] #[serde(rename = $s)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn parse(s: &str) -> Result<Self, Invalid> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err(Invalid::new($field, format!(
                        "must be one of: {}",
                        [$($s),+].join(", ")
                    ))),
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Roles in a tenant; each inherits the rights of the ones before it.
    Role, "role" {
        User => "user",
        Helper => "helper",
        Moderator => "moderator",
        Admin => "admin",
        Owner => "owner",
    }
);

impl Role {
    /// Staff see the tenant's tickets, not only their own.
    pub fn is_staff(self) -> bool {
        self >= Role::Helper
    }
}

string_enum!(
    /// A ticket's lifecycle.
    TicketStatus, "status" {
        Open => "open",
        InProgress => "in_progress",
        WaitingResponse => "waiting_response",
        Resolved => "resolved",
        Closed => "closed",
    }
);

impl TicketStatus {
    /// A ticket the customer's next plain message continues.
    pub fn is_active(self) -> bool {
        !matches!(self, TicketStatus::Resolved | TicketStatus::Closed)
    }
}

string_enum!(
    Priority, "priority" {
        Low => "low",
        Normal => "normal",
        High => "high",
        Critical => "critical",
    }
);

/// What a key may do. A route of the tenant API needs one of them (the
/// platform's table says which); a key without it is refused with 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyScope {
    TicketsRead,
    TicketsWrite,
    MessagesRead,
    MessagesWrite,
    CustomersRead,
    CustomersWrite,
    TagsWrite,
    /// The desk's settings, people, teams and the like (admins' keys).
    Admin,
}

impl KeyScope {
    pub const ALL: [KeyScope; 8] = [
        KeyScope::TicketsRead,
        KeyScope::TicketsWrite,
        KeyScope::MessagesRead,
        KeyScope::MessagesWrite,
        KeyScope::CustomersRead,
        KeyScope::CustomersWrite,
        KeyScope::TagsWrite,
        KeyScope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::TicketsRead => "tickets:read",
            KeyScope::TicketsWrite => "tickets:write",
            KeyScope::MessagesRead => "messages:read",
            KeyScope::MessagesWrite => "messages:write",
            KeyScope::CustomersRead => "customers:read",
            KeyScope::CustomersWrite => "customers:write",
            KeyScope::TagsWrite => "tags:write",
            KeyScope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<KeyScope> {
        KeyScope::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Parses a stored (or given) list: space- or comma-separated, each
    /// known, at least one.
    pub fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<KeyScope>, String> {
        let mut out = Vec::new();
        for s in items.into_iter().flat_map(|s| s.split([' ', ','])).map(str::trim).filter(|s| !s.is_empty()) {
            let k = KeyScope::parse(s).ok_or_else(|| format!("{s:?} is not a scope; scopes: {}", KeyScope::ALL.map(KeyScope::as_str).join(", ")))?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err(format!("a key needs at least one scope: {}", KeyScope::ALL.map(KeyScope::as_str).join(", ")));
        }
        out.sort();
        Ok(out)
    }

    pub fn join(scopes: &[KeyScope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

pub(crate) fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// At most this many files go with one ticket or message (Telegram's media
/// groups hold ten).
pub const MAX_PER_MESSAGE: usize = 10;

/// The ids a client sent with a ticket or message, checked for count and repeats.
pub fn check_ids(ids: &[i64]) -> Result<(), Invalid> {
    if ids.len() > MAX_PER_MESSAGE {
        return Err(Invalid::new("attachment_ids", format!("at most {MAX_PER_MESSAGE} files go with one message")));
    }
    let mut seen = std::collections::HashSet::new();
    if !ids.iter().all(|id| seen.insert(*id)) {
        return Err(Invalid::new("attachment_ids", "lists a file twice"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["acme", "acme-support", "a1b2c3", "abc"] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ab", "Acme", "acme_support", "-acme", "acme-", "ac--me", "1acme", "a b c", "ацме", &"a".repeat(41)] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bot_tokens() {
        let t = BotToken::parse("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap();
        assert_eq!(t.bot_id(), 123456789);
        assert!(!format!("{t:?}").contains("AAHdq"));
        for bad in ["", "123456789", ":AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "abc:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "123:short", "123:AAHdqTcvCH1vGWJxfSeofSAs0K5PAL/saw"] {
            assert!(BotToken::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn titles() {
        assert!(TicketTitle::parse("  ").is_err());
        assert!(TicketTitle::parse(&"x".repeat(201)).is_err());
        assert!(TicketTitle::parse("two\nlines").is_err());
        assert_eq!(TicketTitle::parse(" Refund ").unwrap().as_str(), "Refund");
        assert_eq!(TicketTitle::from_message("\n  My order is late\nmore").as_str(), "My order is late");
        let long = TicketTitle::from_message(&"é".repeat(500));
        assert_eq!(long.as_str().chars().count(), 200);
    }

    #[test]
    fn descriptions_and_texts() {
        assert!(TicketDescription::parse("").is_err());
        assert!(TicketDescription::parse(&"x".repeat(2001)).is_err());
        assert!(MessageText::parse(" ").is_err());
        assert!(MessageText::parse(&"x".repeat(4097)).is_err());
        // PostgreSQL's text cannot hold U+0000: refused on both backends.
        assert!(TicketTitle::parse("a\0b").is_err());
        assert!(TicketDescription::parse("a\0b").is_err());
        assert!(MessageText::parse("a\0b").is_err());
        assert_eq!(TicketDescription::from_message(&"y".repeat(3000)).as_str().len(), 2000);
    }

    #[test]
    fn plugin_names_and_configs() {
        assert!(PluginName::parse("keyword-reply").is_ok());
        for bad in ["", "Keyword", "a b", "x/y", &"a".repeat(65)] {
            assert!(PluginName::parse(bad).is_err(), "{bad}");
        }
        assert!(PluginConfig::parse(&serde_json::json!({"a": 1})).is_ok());
        assert!(PluginConfig::parse(&serde_json::json!([1])).is_err());
        assert!(PluginConfig::parse(&serde_json::json!({"a": "x".repeat(70_000)})).is_err());
    }

    #[test]
    fn a_tag_has_one_spelling() {
        assert_eq!(TagName::parse("  VIP  Customer ").unwrap().as_str(), "vip-customer");
        assert_eq!(TagName::parse("Заказ/2").unwrap().as_str(), "заказ/2");
        for bad in ["", "   ", "a,b", "<b>", &"x".repeat(65)] {
            assert!(TagName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Moderator);
        assert!(!Role::User.is_staff() && Role::Helper.is_staff());
        assert_eq!(Role::parse("moderator").unwrap(), Role::Moderator);
        assert!(Role::parse("root").unwrap_err().to_string().contains("owner"));
    }

    #[test]
    fn statuses_and_priorities() {
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(s.as_str()).unwrap(), *s);
        }
        assert!(TicketStatus::parse("done").is_err());
        assert!(Priority::parse("urgent").is_err());
        assert!(TelegramUserId::parse(0).is_err());
    }

    #[test]
    fn custom_domains_are_host_names_only() {
        assert_eq!(CustomDomain::parse(" Support.Acme.COM. ").unwrap().as_str(), "support.acme.com");
        for bad in ["acme", "https://support.acme.com", "support.acme.com:8443", "support.acme.com/app", "-x.acme.com", "a..b.com", "10.0.0.1", "", "sup port.acme.com"] {
            assert!(CustomDomain::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(CustomDomain::parse(&format!("{}.com", "a".repeat(64))).is_err());
    }
}
