//! The one typed configuration, read once at start-up from the environment and `./.env`.
//!
//! Nothing else in the crate calls `std::env`. Every variable is parsed here, and a bad value
//! becomes a [`ConfigError`] naming the variable, so start-up fails with one clear line.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::clock::Clock;
use crate::domain::lockout::LockoutPolicy;
use crate::domain::{Algorithm, TenantSlug};
use crate::store::StoreUrl;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// At most `max` requests per `window` (per client address), written `MAX/SECONDS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

impl RateLimit {
    /// `max` per `secs` seconds.
    pub const fn per(max: u32, secs: u64) -> Self {
        Self {
            max,
            window: Duration::from_secs(secs),
        }
    }
}

/// A configuration variable with a value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// Everything latchkey reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`: `rocksdb://PATH` (default), `mem://` or `ws://HOST:PORT`.
    pub database: StoreUrl,
    /// `DATABASE_USER` / `DATABASE_PASSWORD`: root credentials for a `ws://` server.
    pub database_credentials: Option<(String, SecretString)>,
    /// `SECRET_KEY`: the master secret signing keys and token hashes are derived from.
    pub secret_key: SecretString,
    /// True when `SECRET_KEY` was not set and a development key was generated or reused.
    pub secret_key_is_dev: bool,
    /// `ALGORITHM`: signing algorithm for newly generated tenant keys.
    pub algorithm: Algorithm,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_EXPIRE_DAYS`: sliding lifetime of a refresh token.
    pub refresh_token_ttl: Duration,
    /// `SESSION_MAX_LIFETIME_DAYS`: absolute lifetime of a session, however often refreshed.
    pub session_max_lifetime: Duration,
    /// `PUBLIC_URL`: the externally visible base URL, without trailing slash.
    pub public_url: String,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `DEFAULT_TENANT`: the tenant behind `/graphql` and `/api/auth/*`.
    pub default_tenant: TenantSlug,
    /// `ADMIN_API_KEY`: enables the platform API when set.
    pub admin_api_key: Option<SecretString>,
    /// `CORS_ORIGINS`: comma-separated allowed origins (`*` for any); empty: no CORS.
    pub cors_origins: Vec<String>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `GRAPHQL_INTROSPECTION`: whether `__schema` queries are answered.
    pub graphql_introspection: bool,
    /// `HASH_CONCURRENCY`: argon2 hashes run at once (default: the number of cores).
    pub hash_concurrency: usize,
    /// `HASH_QUEUE`: hash requests allowed to wait before new ones are refused.
    pub hash_queue: usize,
    /// `HASH_QUEUE_PER_TENANT`: hash requests one tenant may have waiting before its new ones
    /// are told to retry later (default: half of `HASH_QUEUE`, so one tenant cannot fill it).
    pub hash_queue_per_tenant: usize,
    /// `SERVE_EXAMPLES`: serve `examples/login.html` at `/examples/login.html`.
    pub serve_examples: bool,
    /// `SMTP_URL`: `smtp://[user:pass@]host:port` (add `?tls=required` for STARTTLS) or
    /// `smtps://...`; unset: mail is written to the log, marked as not sent.
    pub smtp_url: Option<SecretString>,
    /// `MAIL_FROM`: the sender mailbox, e.g. `latchkey <no-reply@example.com>`.
    pub mail_from: String,
    /// `PASSWORD_RESET_EXPIRE_MINUTES`: lifetime of a reset link.
    pub reset_token_ttl: Duration,
    /// `EMAIL_VERIFY_EXPIRE_HOURS`: lifetime of a verification link.
    pub verify_token_ttl: Duration,
    /// `REQUIRE_VERIFIED_EMAIL`: default for tenants that do not set it: refuse login until
    /// the address is confirmed.
    pub require_verified_email: bool,
    /// `TENANT_IDLE_SECONDS`: a tenant unused this long has its actor and caches dropped.
    pub tenant_idle: Duration,
    /// `CACHE_MAX_AGE_SECONDS`: no cached session or user is served after this long, whatever
    /// invalidated it or failed to (the safety net under the exact invalidation).
    pub cache_max_age: Duration,
    /// `CHANGE_FEED_POLL_MS`: how often a node reads the change feed of each tenant it has
    /// loaded, and the platform's, on a shared SurrealDB (default 200): the delay before a
    /// change made through another node is enforced here, against one small read per loaded
    /// tenant per period.
    pub change_feed_poll: Duration,
    /// `LIVE_QUERIES`: besides the change feeds, take `LIVE SELECT` notifications as a faster
    /// hint (default false). SurrealDB hears LIVE queries only for writes made through the
    /// same server process, so with several processes (over TiKV) they add nothing; and the
    /// SDK (3.3.5) fails to end a tenant's live queries when it is evicted (it sends the KILL
    /// on a fresh, unauthenticated session: "Anonymous access not allowed"), so the server
    /// keeps them until the connection closes. Correctness rests on the feeds either way.
    pub live_queries: bool,
    /// `OUTBOUND_ALLOW_PRIVATE_NETWORKS`: let the server call loopback, private, link-local and
    /// metadata addresses, and plain http, when fetching URLs tenant admins configure (upstream
    /// identity providers). Off by default: those URLs are chosen by tenant admins, and a
    /// server that fetches them is otherwise a way into the operator's own network (SSRF).
    pub outbound_allow_private_networks: bool,
    /// `OUTBOX_CLAIM_SECONDS`: how long a node's claim on a queued mail lasts. Several nodes
    /// on one SurrealDB server send a row only once they hold its claim; a node that dies
    /// mid-send leaves the row to another once the claim lapses (it is looked for at half
    /// this period).
    pub outbox_claim: Duration,
    /// `TRUSTED_PROXIES`: peers whose first `X-Forwarded-For` hop is taken as the client
    /// address. Empty (default): the TCP peer is the client, whatever headers say.
    pub trusted_proxies: Vec<IpAddr>,
    /// `LOGIN_LOCKOUT_THRESHOLD`, `LOGIN_LOCKOUT_BASE_SECONDS`, `LOGIN_LOCKOUT_MAX_SECONDS`:
    /// per-account lockout after consecutive failures.
    pub lockout: LockoutPolicy,
    /// `LOGIN_FAILURES_PER_ADDRESS`: failed logins allowed per client address per window.
    pub login_failures_per_address: RateLimit,
    /// `RATE_LIMIT_LOGIN`: login requests per client address per window.
    pub rate_limit_login: RateLimit,
    /// `RATE_LIMIT_REGISTER`: registrations per client address per window.
    pub rate_limit_register: RateLimit,
    /// `RATE_LIMIT_PASSWORD_RESET`: reset requests per client address per window.
    pub rate_limit_password_reset: RateLimit,
    /// The clock; not an environment variable (tests move it forward).
    pub clock: Clock,
}

/// Every environment variable latchkey reads. The parser may read no other (checked in debug
/// builds), and docker/compose.yml may set no other (tests/api/docker.rs).
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_USER",
    "DATABASE_PASSWORD",
    "SECRET_KEY",
    "ALGORITHM",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "REFRESH_TOKEN_EXPIRE_DAYS",
    "SESSION_MAX_LIFETIME_DAYS",
    "PUBLIC_URL",
    "BIND_ADDR",
    "DEFAULT_TENANT",
    "ADMIN_API_KEY",
    "CORS_ORIGINS",
    "LOG_FORMAT",
    "GRAPHQL_INTROSPECTION",
    "HASH_CONCURRENCY",
    "HASH_QUEUE",
    "HASH_QUEUE_PER_TENANT",
    "SERVE_EXAMPLES",
    "SMTP_URL",
    "MAIL_FROM",
    "PASSWORD_RESET_EXPIRE_MINUTES",
    "EMAIL_VERIFY_EXPIRE_HOURS",
    "REQUIRE_VERIFIED_EMAIL",
    "TENANT_IDLE_SECONDS",
    "CACHE_MAX_AGE_SECONDS",
    "CHANGE_FEED_POLL_MS",
    "LIVE_QUERIES",
    "OUTBOUND_ALLOW_PRIVATE_NETWORKS",
    "OUTBOX_CLAIM_SECONDS",
    "TRUSTED_PROXIES",
    "LOGIN_LOCKOUT_THRESHOLD",
    "LOGIN_LOCKOUT_BASE_SECONDS",
    "LOGIN_LOCKOUT_MAX_SECONDS",
    "LOGIN_FAILURES_PER_ADDRESS",
    "RATE_LIMIT_LOGIN",
    "RATE_LIMIT_REGISTER",
    "RATE_LIMIT_PASSWORD_RESET",
    // Read by tracing's EnvFilter in main, not by this parser.
    "RUST_LOG",
];

/// Most request bodies are a few hundred bytes; 1 MiB leaves room for large GraphQL documents.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

const DEFAULT_DATABASE_URL: &str = "rocksdb://./data/latchkey.db";
const DEV_SECRET_FILE: &str = "./data/dev-secret-key";

/// A secret a CLI command takes through the environment variable the operator named (never
/// through argv, which other users of the machine can read), as set; empty when unset. The
/// one reading of the environment besides [`Config::from_env`].
pub fn secret_from_env(name: &str) -> SecretString {
    SecretString::from(std::env::var(name).unwrap_or_default())
}

/// The directory for a command's scratch files (`TMPDIR`, else the platform's default).
pub fn temp_dir() -> PathBuf {
    std::env::temp_dir()
}

impl Config {
    /// Reads the process environment, with `./.env` filling in variables the environment lacks.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Ok(iter) = dotenvy::from_path_iter(Path::new(".env")) {
            for (k, v) in iter.flatten() {
                vars.insert(k, v);
            }
        }
        // Real environment wins over .env, as with every dotenv implementation.
        vars.extend(std::env::vars());
        Self::from_vars(vars)
    }

    /// Parses configuration from explicit name/value pairs; unnamed variables take defaults.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        let get = |name: &str| {
            // Every name read here is listed in VARIABLES, which deployment files are
            // checked against (tests/api/docker.rs).
            debug_assert!(
                VARIABLES.contains(&name),
                "{name} is missing from VARIABLES"
            );
            vars.get(name).map(|v| v.trim().to_string())
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let database =
            StoreUrl::parse(&database_url).map_err(|e| err("DATABASE_URL", &e.to_string()))?;
        if let StoreUrl::SurrealKv { path, .. } = &database {
            // SurrealKV 0.21.4, the version SurrealDB 3.3.5 ships, loses acknowledged writes
            // (a commit that rotates the memtable is dropped with the old WAL segment; a torn
            // record after a full disk drops every later commit). Serving from it would break
            // "acknowledged means durable"; it stays readable for the one-time copy.
            return Err(err(
                "DATABASE_URL",
                &format!(
                    "surrealkv:// is no longer served (SurrealKV 0.21.4 loses acknowledged writes); copy it once with `latchkey store copy --from surrealkv://{path} --to rocksdb://{target}` and set DATABASE_URL=rocksdb://{target}",
                    target = crate::store::engine::copy_target(path)
                ),
            ));
        }
        let database_credentials = match (get("DATABASE_USER"), get("DATABASE_PASSWORD")) {
            (Some(u), Some(p)) => Some((u, SecretString::from(p))),
            (None, None) => None,
            (Some(_), None) => return Err(err("DATABASE_PASSWORD", "required with DATABASE_USER")),
            (None, Some(_)) => return Err(err("DATABASE_USER", "required with DATABASE_PASSWORD")),
        };

        let (secret_key, secret_key_is_dev) = match get("SECRET_KEY") {
            Some(k) if k.chars().count() >= 32 => (SecretString::from(k), false),
            Some(_) => {
                return Err(err(
                    "SECRET_KEY",
                    "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
                ));
            }
            None => (dev_secret_key()?, true),
        };

        let algorithm = match get("ALGORITHM") {
            None => Algorithm::EdDSA,
            Some(a) => Algorithm::parse(&a)
                .ok_or_else(|| err("ALGORITHM", "expected EdDSA, ES256 or HS256"))?,
        };
        let access_minutes = ranged(&get, "ACCESS_TOKEN_EXPIRE_MINUTES", 15, 1, 1440)?;
        let refresh_days = ranged(&get, "REFRESH_TOKEN_EXPIRE_DAYS", 30, 1, 365)?;
        let session_days = ranged(&get, "SESSION_MAX_LIFETIME_DAYS", 90, 1, 3650)?;
        if session_days < refresh_days {
            return Err(err(
                "SESSION_MAX_LIFETIME_DAYS",
                "must be at least REFRESH_TOKEN_EXPIRE_DAYS",
            ));
        }

        let public_url = get("PUBLIC_URL").unwrap_or_else(|| "http://localhost:8000".into());
        let parsed = url::Url::parse(&public_url)
            .map_err(|e| err("PUBLIC_URL", &format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(err("PUBLIC_URL", "expected an http:// or https:// URL"));
        }
        let public_url = public_url.trim_end_matches('/').to_string();

        let bind_addr = get("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8000".into())
            .parse()
            .map_err(|_| err("BIND_ADDR", "expected HOST:PORT, e.g. 0.0.0.0:8000"))?;

        let default_tenant = TenantSlug::parse(&get("DEFAULT_TENANT").unwrap_or("default".into()))
            .map_err(|_| {
                err(
                    "DEFAULT_TENANT",
                    "expected a slug matching ^[a-z0-9][a-z0-9-]{1,62}$",
                )
            })?;

        let admin_api_key = match get("ADMIN_API_KEY") {
            None => None,
            Some(k) if k.len() >= 16 => Some(SecretString::from(k)),
            Some(_) => return Err(err("ADMIN_API_KEY", "must be at least 16 characters")),
        };

        let cors_origins = get("CORS_ORIGINS")
            .map(|s| {
                s.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for o in &cors_origins {
            if o != "*" && url::Url::parse(o).is_err() {
                return Err(err("CORS_ORIGINS", &format!("`{o}` is not an origin URL")));
            }
        }

        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(err("LOG_FORMAT", "expected pretty or json")),
        };
        let graphql_introspection = boolean(&get, "GRAPHQL_INTROSPECTION", true)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hash_concurrency = ranged(&get, "HASH_CONCURRENCY", cores as u64, 1, 256)? as usize;
        let hash_queue = ranged(&get, "HASH_QUEUE", 1024, 1, 1_000_000)? as usize;
        let hash_queue_per_tenant = ranged(
            &get,
            "HASH_QUEUE_PER_TENANT",
            (hash_queue as u64 / 2).max(1),
            1,
            1_000_000,
        )? as usize;
        let serve_examples = boolean(&get, "SERVE_EXAMPLES", false)?;

        let smtp_url = match get("SMTP_URL") {
            None => None,
            Some(u) if u.starts_with("smtp://") || u.starts_with("smtps://") => {
                let parsed = url::Url::parse(&u)
                    .map_err(|e| err("SMTP_URL", &format!("not a URL ({e})")))?;
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(err("SMTP_URL", "names no host"));
                }
                Some(SecretString::from(u))
            }
            Some(_) => {
                return Err(err(
                    "SMTP_URL",
                    "expected smtp://HOST:PORT or smtps://HOST:PORT",
                ));
            }
        };
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| "latchkey <no-reply@localhost>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err()
            || mail_from.chars().any(char::is_control)
        {
            return Err(err(
                "MAIL_FROM",
                "expected a mailbox like `Name <address@example.com>`",
            ));
        }
        let reset_minutes = ranged(&get, "PASSWORD_RESET_EXPIRE_MINUTES", 30, 5, 1440)?;
        let verify_hours = ranged(&get, "EMAIL_VERIFY_EXPIRE_HOURS", 24, 1, 720)?;
        let require_verified_email = boolean(&get, "REQUIRE_VERIFIED_EMAIL", false)?;

        let trusted_proxies = match get("TRUSTED_PROXIES") {
            None => vec![],
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<IpAddr>().map_err(|_| {
                        err(
                            "TRUSTED_PROXIES",
                            &format!("`{p}` is not an IP address (list proxies' addresses, comma-separated)"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let defaults = LockoutPolicy::default();
        let lockout = LockoutPolicy {
            threshold: ranged(
                &get,
                "LOGIN_LOCKOUT_THRESHOLD",
                defaults.threshold.into(),
                1,
                100,
            )? as u32,
            base: Duration::from_secs(ranged(
                &get,
                "LOGIN_LOCKOUT_BASE_SECONDS",
                defaults.base.as_secs(),
                1,
                3600,
            )?),
            max: Duration::from_secs(ranged(
                &get,
                "LOGIN_LOCKOUT_MAX_SECONDS",
                defaults.max.as_secs(),
                1,
                86_400,
            )?),
        };
        if lockout.max < lockout.base {
            return Err(err(
                "LOGIN_LOCKOUT_MAX_SECONDS",
                "must be at least LOGIN_LOCKOUT_BASE_SECONDS",
            ));
        }
        // Defaults: generous for people behind one NAT, tight for a script.
        let login_failures_per_address = rate_limit(
            &get,
            "LOGIN_FAILURES_PER_ADDRESS",
            RateLimit::per(100, 15 * 60),
        )?;
        let rate_limit_login = rate_limit(&get, "RATE_LIMIT_LOGIN", RateLimit::per(100, 60))?;
        let rate_limit_register =
            rate_limit(&get, "RATE_LIMIT_REGISTER", RateLimit::per(60, 10 * 60))?;
        let rate_limit_password_reset = rate_limit(
            &get,
            "RATE_LIMIT_PASSWORD_RESET",
            RateLimit::per(10, 15 * 60),
        )?;

        let tenant_idle_secs = ranged(&get, "TENANT_IDLE_SECONDS", 300, 1, 86_400)?;
        let cache_max_age_secs = ranged(&get, "CACHE_MAX_AGE_SECONDS", 60, 1, 3600)?;
        let change_feed_poll_ms = ranged(&get, "CHANGE_FEED_POLL_MS", 200, 10, 60_000)?;
        let live_queries = boolean(&get, "LIVE_QUERIES", false)?;
        let outbound_allow_private_networks =
            boolean(&get, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", false)?;
        let outbox_claim_secs = ranged(&get, "OUTBOX_CLAIM_SECONDS", 60, 2, 3600)?;

        Ok(Config {
            tenant_idle: Duration::from_secs(tenant_idle_secs),
            cache_max_age: Duration::from_secs(cache_max_age_secs),
            change_feed_poll: Duration::from_millis(change_feed_poll_ms),
            live_queries,
            outbound_allow_private_networks,
            outbox_claim: Duration::from_secs(outbox_claim_secs),
            trusted_proxies,
            lockout,
            login_failures_per_address,
            rate_limit_login,
            rate_limit_register,
            rate_limit_password_reset,
            smtp_url,
            mail_from,
            reset_token_ttl: Duration::from_secs(reset_minutes * 60),
            verify_token_ttl: Duration::from_secs(verify_hours * 3600),
            require_verified_email,
            database,
            database_credentials,
            secret_key,
            secret_key_is_dev,
            algorithm,
            access_token_ttl: Duration::from_secs(access_minutes * 60),
            refresh_token_ttl: Duration::from_secs(refresh_days * 86_400),
            session_max_lifetime: Duration::from_secs(session_days * 86_400),
            public_url,
            bind_addr,
            default_tenant,
            admin_api_key,
            cors_origins,
            log_format,
            graphql_introspection,
            hash_concurrency,
            hash_queue,
            hash_queue_per_tenant,
            serve_examples,
            clock: Clock::system(),
        })
    }
}

fn err(var: &'static str, message: &str) -> ConfigError {
    ConfigError {
        var,
        message: message.to_string(),
    }
}

/// `var` read by `parse`, or `default` when unset: the path every typed variable shares, so
/// each refusal is an error naming the variable with the message `parse` gives.
fn typed<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    parse: impl FnOnce(String) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => parse(v).map_err(|message| err(var, &message)),
    }
}

fn ranged(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    typed(get, var, default, |v| match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{v}` is not a whole number between {min} and {max}"
        )),
    })
}

fn rate_limit(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: RateLimit,
) -> Result<RateLimit, ConfigError> {
    typed(get, var, default, |v| {
        let parsed = v.split_once('/').and_then(|(n, s)| {
            let n = n.trim().parse::<u32>().ok().filter(|n| *n >= 1)?;
            let s = s
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=86_400).contains(s))?;
            Some(RateLimit::per(n, s))
        });
        parsed.ok_or_else(|| {
            format!("`{v}` is not COUNT/SECONDS, e.g. 10/60 (count >= 1, 1..86400 seconds)")
        })
    })
}

fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    // The value is shown lower-cased in the refusal, as it is compared.
    typed(get, var, default, |v| {
        match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            v => Err(format!("`{v}` is not true or false")),
        }
    })
}

/// Development convenience: without `SECRET_KEY`, keep a random one under `./data` so tokens
/// and encrypted signing keys survive restarts. `main` logs a loud warning when this is used.
fn dev_secret_key() -> Result<SecretString, ConfigError> {
    let path = PathBuf::from(DEV_SECRET_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if existing.len() >= 32 {
            return Ok(SecretString::from(existing));
        }
    }
    let key = crate::domain::secrets::random_token_hex(32);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &key)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    };
    write().map_err(|e| {
        err(
            "SECRET_KEY",
            &format!("unset, and {DEV_SECRET_FILE} cannot be written: {e}"),
        )
    })?;
    Ok(SecretString::from(key))
}
