//! Typed configuration read from the environment once, at cold start.
//!
//! Every setting has one environment variable (the `calsync` command's flags set the same
//! variables' values), and a missing or malformed value fails start-up with a message that names
//! the variable and says what it expects, rather than failing later in a handler.

use std::{net::SocketAddr, path::PathBuf};

use secrecy::SecretString;

/// Where the process runs; decides which adapters `AppState` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// AWS Lambda: SQS, S3, Secrets Manager, PostgreSQL.
    Lambda,
    /// One local process: in-process queue, a directory for blobs, a key file, SQLite by default.
    Local,
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// Embedded SQLite file (created if missing).
    Sqlite { path: PathBuf },
    /// A PostgreSQL URL, password included when the server needs one.
    Postgres { url: SecretString },
    /// PostgreSQL through RDS Proxy with short-lived IAM auth tokens instead of a password.
    RdsIam { host: String, port: u16, user: String, database: String },
}

/// Where the credentials keyring comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringSource {
    /// A Secrets Manager secret (ARN or name) holding the keyring JSON.
    SecretsManager { secret_id: String },
    /// A local 0600 file, created with a fresh key on first start.
    File { path: PathBuf },
}

/// Which queue carries jobs between functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueConfig {
    Sqs { sync_queue_url: String, notify_queue_url: String },
    InProcess,
}

/// Where backups and other blobs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    S3 { bucket: String, kms_key_id: Option<String> },
    Directory { path: PathBuf },
}

/// Apple iCloud's CalDAV service.
pub const ICLOUD_CALDAV_URL: &str = "https://caldav.icloud.com";

/// The longest spread of scheduled jobs: SQS's longest message delay.
pub const MAX_JOB_SPREAD_SECS: u64 = 15 * 60;

/// The whole configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub database: DatabaseConfig,
    pub keyring: KeyringSource,
    pub queue: QueueConfig,
    pub blobs: BlobConfig,
    /// Base URL put into links (`next_page`, OAuth redirects), without a trailing slash.
    pub public_url: String,
    /// The domain of Smart Invite reply addresses (`invite+<token>@<domain>`); `None`: the
    /// public URL's host.
    pub smart_invite_reply_domain: Option<String>,
    /// Address `calsync serve` listens on (unused in Lambda).
    pub listen: SocketAddr,
    /// Local state directory: SQLite file, key file, blobs.
    pub data_dir: PathBuf,
    /// Bearer token for `/admin/v1`; admin routes answer 401 when unset. In Lambda it is read
    /// at start from the secret `admin_token_secret_id` names.
    pub admin_token: Option<SecretString>,
    pub admin_token_secret_id: Option<String>,
    /// The secret holding the providers' OAuth clients (`ProviderClients`), read at start.
    pub provider_secret_id: Option<String>,
    /// Push notifications may go to plain `http://` URLs (local development only).
    pub allow_http_callbacks: bool,
    /// Requests each application may make.
    pub rate_limits: RateLimits,
    /// What calsync may ask of one self-hosted calendar server (Exchange, CalDAV).
    pub server_budget: ServerBudget,
    /// Scheduled fan-outs (the calendar poll, the daily window advance) delay each job by a
    /// random part of this, so calendar servers see them spread out rather than all at once.
    pub job_spread: std::time::Duration,
    /// Where iCloud accounts' CalDAV service is (`https://caldav.icloud.com`).
    pub icloud_caldav_url: String,
    /// Google's endpoints (overridable for tests).
    pub google: GoogleEndpoints,
    /// A local install's Google OAuth client (Lambda reads it from the provider secret instead).
    pub google_client: Option<crate::providers::OAuthClient>,
    /// A local install's Google service account key file (Google's JSON key), for Enterprise
    /// Connect with domain-wide delegation; Lambda reads the key from the provider secret.
    pub google_service_account_file: Option<PathBuf>,
    /// Microsoft's endpoints (overridable for tests).
    pub microsoft: MicrosoftEndpoints,
    /// A local install's Microsoft OAuth client (Lambda reads it from the provider secret instead).
    pub microsoft_client: Option<crate::providers::OAuthClient>,
}

/// Where Google's identity platform and Calendar API are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEndpoints {
    pub authorize_url: String,
    pub token_url: String,
    pub api_url: String,
}

impl Default for GoogleEndpoints {
    fn default() -> Self {
        use crate::providers::{google::client::API_URL, oauth};
        Self {
            authorize_url: oauth::GOOGLE_AUTHORIZE_URL.into(),
            token_url: oauth::GOOGLE_TOKEN_URL.into(),
            api_url: API_URL.into(),
        }
    }
}

/// Where Microsoft's identity platform (the `common` tenant: work and personal accounts) and
/// Graph are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicrosoftEndpoints {
    pub authorize_url: String,
    pub token_url: String,
    pub graph_url: String,
}

impl Default for MicrosoftEndpoints {
    fn default() -> Self {
        use crate::providers::{graph::client::GRAPH_URL, oauth};
        Self {
            authorize_url: oauth::MICROSOFT_AUTHORIZE_URL.into(),
            token_url: oauth::MICROSOFT_TOKEN_URL.into(),
            graph_url: GRAPH_URL.into(),
        }
    }
}

/// Fairness to one self-hosted calendar server: how many jobs may talk to it at once, and how
/// many requests they may send it per minute (a job that would start over budget waits for the
/// next minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerBudget {
    pub concurrency: u32,
    pub requests_per_minute: u32,
}

impl Default for ServerBudget {
    fn default() -> Self {
        Self { concurrency: 4, requests_per_minute: 600 }
    }
}

/// Per-application request budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_second: u32,
    pub per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { per_second: 50, per_minute: 500 }
    }
}

/// A configuration value that is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self { variable, problem: problem.into() }
    }
}

/// Every environment variable the configuration reads (a test checks this list against the code,
/// and the template test checks the template against it).
pub const VARIABLES: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API",
    "CALSYNC_ADMIN_TOKEN",
    "CALSYNC_ADMIN_TOKEN_SECRET_ID",
    "CALSYNC_ALLOW_HTTP_CALLBACKS",
    "CALSYNC_BACKUP_BUCKET",
    "CALSYNC_BACKUP_KMS_KEY_ID",
    "CALSYNC_DATABASE_URL",
    "CALSYNC_DATA_DIR",
    "CALSYNC_DB_HOST",
    "CALSYNC_DB_NAME",
    "CALSYNC_DB_PORT",
    "CALSYNC_DB_USER",
    "CALSYNC_GOOGLE_API_URL",
    "CALSYNC_GOOGLE_AUTHORIZE_URL",
    "CALSYNC_GOOGLE_CLIENT_ID",
    "CALSYNC_GOOGLE_CLIENT_SECRET",
    "CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE",
    "CALSYNC_GOOGLE_TOKEN_URL",
    "CALSYNC_ICLOUD_CALDAV_URL",
    "CALSYNC_JOB_SPREAD_SECONDS",
    "CALSYNC_KEYRING_FILE",
    "CALSYNC_KEYRING_SECRET_ID",
    "CALSYNC_LISTEN",
    "CALSYNC_MICROSOFT_AUTHORIZE_URL",
    "CALSYNC_MICROSOFT_CLIENT_ID",
    "CALSYNC_MICROSOFT_CLIENT_SECRET",
    "CALSYNC_MICROSOFT_GRAPH_URL",
    "CALSYNC_MICROSOFT_TOKEN_URL",
    "CALSYNC_MODE",
    "CALSYNC_NOTIFY_QUEUE_URL",
    "CALSYNC_PROVIDER_SECRET_ID",
    "CALSYNC_PUBLIC_URL",
    "CALSYNC_RATE_LIMIT_PER_MINUTE",
    "CALSYNC_RATE_LIMIT_PER_SECOND",
    "CALSYNC_SERVER_CONCURRENCY",
    "CALSYNC_SERVER_REQUESTS_PER_MINUTE",
    "CALSYNC_SMART_INVITE_REPLY_DOMAIN",
    "CALSYNC_SYNC_QUEUE_URL",
];

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = ".calsync";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mode = match lookup("CALSYNC_MODE").as_deref() {
            Some("lambda") => Mode::Lambda,
            Some("local") => Mode::Local,
            Some(other) => {
                return Err(ConfigError::new("CALSYNC_MODE", format!("must be `lambda` or `local`, not `{other}`")));
            }
            // Lambda (and `cargo lambda watch`) set AWS_LAMBDA_RUNTIME_API; anything else is local.
            None if lookup("AWS_LAMBDA_RUNTIME_API").is_some() => Mode::Lambda,
            None => Mode::Local,
        };

        let data_dir = PathBuf::from(lookup("CALSYNC_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into()));
        let listen_raw = lookup("CALSYNC_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            ConfigError::new("CALSYNC_LISTEN", format!("must be an address like 127.0.0.1:8080, not `{listen_raw}`"))
        })?;

        let database = database_config(&lookup, mode, &data_dir)?;
        let keyring = match (lookup("CALSYNC_KEYRING_SECRET_ID"), lookup("CALSYNC_KEYRING_FILE")) {
            (Some(secret_id), None) => KeyringSource::SecretsManager { secret_id },
            (None, Some(path)) => KeyringSource::File { path: path.into() },
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "CALSYNC_KEYRING_SECRET_ID",
                    "and CALSYNC_KEYRING_FILE are both set; set one",
                ));
            }
            (None, None) if mode == Mode::Local => KeyringSource::File { path: data_dir.join("keyring.json") },
            (None, None) => {
                return Err(ConfigError::new(
                    "CALSYNC_KEYRING_SECRET_ID",
                    "is required in Lambda (the keyring secret's ARN)",
                ));
            }
        };

        let queue = match (lookup("CALSYNC_SYNC_QUEUE_URL"), lookup("CALSYNC_NOTIFY_QUEUE_URL")) {
            (Some(sync_queue_url), Some(notify_queue_url)) => QueueConfig::Sqs { sync_queue_url, notify_queue_url },
            (None, None) if mode == Mode::Local => QueueConfig::InProcess,
            (None, _) => {
                return Err(ConfigError::new(
                    "CALSYNC_SYNC_QUEUE_URL",
                    "is required with CALSYNC_NOTIFY_QUEUE_URL and in Lambda",
                ));
            }
            (_, None) => {
                return Err(ConfigError::new(
                    "CALSYNC_NOTIFY_QUEUE_URL",
                    "is required with CALSYNC_SYNC_QUEUE_URL and in Lambda",
                ));
            }
        };

        let blobs = match lookup("CALSYNC_BACKUP_BUCKET") {
            Some(bucket) => BlobConfig::S3 { bucket, kms_key_id: lookup("CALSYNC_BACKUP_KMS_KEY_ID") },
            None if mode == Mode::Local => BlobConfig::Directory { path: data_dir.join("blobs") },
            None => {
                return Err(ConfigError::new(
                    "CALSYNC_BACKUP_BUCKET",
                    "is required in Lambda (the backup bucket's name)",
                ));
            }
        };

        let public_url = match lookup("CALSYNC_PUBLIC_URL") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                return Err(ConfigError::new(
                    "CALSYNC_PUBLIC_URL",
                    format!("must start with https:// or http://, not `{url}`"),
                ));
            }
            None if mode == Mode::Local => format!("http://{listen}"),
            None => return Err(ConfigError::new("CALSYNC_PUBLIC_URL", "is required in Lambda (the API's base URL)")),
        };

        let smart_invite_reply_domain = match lookup("CALSYNC_SMART_INVITE_REPLY_DOMAIN") {
            None => None,
            Some(domain)
                if !domain.is_empty() && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') =>
            {
                Some(domain.to_ascii_lowercase())
            }
            Some(domain) => {
                return Err(ConfigError::new(
                    "CALSYNC_SMART_INVITE_REPLY_DOMAIN",
                    format!("must be a domain name, not `{domain}`"),
                ));
            }
        };

        let allow_http_callbacks = match lookup("CALSYNC_ALLOW_HTTP_CALLBACKS").as_deref() {
            None => mode == Mode::Local,
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "CALSYNC_ALLOW_HTTP_CALLBACKS",
                    format!("must be true or false, not `{other}`"),
                ));
            }
        };

        let number = |variable: &'static str, default: u32| -> Result<u32, ConfigError> {
            match lookup(variable) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::new(variable, format!("must be a positive number, not `{v}`"))),
            }
        };
        let rate_limits = RateLimits {
            per_second: number("CALSYNC_RATE_LIMIT_PER_SECOND", RateLimits::default().per_second)?,
            per_minute: number("CALSYNC_RATE_LIMIT_PER_MINUTE", RateLimits::default().per_minute)?,
        };

        // SQS delays a message by at most 15 minutes.
        let budget = ServerBudget::default();
        let server_budget = ServerBudget {
            concurrency: number("CALSYNC_SERVER_CONCURRENCY", budget.concurrency)?,
            requests_per_minute: number("CALSYNC_SERVER_REQUESTS_PER_MINUTE", budget.requests_per_minute)?,
        };
        let job_spread = match lookup("CALSYNC_JOB_SPREAD_SECONDS") {
            None => std::time::Duration::from_secs(MAX_JOB_SPREAD_SECS),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_JOB_SPREAD_SECS)
                .map(std::time::Duration::from_secs)
                .ok_or_else(|| {
                    ConfigError::new(
                        "CALSYNC_JOB_SPREAD_SECONDS",
                        format!("must be a number of seconds from 0 to {MAX_JOB_SPREAD_SECS}, not `{v}`"),
                    )
                })?,
        };

        let icloud_caldav_url = match lookup("CALSYNC_ICLOUD_CALDAV_URL") {
            None => ICLOUD_CALDAV_URL.to_owned(),
            Some(url) if url.starts_with("https://") || (mode == Mode::Local && url.starts_with("http://")) => url,
            Some(url) => {
                return Err(ConfigError::new(
                    "CALSYNC_ICLOUD_CALDAV_URL",
                    format!("must be an https:// URL, not `{url}`"),
                ));
            }
        };

        // In Lambda anyone who can read the function's definition can read its environment, so
        // secrets come from Secrets Manager, named by ARN.
        let admin_token = lookup("CALSYNC_ADMIN_TOKEN").map(SecretString::from);
        let admin_token_secret_id = lookup("CALSYNC_ADMIN_TOKEN_SECRET_ID");
        if mode == Mode::Lambda && admin_token.is_some() {
            return Err(ConfigError::new(
                "CALSYNC_ADMIN_TOKEN",
                "must not be set in Lambda: put the token in Secrets Manager and set CALSYNC_ADMIN_TOKEN_SECRET_ID",
            ));
        }
        if admin_token.is_some() && admin_token_secret_id.is_some() {
            return Err(ConfigError::new(
                "CALSYNC_ADMIN_TOKEN",
                "and CALSYNC_ADMIN_TOKEN_SECRET_ID are both set; set one",
            ));
        }

        let endpoint = |variable: &'static str, default: String| -> Result<String, ConfigError> {
            match lookup(variable) {
                None => Ok(default),
                Some(url) if url.starts_with("https://") || (mode == Mode::Local && url.starts_with("http://")) => {
                    Ok(url.trim_end_matches('/').to_owned())
                }
                Some(url) => Err(ConfigError::new(variable, format!("must be an https:// URL, not `{url}`"))),
            }
        };
        let defaults = GoogleEndpoints::default();
        let google = GoogleEndpoints {
            authorize_url: endpoint("CALSYNC_GOOGLE_AUTHORIZE_URL", defaults.authorize_url)?,
            token_url: endpoint("CALSYNC_GOOGLE_TOKEN_URL", defaults.token_url)?,
            api_url: endpoint("CALSYNC_GOOGLE_API_URL", defaults.api_url)?,
        };
        let google_client =
            local_client(mode, var(&lookup, "CALSYNC_GOOGLE_CLIENT_ID"), var(&lookup, "CALSYNC_GOOGLE_CLIENT_SECRET"))?;
        let google_service_account_file = match lookup("CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE") {
            Some(_) if mode == Mode::Lambda => {
                return Err(ConfigError::new(
                    "CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE",
                    "must not be set in Lambda: put the key in the provider secret (CALSYNC_PROVIDER_SECRET_ID) as \
                     `google_service_account`",
                ));
            }
            path => path.map(PathBuf::from),
        };
        let defaults = MicrosoftEndpoints::default();
        let microsoft = MicrosoftEndpoints {
            authorize_url: endpoint("CALSYNC_MICROSOFT_AUTHORIZE_URL", defaults.authorize_url)?,
            token_url: endpoint("CALSYNC_MICROSOFT_TOKEN_URL", defaults.token_url)?,
            graph_url: endpoint("CALSYNC_MICROSOFT_GRAPH_URL", defaults.graph_url)?,
        };
        let microsoft_client = local_client(
            mode,
            var(&lookup, "CALSYNC_MICROSOFT_CLIENT_ID"),
            var(&lookup, "CALSYNC_MICROSOFT_CLIENT_SECRET"),
        )?;

        Ok(Self {
            google,
            google_client,
            google_service_account_file,
            microsoft,
            microsoft_client,
            admin_token_secret_id,
            provider_secret_id: lookup("CALSYNC_PROVIDER_SECRET_ID"),
            icloud_caldav_url,
            job_spread,
            mode,
            database,
            keyring,
            queue,
            blobs,
            public_url,
            smart_invite_reply_domain,
            listen,
            data_dir,
            admin_token,
            allow_http_callbacks,
            rate_limits,
            server_budget,
        })
    }
}

/// A variable's name with its value, for checks that name it.
fn var(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> (&'static str, Option<String>) {
    (name, lookup(name))
}

/// A local install's OAuth client from its id and secret variables: both or neither, and never
/// in Lambda, where client secrets come from the provider secret instead of the environment.
fn local_client(
    mode: Mode,
    (id_name, id): (&'static str, Option<String>),
    (secret_name, secret): (&'static str, Option<String>),
) -> Result<Option<crate::providers::OAuthClient>, ConfigError> {
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) if mode == Mode::Lambda => Err(ConfigError::new(
            secret_name,
            "must not be set in Lambda: put the client in the provider secret (CALSYNC_PROVIDER_SECRET_ID)",
        )),
        (Some(client_id), Some(secret)) => {
            Ok(Some(crate::providers::OAuthClient { client_id, client_secret: SecretString::from(secret) }))
        }
        (Some(_), None) => Err(ConfigError::new(secret_name, format!("is required with {id_name}"))),
        (None, Some(_)) => Err(ConfigError::new(id_name, format!("is required with {secret_name}"))),
    }
}

fn database_config(
    lookup: &impl Fn(&str) -> Option<String>,
    mode: Mode,
    data_dir: &std::path::Path,
) -> Result<DatabaseConfig, ConfigError> {
    if let Some(url) = lookup("CALSYNC_DATABASE_URL") {
        return parse_database_url(&url);
    }
    if let Some(host) = lookup("CALSYNC_DB_HOST") {
        let port = match lookup("CALSYNC_DB_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| ConfigError::new("CALSYNC_DB_PORT", format!("must be a port number, not `{p}`")))?,
            None => 5432,
        };
        let user = lookup("CALSYNC_DB_USER")
            .ok_or_else(|| ConfigError::new("CALSYNC_DB_USER", "is required with CALSYNC_DB_HOST"))?;
        let database = lookup("CALSYNC_DB_NAME")
            .ok_or_else(|| ConfigError::new("CALSYNC_DB_NAME", "is required with CALSYNC_DB_HOST"))?;
        return Ok(DatabaseConfig::RdsIam { host, port, user, database });
    }
    match mode {
        Mode::Local => Ok(DatabaseConfig::Sqlite { path: data_dir.join("calsync.db") }),
        Mode::Lambda => Err(ConfigError::new(
            "CALSYNC_DATABASE_URL",
            "is required in Lambda (or CALSYNC_DB_HOST, CALSYNC_DB_USER and CALSYNC_DB_NAME for RDS Proxy IAM auth)",
        )),
    }
}

/// Accepts `postgres://…`, `postgresql://…`, `sqlite://PATH` and `sqlite:PATH`.
pub fn parse_database_url(url: &str) -> Result<DatabaseConfig, ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DatabaseConfig::Postgres { url: SecretString::from(url.to_owned()) })
    } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(ConfigError::new(
                "CALSYNC_DATABASE_URL",
                "sqlite URL needs a file path, as in sqlite://.calsync/calsync.db",
            ));
        }
        Ok(DatabaseConfig::Sqlite { path: PathBuf::from(path) })
    } else {
        // The URL may hold a password: name only its scheme.
        let scheme = url.split(':').next().unwrap_or_default();
        Err(ConfigError::new(
            "CALSYNC_DATABASE_URL",
            format!("must start with postgres:// or sqlite://, not `{scheme}:`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    #[test]
    fn the_variables_list_names_exactly_what_the_configuration_reads() {
        let source = include_str!("config.rs");
        // Variables are read with `lookup("…")` or `var(&lookup, "…")`, numbers through
        // `number("…", default)` and URLs through `endpoint("…", default)`.
        let read: BTreeSet<&str> = ["lookup(\"", "number(\"", "endpoint(\"", "var(&lookup, \""]
            .iter()
            .flat_map(|call| source.split(call).skip(1))
            .filter_map(|rest| rest.split('"').next())
            .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        let listed: BTreeSet<&str> = super::VARIABLES.iter().copied().collect();
        assert_eq!(read, listed);
    }

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_smart_invite_reply_domain_must_be_a_domain_name() {
        assert_eq!(config(&[]).unwrap().smart_invite_reply_domain, None);
        let c = config(&[("CALSYNC_SMART_INVITE_REPLY_DOMAIN", "Invites.Example.com")]).unwrap();
        assert_eq!(c.smart_invite_reply_domain.as_deref(), Some("invites.example.com"));
        let e = config(&[("CALSYNC_SMART_INVITE_REPLY_DOMAIN", "x@example.com")]).unwrap_err();
        assert!(e.to_string().contains("CALSYNC_SMART_INVITE_REPLY_DOMAIN"), "{e}");
    }

    #[test]
    fn an_empty_environment_gives_the_local_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.mode, Mode::Local);
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.queue, QueueConfig::InProcess);
        assert_eq!(c.keyring, KeyringSource::File { path: PathBuf::from(".calsync/keyring.json") });
        assert!(
            matches!(c.database, DatabaseConfig::Sqlite { ref path } if path == &PathBuf::from(".calsync/calsync.db"))
        );
        assert!(c.allow_http_callbacks);
    }

    #[test]
    fn scheduled_jobs_spread_over_fifteen_minutes_unless_configured_within_that() {
        assert_eq!(config(&[]).unwrap().job_spread, std::time::Duration::from_secs(900));
        let none = config(&[("CALSYNC_JOB_SPREAD_SECONDS", "0")]).unwrap();
        assert_eq!(none.job_spread, std::time::Duration::ZERO);
        let err = config(&[("CALSYNC_JOB_SPREAD_SECONDS", "901")]).unwrap_err();
        assert_eq!(err.variable, "CALSYNC_JOB_SPREAD_SECONDS");
        assert_eq!(err.problem, "must be a number of seconds from 0 to 900, not `901`");
    }

    #[test]
    fn lambda_without_a_database_fails_naming_the_variable() {
        let err = config(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")]).unwrap_err();
        assert_eq!(err.variable, "CALSYNC_DATABASE_URL");
    }

    #[test]
    fn lambda_with_everything_set_uses_the_aws_adapters() {
        let c = config(&[
            ("CALSYNC_MODE", "lambda"),
            ("CALSYNC_DB_HOST", "proxy.example"),
            ("CALSYNC_DB_USER", "calsync"),
            ("CALSYNC_DB_NAME", "calsync"),
            ("CALSYNC_KEYRING_SECRET_ID", "arn:aws:secretsmanager:eu-west-1:1:secret:k"),
            ("CALSYNC_SYNC_QUEUE_URL", "https://sqs/sync"),
            ("CALSYNC_NOTIFY_QUEUE_URL", "https://sqs/notify"),
            ("CALSYNC_BACKUP_BUCKET", "backups"),
            ("CALSYNC_PUBLIC_URL", "https://api.example/"),
        ])
        .unwrap();
        assert!(matches!(c.database, DatabaseConfig::RdsIam { port: 5432, .. }));
        assert_eq!(c.public_url, "https://api.example");
        assert!(!c.allow_http_callbacks);
        assert!(matches!(c.blobs, BlobConfig::S3 { .. }));
    }

    /// A complete Lambda configuration (the template's shape).
    const LAMBDA: &[(&str, &str)] = &[
        ("CALSYNC_MODE", "lambda"),
        ("CALSYNC_DB_HOST", "proxy.example"),
        ("CALSYNC_DB_USER", "calsync"),
        ("CALSYNC_DB_NAME", "calsync"),
        ("CALSYNC_KEYRING_SECRET_ID", "arn:k"),
        ("CALSYNC_SYNC_QUEUE_URL", "https://sqs/sync"),
        ("CALSYNC_NOTIFY_QUEUE_URL", "https://sqs/notify"),
        ("CALSYNC_BACKUP_BUCKET", "backups"),
        ("CALSYNC_PUBLIC_URL", "https://api.example"),
    ];

    #[test]
    fn lambda_takes_the_admin_token_from_a_secret_and_refuses_it_in_the_environment() {
        let with_secret = config(&[LAMBDA, &[("CALSYNC_ADMIN_TOKEN_SECRET_ID", "arn:admin")]].concat()).unwrap();
        assert_eq!(with_secret.admin_token_secret_id.as_deref(), Some("arn:admin"));
        assert!(with_secret.admin_token.is_none(), "read from the secret at start");

        let err = config(&[LAMBDA, &[("CALSYNC_ADMIN_TOKEN", "hunter2")]].concat()).unwrap_err();
        assert_eq!(err.variable, "CALSYNC_ADMIN_TOKEN");
        assert!(err.problem.contains("CALSYNC_ADMIN_TOKEN_SECRET_ID") && !err.problem.contains("hunter2"));
    }

    #[test]
    fn the_google_service_account_key_file_is_read_locally_and_refused_in_lambda() {
        let local = config(&[("CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE", "/etc/calsync/google-sa.json")]).unwrap();
        assert_eq!(local.google_service_account_file, Some(PathBuf::from("/etc/calsync/google-sa.json")));
        let lambda = [LAMBDA, &[("CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE", "/var/task/google-sa.json")]].concat();
        let err = config(&lambda).unwrap_err();
        assert_eq!(err.variable, "CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE");
        assert!(err.problem.contains("CALSYNC_PROVIDER_SECRET_ID"), "{err}");
    }

    #[test]
    fn a_malformed_database_url_names_the_scheme_but_not_the_password() {
        let err = config(&[("CALSYNC_DATABASE_URL", "mysql://u:hunter2@h/db")]).unwrap_err();
        assert_eq!(err.variable, "CALSYNC_DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn a_bad_listen_address_is_refused() {
        let err = config(&[("CALSYNC_LISTEN", "localhost")]).unwrap_err();
        assert_eq!(err.variable, "CALSYNC_LISTEN");
    }
}
