//! Settings: loaded once from defaults, an optional `tikethet.toml` and
//! `TIKETHET_*` environment variables (which win), validated, and handed
//! around as one struct. Secrets never print.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// A value that must not end up in a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(v: T) -> Self {
        Secret(v)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    Development,
    Production,
}

/// Every setting of the platform. Its `Debug` hides the secrets and the
/// passwords inside the database and Redis URLs.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    /// The control-plane schema on PostgreSQL; tenants get `{schema}_{slug}`.
    pub database_schema: String,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so deployments (and tests) can share a server.
    pub redis_prefix: String,
    pub listen: String,
    pub public_url: url::Url,
    pub telegram_api_url: url::Url,
    pub master_key: Secret<[u8; 32]>,
    pub operator_token: Secret<String>,
    pub jwt_secret: Secret<Vec<u8>>,
    pub stripe_secret_key: Option<Secret<String>>,
    pub stripe_webhook_secret: Option<Secret<String>>,
    pub stripe_api_url: Option<String>,
    pub env: Env,
    pub data_dir: PathBuf,
    /// Secrets that were generated rather than configured.
    pub generated: Vec<&'static str>,
    /// How long finished rows are kept (`TIKETHET_RETAIN_*_DAYS`).
    pub retention: tikethet_runtime::Retention,
    /// Request limits of the tenant API: on by default, `TIKETHET_RATE_LIMITS=off`
    /// turns them off (benchmarks, a proxy that limits in front of us).
    pub throttle: Option<tikethet_runtime::auth::throttle::Policy>,
    /// Where attachments are kept (`TIKETHET_FILES_URL`): unset, local files
    /// under `{data_dir}/files`; `file:///folder`, or `s3://bucket/prefix`
    /// with the standard `AWS_*` variables.
    pub files_url: Option<String>,
    /// Tenant databases open at once on SQLite (`TIKETHET_SQLITE_OPEN_MAX`)
    /// and the lifetime of a pooled PostgreSQL connection
    /// (`TIKETHET_PG_CONNECTION_LIFETIME_SECS`), and the spare tenant
    /// schemas a serving node keeps on PostgreSQL
    /// (`TIKETHET_PG_SPARE_SCHEMAS`, 0 for none).
    pub storage_limits: tikethet_runtime::storage::StorageLimits,
    /// The plans on offer: `billing/plans.toml` as built in, or the file
    /// `TIKETHET_PLANS_FILE` names.
    pub plans: std::sync::Arc<tikethet_billing::Catalogue>,
    /// How often usage is reported to Stripe (`TIKETHET_USAGE_REPORT_SECS`).
    pub usage_report_every: std::time::Duration,
    /// How often desks' tickets are checked against their service levels
    /// (`TIKETHET_SLA_CHECK_SECS`).
    pub sla_check_every: std::time::Duration,
    /// How long a node's claim on a chat's work lasts unless renewed
    /// (`TIKETHET_CLAIM_LEASE_SECS`): how soon other nodes take over the
    /// chats of a node that died.
    pub claim_lease: std::time::Duration,
    /// Mini App buttons and the menu button on a plain-HTTP public URL,
    /// which Telegram refuses: only `tikethet demo` sets it (its Telegram is
    /// the stand-in, and its browser is on the same machine). No variable.
    pub mini_app_over_http: bool,
    /// The development sign-in (`POST /t/{slug}/api/v1/auth/dev` and the
    /// Mini App's form): only with `TIKETHET_DEV_SIGN_IN=on`, outside
    /// production, on a loopback `http://` public URL. Anyone who reaches it
    /// can sign in as anyone, the desk's owner included.
    pub dev_sign_in: bool,
    /// The public URL is on this machine (a loopback host): a development
    /// or demo server, which answers only the `Host` names it serves (see
    /// `http::hosts`), so that a web page cannot reach it by DNS rebinding.
    pub local_only: bool,
    /// Who may open a desk at `/signup` (`TIKETHET_SIGNUP`): `off` by
    /// default, so that a deployment sells itself only once its operator
    /// says so.
    pub signup: Signup,
    /// The DNS servers that desks' domain records are looked up at
    /// (`TIKETHET_DNS_SERVERS`, `ip` or `ip:port`, comma-separated); the
    /// system's resolvers (`/etc/resolv.conf`) when unset.
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// How often a verified domain's record is looked up again
    /// (`TIKETHET_DOMAIN_CHECK_SECS`, a day by default).
    pub domain_check_every: std::time::Duration,
}

/// `TIKETHET_SIGNUP`: who may open a desk without the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    /// Anyone with a bot token.
    Open,
    /// Anyone with a bot token and an invitation code from the operator.
    Invite,
    /// Nobody: desks are opened by the operator.
    Off,
}

impl Signup {
    pub fn as_str(self) -> &'static str {
        match self {
            Signup::Open => "open",
            Signup::Invite => "invite",
            Signup::Off => "off",
        }
    }
}

/// Whether a URL names this machine (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use tikethet_runtime::storage::redact_url;
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("database_schema", &self.database_schema)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url.as_str())
            .field("telegram_api_url", &self.telegram_api_url.as_str())
            .field("master_key", &self.master_key)
            .field("operator_token", &self.operator_token)
            .field("jwt_secret", &self.jwt_secret)
            .field("stripe_secret_key", &self.stripe_secret_key)
            .field("stripe_webhook_secret", &self.stripe_webhook_secret)
            .field("stripe_api_url", &self.stripe_api_url)
            .field("env", &self.env)
            .field("data_dir", &self.data_dir)
            .field("generated", &self.generated)
            .field("retention", &self.retention)
            .field("throttle", &self.throttle)
            .field("files_url", &self.files_url.as_deref().map(tikethet_runtime::storage::redact_url))
            .field("storage_limits", &self.storage_limits)
            .field("usage_report_every", &self.usage_report_every)
            .field("sla_check_every", &self.sla_check_every)
            .field("claim_lease", &self.claim_lease)
            .field("mini_app_over_http", &self.mini_app_over_http)
            .field("signup", &self.signup)
            .field("dns_servers", &self.dns_servers)
            .field("domain_check_every", &self.domain_check_every)
            .field("plans", &self.plans.plans().iter().map(|p| p.id.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// The keys, as environment variables; the file uses them lowercased and
/// without the prefix (`database_url = "…"`).
pub const KEYS: &[&str] = &[
    "TIKETHET_DATABASE_URL",
    "TIKETHET_DATABASE_SCHEMA",
    "TIKETHET_REDIS_URL",
    "TIKETHET_REDIS_PREFIX",
    "TIKETHET_LISTEN",
    "TIKETHET_PUBLIC_URL",
    "TIKETHET_TELEGRAM_API_URL",
    "TIKETHET_MASTER_KEY",
    "TIKETHET_OPERATOR_TOKEN",
    "TIKETHET_JWT_SECRET",
    "TIKETHET_STRIPE_SECRET_KEY",
    "TIKETHET_STRIPE_WEBHOOK_SECRET",
    "TIKETHET_STRIPE_API_URL",
    "TIKETHET_ENV",
    "TIKETHET_DATA_DIR",
    "TIKETHET_RETAIN_INBOX_DAYS",
    "TIKETHET_RETAIN_OUTBOX_DAYS",
    "TIKETHET_RETAIN_SESSIONS_DAYS",
    "TIKETHET_RETAIN_PLUGIN_FAILURES_DAYS",
    "TIKETHET_RATE_LIMITS",
    "TIKETHET_FILES_URL",
    "TIKETHET_SQLITE_OPEN_MAX",
    "TIKETHET_PG_CONNECTION_LIFETIME_SECS",
    "TIKETHET_PG_SPARE_SCHEMAS",
    "TIKETHET_PLANS_FILE",
    "TIKETHET_USAGE_REPORT_SECS",
    "TIKETHET_SLA_CHECK_SECS",
    "TIKETHET_CLAIM_LEASE_SECS",
    "TIKETHET_DEV_SIGN_IN",
    "TIKETHET_SIGNUP",
    "TIKETHET_DNS_SERVERS",
    "TIKETHET_DOMAIN_CHECK_SECS",
];

/// Where raw values come from.
pub struct Sources {
    values: HashMap<String, String>,
}

impl Sources {
    /// The process environment over `tikethet.toml` (or `$TIKETHET_CONFIG`).
    pub fn from_process() -> anyhow::Result<Sources> {
        let file = std::env::var("TIKETHET_CONFIG").ok().map(PathBuf::from);
        let mut values = match &file {
            Some(path) => read_file(path)?,
            None if Path::new("tikethet.toml").exists() => read_file(Path::new("tikethet.toml"))?,
            None => HashMap::new(),
        };
        for key in KEYS {
            if let Ok(v) = std::env::var(key) {
                values.insert((*key).to_owned(), v);
            }
        }
        Ok(Sources { values })
    }

    /// Explicit values, for tests and tools.
    pub fn from_map(values: HashMap<String, String>) -> Sources {
        Sources { values }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.values.get(key).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
    }
}

fn read_file(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    let table: toml::Table = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut out = HashMap::new();
    for (k, v) in table {
        let key = format!("TIKETHET_{}", k.to_ascii_uppercase());
        if !KEYS.contains(&key.as_str()) {
            bail!("{}: unknown setting {k:?}; known: {}", path.display(), KEYS.iter().map(|k| k[9..].to_ascii_lowercase()).collect::<Vec<_>>().join(", "));
        }
        let v = match v {
            toml::Value::String(s) => s,
            other => other.to_string(),
        };
        out.insert(key, v);
    }
    Ok(out)
}

/// Retention periods in whole days (1 to 3,650), each defaulting to
/// [`tikethet_runtime::Retention::default`].
fn retention(src: &Sources) -> anyhow::Result<tikethet_runtime::Retention> {
    let d = tikethet_runtime::Retention::default();
    let days = |key: &str, default: chrono::Duration| -> anyhow::Result<chrono::Duration> {
        match src.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=3650).contains(&n) => Ok(chrono::Duration::days(n)),
                _ => bail!("{key} must be a whole number of days from 1 to 3650 (got {v:?})"),
            },
        }
    };
    Ok(tikethet_runtime::Retention {
        inbox: days("TIKETHET_RETAIN_INBOX_DAYS", d.inbox)?,
        outbox: days("TIKETHET_RETAIN_OUTBOX_DAYS", d.outbox)?,
        sessions: days("TIKETHET_RETAIN_SESSIONS_DAYS", d.sessions)?,
        plugin_failures: days("TIKETHET_RETAIN_PLUGIN_FAILURES_DAYS", d.plugin_failures)?,
    })
}

fn storage_limits(src: &Sources) -> anyhow::Result<tikethet_runtime::storage::StorageLimits> {
    let d = tikethet_runtime::storage::StorageLimits::default();
    let number = |key: &str, range: std::ops::RangeInclusive<u64>, default: u64| -> anyhow::Result<u64> {
        match src.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => bail!("{key} must be a whole number from {} to {} (got {v:?})", range.start(), range.end()),
            },
        }
    };
    Ok(tikethet_runtime::storage::StorageLimits {
        sqlite_open_max: number("TIKETHET_SQLITE_OPEN_MAX", 1..=100_000, d.sqlite_open_max as u64)? as usize,
        pg_connection_lifetime: std::time::Duration::from_secs(number(
            "TIKETHET_PG_CONNECTION_LIFETIME_SECS",
            1..=86_400,
            d.pg_connection_lifetime.as_secs(),
        )?),
        pg_spare_schemas: number("TIKETHET_PG_SPARE_SCHEMAS", 0..=1000, d.pg_spare_schemas as u64)? as usize,
    })
}

fn plans(src: &Sources) -> anyhow::Result<tikethet_billing::Catalogue> {
    match src.get("TIKETHET_PLANS_FILE") {
        None => Ok(tikethet_billing::Catalogue::builtin()),
        Some(path) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("TIKETHET_PLANS_FILE: failed to read {path}"))?;
            tikethet_billing::Catalogue::from_toml(&text).with_context(|| format!("TIKETHET_PLANS_FILE {path}"))
        }
    }
}

fn rate_limits(src: &Sources) -> anyhow::Result<Option<tikethet_runtime::auth::throttle::Policy>> {
    match src.get("TIKETHET_RATE_LIMITS").as_deref() {
        None | Some("on") => Ok(Some(tikethet_runtime::auth::throttle::Policy::default())),
        Some("off") => Ok(None),
        Some(v) => bail!("TIKETHET_RATE_LIMITS must be on or off (got {v:?})"),
    }
}

fn parse_url(key: &str, v: &str) -> anyhow::Result<url::Url> {
    let u = url::Url::parse(v).with_context(|| format!("{key} is not a URL: {v:?}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        bail!("{key} must be an http or https URL (got {v:?})");
    }
    Ok(u)
}

/// Reads a generated secret from `data/`, or makes and stores one.
fn generated_secret(data_dir: &Path, file: &str, make: impl FnOnce() -> String) -> anyhow::Result<(String, bool)> {
    let path = data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let s = existing.trim().to_owned();
        if !s.is_empty() {
            return Ok((s, false));
        }
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("failed to create {}", data_dir.display()))?;
    let value = make();
    write_private(&path, &value).with_context(|| format!("failed to write {}", path.display()))?;
    Ok((value, true))
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(value.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore as _;
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

impl Settings {
    pub fn load(src: &Sources) -> anyhow::Result<Settings> {
        let env = match src.get("TIKETHET_ENV").as_deref() {
            None | Some("development") => Env::Development,
            Some("production") => Env::Production,
            Some(other) => bail!("TIKETHET_ENV must be development or production (got {other:?})"),
        };
        let data_dir = PathBuf::from(src.get("TIKETHET_DATA_DIR").unwrap_or_else(|| "data".into()));
        let listen = src.get("TIKETHET_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        listen
            .parse::<std::net::SocketAddr>()
            .with_context(|| format!("TIKETHET_LISTEN must be host:port with an IP address (got {listen:?})"))?;
        let public_url = parse_url(
            "TIKETHET_PUBLIC_URL",
            &src.get("TIKETHET_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into()),
        )?;
        let telegram_api_url = parse_url(
            "TIKETHET_TELEGRAM_API_URL",
            &src.get("TIKETHET_TELEGRAM_API_URL").unwrap_or_else(|| "https://api.telegram.org".into()),
        )?;
        let database_url = src.get("TIKETHET_DATABASE_URL").unwrap_or_else(|| "sqlite://data/tikethet.db".into());
        let database_schema = src.get("TIKETHET_DATABASE_SCHEMA").unwrap_or_else(|| "tikethet".into());
        // Validated here so a bad URL fails at start-up, not at first use.
        tikethet_runtime::storage::StorageUrl::parse(&database_url, &database_schema)?;

        let mut generated = Vec::new();
        let master_key = match src.get("TIKETHET_MASTER_KEY") {
            Some(v) => decode_key(&v).context("TIKETHET_MASTER_KEY")?,
            None => {
                let (v, _) = generated_secret(&data_dir, "master.key", || B64.encode(random_bytes::<32>()))?;
                generated.push("TIKETHET_MASTER_KEY");
                decode_key(&v).with_context(|| format!("{}/master.key is damaged", data_dir.display()))?
            }
        };
        let jwt_secret = match src.get("TIKETHET_JWT_SECRET") {
            Some(v) => {
                if v.len() < 32 {
                    bail!("TIKETHET_JWT_SECRET must be at least 32 characters");
                }
                v.into_bytes()
            }
            None => {
                let (v, _) = generated_secret(&data_dir, "jwt.secret", || hex::encode(random_bytes::<32>()))?;
                generated.push("TIKETHET_JWT_SECRET");
                v.into_bytes()
            }
        };
        let operator_token = match src.get("TIKETHET_OPERATOR_TOKEN") {
            Some(v) => {
                if v.len() < 24 {
                    bail!("TIKETHET_OPERATOR_TOKEN must be at least 24 characters");
                }
                v
            }
            None => {
                let (v, fresh) = generated_secret(&data_dir, "operator.token", || format!("op_{}", hex::encode(random_bytes::<24>())))?;
                generated.push("TIKETHET_OPERATOR_TOKEN");
                if fresh {
                    // Printed once, at generation; afterwards it is only in data/.
                    eprintln!("Generated operator token (stored in {}/operator.token): {v}", data_dir.display());
                }
                v
            }
        };

        let local_only = is_loopback_url(&public_url);
        let dev_sign_in = match src.get("TIKETHET_DEV_SIGN_IN").as_deref() {
            None | Some("off") => false,
            Some("on") if env == Env::Production => bail!("TIKETHET_DEV_SIGN_IN=on is refused with TIKETHET_ENV=production: it lets anyone sign in as anyone"),
            Some("on") if !(local_only && public_url.scheme() == "http") => {
                bail!("TIKETHET_DEV_SIGN_IN=on needs a loopback http:// public URL (got {public_url}): it lets anyone who reaches the server sign in as anyone")
            }
            Some("on") => true,
            Some(other) => bail!("TIKETHET_DEV_SIGN_IN must be on or off (got {other:?})"),
        };
        let signup = match src.get("TIKETHET_SIGNUP").as_deref() {
            None | Some("off") => Signup::Off,
            Some("open") => Signup::Open,
            Some("invite") => Signup::Invite,
            Some(other) => bail!("TIKETHET_SIGNUP must be open, invite or off (got {other:?})"),
        };
        let dns_servers = match src.get("TIKETHET_DNS_SERVERS") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<std::net::SocketAddr>().or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53))))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| anyhow::anyhow!("TIKETHET_DNS_SERVERS must be IP addresses, each with an optional port, separated by commas, like 1.1.1.1,9.9.9.9:53 (got {v:?})"))?,
        };
        let domain_check_every = match src.get("TIKETHET_DOMAIN_CHECK_SECS") {
            None => std::time::Duration::from_secs(86_400),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=604_800).contains(&n) => std::time::Duration::from_secs(n),
                _ => bail!("TIKETHET_DOMAIN_CHECK_SECS must be a whole number of seconds from 1 to 604800 (got {v:?})"),
            },
        };
        let settings = Settings {
            signup,
            dns_servers,
            domain_check_every,
            database_url,
            database_schema,
            redis_url: src.get("TIKETHET_REDIS_URL"),
            redis_prefix: src.get("TIKETHET_REDIS_PREFIX").unwrap_or_else(|| "tikethet:".into()),
            listen,
            public_url,
            telegram_api_url,
            master_key: Secret(master_key),
            operator_token: Secret(operator_token),
            jwt_secret: Secret(jwt_secret),
            stripe_secret_key: src.get("TIKETHET_STRIPE_SECRET_KEY").map(Secret),
            stripe_webhook_secret: src.get("TIKETHET_STRIPE_WEBHOOK_SECRET").map(Secret),
            stripe_api_url: src.get("TIKETHET_STRIPE_API_URL"),
            env,
            data_dir,
            generated,
            retention: retention(src)?,
            throttle: rate_limits(src)?,
            files_url: src.get("TIKETHET_FILES_URL"),
            storage_limits: storage_limits(src)?,
            plans: std::sync::Arc::new(plans(src)?),
            usage_report_every: match src.get("TIKETHET_USAGE_REPORT_SECS") {
                None => std::time::Duration::from_secs(60),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (1..=86_400).contains(&n) => std::time::Duration::from_secs(n),
                    _ => bail!("TIKETHET_USAGE_REPORT_SECS must be a whole number of seconds from 1 to 86400 (got {v:?})"),
                },
            },
            sla_check_every: match src.get("TIKETHET_SLA_CHECK_SECS") {
                None => std::time::Duration::from_secs(30),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (1..=3600).contains(&n) => std::time::Duration::from_secs(n),
                    _ => bail!("TIKETHET_SLA_CHECK_SECS must be a whole number of seconds from 1 to 3600 (got {v:?})"),
                },
            },
            claim_lease: match src.get("TIKETHET_CLAIM_LEASE_SECS") {
                None => std::time::Duration::from_secs(30),
                // Longer than a Bot API call may take (17 s), so a live
                // sender never loses its chat in the middle of a send.
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (20..=600).contains(&n) => std::time::Duration::from_secs(n),
                    _ => bail!("TIKETHET_CLAIM_LEASE_SECS must be a whole number of seconds from 20 to 600 (got {v:?})"),
                },
            },
            mini_app_over_http: false,
            dev_sign_in,
            local_only,
        };
        settings.check_production()?;
        Ok(settings)
    }

    /// Production's checks apply with `TIKETHET_ENV=production` and to any
    /// server whose public URL is not on this machine, whatever
    /// `TIKETHET_ENV` says: a forgotten variable must never leave a public
    /// desk on generated secrets or plain HTTP.
    pub fn production_checked(&self) -> bool {
        self.env == Env::Production || !self.local_only
    }

    fn check_production(&self) -> anyhow::Result<()> {
        if !self.production_checked() {
            return Ok(());
        }
        let mut problems = Vec::new();
        for g in &self.generated {
            problems.push(format!("{g} is not set (generated secrets are for development only)"));
        }
        if self.public_url.scheme() != "https" {
            problems.push(format!("TIKETHET_PUBLIC_URL must be https (Telegram only delivers webhooks over TLS), got {}", self.public_url));
        }
        if !problems.is_empty() {
            let why = match self.env {
                Env::Production => "with TIKETHET_ENV=production".to_owned(),
                Env::Development => format!("on the public URL {} (not this machine, so production's checks apply whatever TIKETHET_ENV says)", self.public_url),
            };
            bail!("refusing to start {why}:\n  - {}", problems.join("\n  - "));
        }
        Ok(())
    }

    /// Warnings to print at start-up.
    pub fn warnings(&self) -> Vec<String> {
        self.generated
            .iter()
            .map(|g| format!("{g} is not set: using a generated development secret stored in {}/", self.data_dir.display()))
            .collect()
    }
}

fn decode_key(v: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = B64.decode(v.trim()).context("must be base64")?;
    bytes.try_into().map_err(|b: Vec<u8>| anyhow::anyhow!("must be 32 bytes, got {}", b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)], dir: &Path) -> anyhow::Result<Settings> {
        let mut m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        m.insert("TIKETHET_DATA_DIR".into(), dir.display().to_string());
        Settings::load(&Sources::from_map(m))
    }

    #[test]
    fn defaults_work_in_an_empty_folder_and_generated_secrets_persist() {
        let dir = tempfile::tempdir().unwrap();
        let a = load(&[], dir.path()).unwrap();
        assert_eq!(a.database_url, "sqlite://data/tikethet.db");
        assert_eq!(a.listen, "127.0.0.1:8080");
        assert_eq!(a.generated.len(), 3);
        let b = load(&[], dir.path()).unwrap();
        assert_eq!(a.master_key, b.master_key);
        assert_eq!(a.operator_token, b.operator_token);
        assert!(!format!("{a:?}").contains(a.operator_token.expose()));
    }

    #[test]
    fn production_refuses_generated_secrets_and_http() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&[("TIKETHET_ENV", "production")], dir.path()).unwrap_err().to_string();
        assert!(err.contains("TIKETHET_MASTER_KEY") && err.contains("https"), "{err}");
        let key = B64.encode([7u8; 32]);
        let ok = load(
            &[
                ("TIKETHET_ENV", "production"),
                ("TIKETHET_MASTER_KEY", &key),
                ("TIKETHET_JWT_SECRET", &"j".repeat(40)),
                ("TIKETHET_OPERATOR_TOKEN", &"o".repeat(40)),
                ("TIKETHET_PUBLIC_URL", "https://desk.example.com"),
            ],
            dir.path(),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn a_public_url_off_this_machine_gets_productions_checks_without_tikethet_env() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", load(&[("TIKETHET_PUBLIC_URL", "https://desk.example.com")], dir.path()).unwrap_err());
        assert!(err.contains("not this machine") && err.contains("TIKETHET_MASTER_KEY is not set"), "{err}");
        let key = B64.encode([7u8; 32]);
        let secrets = [("TIKETHET_MASTER_KEY", key.as_str()), ("TIKETHET_JWT_SECRET", &"j".repeat(40)), ("TIKETHET_OPERATOR_TOKEN", &"o".repeat(40))];
        let with = |more: &[(&'static str, &'static str)]| {
            let mut all: Vec<(&str, &str)> = secrets.to_vec();
            all.extend_from_slice(more);
            load(&all, dir.path())
        };
        let s = with(&[("TIKETHET_PUBLIC_URL", "https://desk.example.com")]).unwrap();
        assert!(s.production_checked() && !s.dev_sign_in && !s.local_only);
        let err = format!("{:#}", with(&[("TIKETHET_PUBLIC_URL", "http://desk.example.com")]).unwrap_err());
        assert!(err.contains("must be https"), "{err}");
        // The development sign-in is never on off this machine, nor in production.
        let err = format!("{:#}", with(&[("TIKETHET_PUBLIC_URL", "https://desk.example.com"), ("TIKETHET_DEV_SIGN_IN", "on")]).unwrap_err());
        assert!(err.contains("TIKETHET_DEV_SIGN_IN=on needs a loopback http:// public URL"), "{err}");
        let err = format!("{:#}", with(&[("TIKETHET_ENV", "production"), ("TIKETHET_PUBLIC_URL", "https://desk.example.com"), ("TIKETHET_DEV_SIGN_IN", "on")]).unwrap_err());
        assert!(err.contains("refused with TIKETHET_ENV=production"), "{err}");
        let err = format!("{:#}", with(&[("TIKETHET_PUBLIC_URL", "https://127.0.0.1:8443"), ("TIKETHET_DEV_SIGN_IN", "on")]).unwrap_err());
        assert!(err.contains("loopback http://"), "{err}");
    }

    #[test]
    fn the_development_sign_in_is_off_unless_turned_on_on_loopback_http() {
        let dir = tempfile::tempdir().unwrap();
        let s = load(&[], dir.path()).unwrap();
        assert!(s.local_only && !s.production_checked() && !s.dev_sign_in);
        for url in ["http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:8080"] {
            let s = load(&[("TIKETHET_PUBLIC_URL", url), ("TIKETHET_DEV_SIGN_IN", "on")], dir.path()).unwrap();
            assert!(s.dev_sign_in && s.local_only, "{url}");
        }
        let err = format!("{:#}", load(&[("TIKETHET_DEV_SIGN_IN", "yes")], dir.path()).unwrap_err());
        assert!(err.contains("TIKETHET_DEV_SIGN_IN must be on or off"), "{err}");
    }

    #[test]
    fn debug_hides_passwords_and_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let s = load(
            &[
                ("TIKETHET_DATABASE_URL", "postgres://app:pg-pass-123@db.internal/tikethet"),
                ("TIKETHET_REDIS_URL", "redis://:redis-pass-456@cache.internal:6379"),
                ("TIKETHET_JWT_SECRET", &"j".repeat(40)),
            ],
            dir.path(),
        )
        .unwrap();
        let shown = format!("{s:?}");
        for secret in ["pg-pass-123", "redis-pass-456", &"j".repeat(40), s.operator_token.expose().as_str()] {
            assert!(!shown.contains(secret), "{secret} printed in {shown}");
        }
        assert!(shown.contains("db.internal") && shown.contains("cache.internal"), "{shown}");
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (k, v) in [
            ("TIKETHET_MASTER_KEY", "short"),
            ("TIKETHET_LISTEN", "localhost"),
            ("TIKETHET_PUBLIC_URL", "ftp://x"),
            ("TIKETHET_DATABASE_URL", "mysql://x"),
            ("TIKETHET_ENV", "staging"),
            ("TIKETHET_RETAIN_INBOX_DAYS", "0"),
            ("TIKETHET_RETAIN_SESSIONS_DAYS", "soon"),
        ] {
            let err = format!("{:#}", load(&[(k, v)], dir.path()).unwrap_err());
            assert!(err.contains(k), "{k}: {err}");
        }
    }
}
