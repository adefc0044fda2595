//! Configuration: defaults < TOML file (`--config`; unknown keys are an error) < environment
//! (`WRIT_*`, listed in docs/configuration.md) < flags. Values are validated here, at start-up, with a
//! message naming the setting; secrets are held in [`Secret`] so they never reach a log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A string that prints as `***`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Bootstrap {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    pub signing_key_file: Option<PathBuf>,
    pub algorithm: String,
    pub api_lifetime: String,
    pub resource_lifetime: String,
    /// The sliding lifetime of people's refresh tokens (`WRIT_REFRESH_TOKEN_LIFETIME`).
    pub refresh_lifetime: String,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            algorithm: "ES256".into(),
            api_lifetime: "PT1H".into(),
            resource_lifetime: "PT10M".into(),
            refresh_lifetime: "P90D".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    pub secret: Secret,
    #[serde(default)]
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notifications {
    pub expiry_lead_times: String,
    pub webhooks: Vec<Webhook>,
    /// Attempts of one webhook delivery before it is dead-lettered.
    pub webhook_max_attempts: u32,
    pub smtp_url: Option<Secret>,
    pub smtp_from: Option<String>,
    /// PEM certificates trusted for the relay besides the platform's (a private CA).
    pub smtp_ca_file: Option<PathBuf>,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            expiry_lead_times: "P14D,P1D".into(),
            webhooks: Vec::new(),
            webhook_max_attempts: writ_domain::webhooks::DEFAULT_MAX_ATTEMPTS,
            smtp_url: None,
            smtp_from: None,
            smtp_ca_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Outbound {
    pub allow_hosts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    pub requests: String,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            requests: "P400D".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Jobs {
    /// How long a worker's claim on a job lasts: a job whose worker died is claimed again by
    /// another (or a restarted) worker once this has passed.
    pub lease: String,
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            lease: "PT60S".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Entitlement {
    /// The longest assignment that reaches an agent (a policy's expiration, a request's custom
    /// schedule, an extension).
    pub max_agent_access: String,
}

impl Default for Entitlement {
    fn default() -> Self {
        Self {
            max_agent_access: "P365D".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    /// A secret: PostgreSQL URLs carry passwords.
    pub database_url: Secret,
    pub public_url: Option<String>,
    pub tenant_id: Option<String>,
    /// `tracing` filter directives, e.g. `info` or `writ_server=debug,info`.
    pub log: String,
    /// `text` or `json`.
    pub log_format: String,
    pub bootstrap: Bootstrap,
    pub tokens: Tokens,
    pub notifications: Notifications,
    pub outbound: Outbound,
    pub retention: Retention,
    pub audit: Audit,
    pub jobs: Jobs,
    pub entitlement: Entitlement,
    // Issue 14's edge settings, kept together.
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// A second listener (`IP:port`) that serves `/metrics` instead of `listen`.
    pub metrics_listen: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: Secret("sqlite://writ.db".into()),
            public_url: None,
            tenant_id: None,
            log: "info".into(),
            log_format: "text".into(),
            bootstrap: Bootstrap::default(),
            tokens: Tokens::default(),
            notifications: Notifications::default(),
            outbound: Outbound::default(),
            retention: Retention::default(),
            audit: Audit::default(),
            jobs: Jobs::default(),
            entitlement: Entitlement::default(),
            trusted_proxies: Vec::new(),
            metrics_listen: None,
        }
    }
}

/// Environment variables and the setting each one sets.
const ENV_KEYS: &[(&str, &str)] = &[
    ("WRIT_LISTEN", "listen"),
    ("WRIT_DATABASE_URL", "database_url"),
    ("WRIT_PUBLIC_URL", "public_url"),
    ("WRIT_TENANT_ID", "tenant_id"),
    ("WRIT_LOG", "log"),
    ("WRIT_LOG_FORMAT", "log_format"),
    ("WRIT_BOOTSTRAP_CLIENT_ID", "bootstrap.client_id"),
    ("WRIT_BOOTSTRAP_CLIENT_SECRET", "bootstrap.client_secret"),
    ("WRIT_SIGNING_KEY_FILE", "tokens.signing_key_file"),
    ("WRIT_TOKEN_ALGORITHM", "tokens.algorithm"),
    ("WRIT_TOKEN_LIFETIME", "tokens.api_lifetime"),
    ("WRIT_RESOURCE_TOKEN_LIFETIME", "tokens.resource_lifetime"),
    ("WRIT_REFRESH_TOKEN_LIFETIME", "tokens.refresh_lifetime"),
    (
        "WRIT_EXPIRY_NOTICE_LEAD_TIMES",
        "notifications.expiry_lead_times",
    ),
    (
        "WRIT_WEBHOOK_MAX_ATTEMPTS",
        "notifications.webhook_max_attempts",
    ),
    ("WRIT_SMTP_URL", "notifications.smtp_url"),
    ("WRIT_SMTP_FROM", "notifications.smtp_from"),
    ("WRIT_SMTP_CA_FILE", "notifications.smtp_ca_file"),
    ("WRIT_RETENTION", "retention.requests"),
    ("WRIT_AUDIT_KEY_FILE", "audit.key_file"),
    ("WRIT_JOB_LEASE", "jobs.lease"),
    ("WRIT_MAX_AGENT_ACCESS", "entitlement.max_agent_access"),
    ("WRIT_METRICS_LISTEN", "metrics_listen"),
];

/// Environment variables holding comma-separated lists, and the setting each one sets.
const ENV_LISTS: &[(&str, &str)] = &[
    ("WRIT_OUTBOUND_ALLOW_HOSTS", "outbound.allow_hosts"),
    ("WRIT_TRUSTED_PROXIES", "trusted_proxies"),
];

/// Flags given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub database: Option<String>,
}

fn nested(path: &str, value: serde_json::Value) -> serde_json::Value {
    path.rsplit('.')
        .fold(value, |inner, key| serde_json::json!({ key: inner }))
}

fn merge_json(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge_json(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

/// The settings found in `env` (a snapshot of the environment, for testability).
fn from_env(env: &BTreeMap<String, String>) -> Result<serde_json::Value, String> {
    let mut out = serde_json::json!({});
    for (var, key) in ENV_KEYS {
        if let Some(value) = env.get(*var) {
            merge_json(
                &mut out,
                nested(key, serde_json::Value::from(value.clone())),
            );
        }
    }
    for (var, key) in ENV_LISTS {
        if let Some(list) = env.get(*var) {
            let items: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect();
            merge_json(&mut out, nested(key, serde_json::json!(items)));
        }
    }
    match (env.get("WRIT_WEBHOOK_URL"), env.get("WRIT_WEBHOOK_SECRET")) {
        (Some(url), Some(secret)) => merge_json(
            &mut out,
            nested(
                "notifications.webhooks",
                serde_json::json!([{ "url": url, "secret": secret }]),
            ),
        ),
        (None, None) => {}
        _ => return Err("WRIT_WEBHOOK_URL and WRIT_WEBHOOK_SECRET must be set together".into()),
    }
    Ok(out)
}

/// Environment variables that look like Writ's but are not: probably typos.
pub fn unknown_env_vars(env: &BTreeMap<String, String>) -> Vec<String> {
    env.keys()
        .filter(|k| k.starts_with("WRIT_") && !k.starts_with("WRIT_TEST_"))
        .filter(|k| {
            !ENV_KEYS.iter().chain(ENV_LISTS).any(|(v, _)| v == k)
                && !matches!(k.as_str(), "WRIT_WEBHOOK_URL" | "WRIT_WEBHOOK_SECRET")
        })
        .cloned()
        .collect()
}

/// Loads and validates the configuration.
pub fn load(flags: &Flags, env: &BTreeMap<String, String>) -> Result<Config, String> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &flags.config {
        if !path.exists() {
            return Err(format!(
                "configuration file {} does not exist",
                path.display()
            ));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(Serialized::defaults(from_env(env)?));
    let mut cli = serde_json::json!({});
    if let Some(listen) = &flags.listen {
        merge_json(
            &mut cli,
            nested("listen", serde_json::Value::from(listen.clone())),
        );
    }
    if let Some(database) = &flags.database {
        merge_json(
            &mut cli,
            nested("database_url", serde_json::Value::from(database.clone())),
        );
    }
    figment = figment.merge(Serialized::defaults(cli));
    let config: Config = figment.extract().map_err(|e| {
        e.into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    validate(&config)?;
    Ok(config)
}

/// The configured webhook endpoints, checked (URL, `whsec_` secret, event names, one entry per
/// URL).
pub fn webhook_endpoints(
    config: &Config,
) -> Result<Vec<writ_domain::webhooks::WebhookEndpoint>, String> {
    let mut endpoints: Vec<writ_domain::webhooks::WebhookEndpoint> = Vec::new();
    for hook in &config.notifications.webhooks {
        let endpoint = writ_runtime::webhooks::endpoint(&hook.url, &hook.secret.0, &hook.events)?;
        if endpoints.iter().any(|e| e.url == endpoint.url) {
            return Err(format!(
                "notifications.webhooks: {} is listed twice; give it one entry with all its events",
                hook.url
            ));
        }
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

/// The SMTP relay and sender (`notifications.smtp_url`, `smtp_from`, `smtp_ca_file`, whose
/// certificates are read and checked here), checked; `None` when no relay is configured. Errors
/// never contain the URL's password.
pub fn smtp(config: &Config) -> Result<Option<writ_runtime::email::SmtpConfig>, String> {
    writ_runtime::email::SmtpConfig::parse(
        config.notifications.smtp_url.as_ref().map(|s| s.0.as_str()),
        config.notifications.smtp_from.as_deref(),
        config.notifications.smtp_ca_file.as_deref(),
    )
}

/// `notifications.expiry_lead_times`: comma-separated positive durations; empty sends no
/// expiry notices.
pub fn expiry_lead_times(config: &Config) -> Result<Vec<time::Duration>, String> {
    let mut out = Vec::new();
    for lead in config
        .notifications
        .expiry_lead_times
        .split(',')
        .map(str::trim)
        .filter(|lead| !lead.is_empty())
    {
        out.push(positive_duration(
            lead,
            &format!("notifications.expiry_lead_times: '{lead}'"),
        )?);
    }
    Ok(out)
}

/// The longest duration any setting takes: Writ's longest assignment (3660 days), so that no
/// instant computed from a setting comes near the end of the representable range.
const MAX_SETTING_DURATION: time::Duration =
    writ_domain::entitlement::bounds::MAX_ASSIGNMENT_DURATION;

/// A positive duration of at most [`MAX_SETTING_DURATION`], or a message naming `name`.
fn positive_duration(value: &str, name: &str) -> Result<time::Duration, String> {
    let d = writ_domain::duration::parse(value).map_err(|e| format!("{name}: {e}"))?;
    if d <= time::Duration::ZERO {
        return Err(format!("{name} must be positive"));
    }
    writ_domain::duration::at_most(d, MAX_SETTING_DURATION, name).map_err(|e| e.to_string())
}

/// `entitlement.max_agent_access` (`WRIT_MAX_AGENT_ACCESS`).
pub fn max_agent_access(config: &Config) -> Result<time::Duration, String> {
    positive_duration(
        &config.entitlement.max_agent_access,
        "entitlement.max_agent_access",
    )
}

/// `tokens.refresh_lifetime`: at least five minutes, at most the absolute cap of a refresh
/// token family (P365D).
pub fn refresh_token_lifetime(config: &Config) -> Result<time::Duration, String> {
    use writ_domain::identity::user_tokens::{
        MAX_REFRESH_TOKEN_LIFETIME, MIN_REFRESH_TOKEN_LIFETIME,
    };
    let lifetime = positive_duration(&config.tokens.refresh_lifetime, "tokens.refresh_lifetime")?;
    if lifetime < MIN_REFRESH_TOKEN_LIFETIME || lifetime > MAX_REFRESH_TOKEN_LIFETIME {
        return Err(format!(
            "tokens.refresh_lifetime '{}' must be between PT5M and P365D",
            config.tokens.refresh_lifetime
        ));
    }
    Ok(lifetime)
}

fn validate(config: &Config) -> Result<(), String> {
    config
        .listen
        .parse::<std::net::SocketAddr>()
        .map_err(|e| format!("listen '{}': {e}", config.listen))?;
    let db = &config.database_url.0;
    if !(db.starts_with("sqlite:")
        || db.starts_with("postgres://")
        || db.starts_with("postgresql://"))
    {
        return Err("database_url must start with sqlite:// or postgres://".into());
    }
    if let Some(url) = &config.public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!("public_url '{url}' must be an http(s) URL"));
    }
    match config.tokens.algorithm.as_str() {
        "ES256" => {}
        "RS256" => {
            return Err(
                "tokens.algorithm RS256 is not available in this version; use ES256".into(),
            );
        }
        other => return Err(format!("tokens.algorithm '{other}' must be ES256 or RS256")),
    }
    for (name, value) in [
        ("tokens.api_lifetime", &config.tokens.api_lifetime),
        ("tokens.resource_lifetime", &config.tokens.resource_lifetime),
        ("retention.requests", &config.retention.requests),
        ("jobs.lease", &config.jobs.lease),
    ] {
        positive_duration(value, name)?;
    }
    expiry_lead_times(config)?;
    max_agent_access(config)?;
    refresh_token_lifetime(config)?;
    webhook_endpoints(config)?;
    smtp(config)?;
    if config.notifications.webhook_max_attempts == 0 {
        return Err("notifications.webhook_max_attempts must be at least 1".into());
    }
    writ_runtime::outbound::OutboundPolicy::parse(&config.outbound.allow_hosts)?;
    writ_server::client_address::TrustedProxies::parse(&config.trusted_proxies)?;
    if let Some(metrics) = &config.metrics_listen {
        let address = metrics
            .parse::<std::net::SocketAddr>()
            .map_err(|e| format!("metrics_listen '{metrics}': {e}"))?;
        // Port 0 (any free port) twice is two listeners, not one address.
        if address.port() != 0
            && config.listen.parse::<std::net::SocketAddr>().ok() == Some(address)
        {
            return Err(format!(
                "metrics_listen '{metrics}' must differ from listen: /metrics moves to its own listener"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| format!("log '{}': {e}", config.log))?;
    if !matches!(config.log_format.as_str(), "text" | "json") {
        return Err("log_format must be text or json".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The configuration from the defaults and these environment variables alone.
    fn with_env(pairs: &[(&str, &str)]) -> Result<Config, String> {
        load(&Flags::default(), &env(pairs))
    }

    #[test]
    fn defaults_env_and_flags_layer_in_order() {
        let config = load(&Flags::default(), &env(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database_url.0, "sqlite://writ.db");

        let e = env(&[
            ("WRIT_LISTEN", "127.0.0.1:9000"),
            (
                "WRIT_BOOTSTRAP_CLIENT_ID",
                "5d0f4d4e-4b0c-4c4a-9a36-5c1f0e6c8a11",
            ),
            ("WRIT_BOOTSTRAP_CLIENT_SECRET", "a-very-long-secret-value"),
            ("WRIT_OUTBOUND_ALLOW_HOSTS", "127.0.0.1, example.org"),
        ]);
        let config = load(&Flags::default(), &e).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000");
        assert_eq!(
            config.bootstrap.client_secret,
            Some(Secret("a-very-long-secret-value".into()))
        );
        assert_eq!(
            config.outbound.allow_hosts,
            vec!["127.0.0.1", "example.org"]
        );

        let flags = Flags {
            listen: Some("127.0.0.1:9100".into()),
            ..Flags::default()
        };
        assert_eq!(load(&flags, &e).unwrap().listen, "127.0.0.1:9100");
    }

    #[test]
    fn file_is_layered_and_unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("writ-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "listen = \"127.0.0.1:7000\"\n[tokens]\napi_lifetime = \"PT5M\"\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(good),
            ..Flags::default()
        };
        let config = load(&flags, &env(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7000");
        assert_eq!(config.tokens.api_lifetime, "PT5M");
        // The environment beats the file.
        let config = load(&flags, &env(&[("WRIT_LISTEN", "127.0.0.1:7001")])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7001");

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "listen = \"127.0.0.1:7000\"\nlisten_port = 3\n").unwrap();
        let err = load(
            &Flags {
                config: Some(bad),
                ..Flags::default()
            },
            &env(&[]),
        )
        .unwrap_err();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn several_webhooks_come_from_the_file_with_their_filters() {
        let dir = std::env::temp_dir().join(format!("writ-config-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, body: &str| {
            let path = dir.join(name);
            std::fs::write(&path, body).unwrap();
            Flags {
                config: Some(path),
                ..Flags::default()
            }
        };
        let two = "[notifications]\nwebhook_max_attempts = 3\n\
            [[notifications.webhooks]]\nurl = \"https://a.example.org/h\"\n\
            secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
            events = [\"assignment.expired\", \"assignment.expiringSoon\"]\n\
            [[notifications.webhooks]]\nurl = \"https://b.example.org/h\"\n\
            secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
        let config = load(&file("two.toml", two), &env(&[])).unwrap();
        let endpoints = webhook_endpoints(&config).unwrap();
        assert_eq!(endpoints.len(), 2);
        assert!(endpoints[0].wants("assignment.expired"));
        assert!(!endpoints[0].wants("request.created"));
        assert!(endpoints[1].wants("request.created"));
        assert_eq!(config.notifications.webhook_max_attempts, 3);

        let typo = two.replace("assignment.expiringSoon", "assignment.expiringsoon");
        let err = load(&file("typo.toml", &typo), &env(&[])).unwrap_err();
        assert!(err.contains("assignment.expiringsoon"), "{err}");
        let twice = two.replace("b.example.org", "a.example.org");
        let err = load(&file("twice.toml", &twice), &env(&[])).unwrap_err();
        assert!(err.contains("listed twice"), "{err}");
    }

    #[test]
    fn invalid_values_are_named() {
        let err = load(
            &Flags::default(),
            &env(&[("WRIT_TOKEN_LIFETIME", "1 hour")]),
        )
        .unwrap_err();
        assert!(err.contains("tokens.api_lifetime"), "{err}");
        let err = load(
            &Flags::default(),
            &env(&[("WRIT_DATABASE_URL", "mysql://x")]),
        )
        .unwrap_err();
        assert!(err.contains("database_url"), "{err}");
        let err = load(&Flags::default(), &env(&[("WRIT_WEBHOOK_URL", "http://x")])).unwrap_err();
        assert!(err.contains("WRIT_WEBHOOK_SECRET"), "{err}");
        let hook = |url: &str, secret: &str| {
            load(
                &Flags::default(),
                &env(&[("WRIT_WEBHOOK_URL", url), ("WRIT_WEBHOOK_SECRET", secret)]),
            )
        };
        let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let config = hook("https://hooks.example.org/writ", good).unwrap();
        assert_eq!(webhook_endpoints(&config).unwrap().len(), 1);
        let err = hook(
            "https://hooks.example.org/writ",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .unwrap_err();
        assert!(err.contains("whsec_"), "{err}");
        assert!(!err.contains("MfKQ9r8G"), "the secret is not echoed: {err}");
        let err = hook("https://hooks.example.org/writ", "whsec_%%%").unwrap_err();
        assert!(err.contains("base64"), "{err}");
        let err = hook("ftp://hooks.example.org/writ", good).unwrap_err();
        assert!(err.contains("http or https"), "{err}");
        let err = load(
            &Flags::default(),
            &env(&[("WRIT_OUTBOUND_ALLOW_HOSTS", "10.0.0.0/40")]),
        )
        .unwrap_err();
        assert!(err.contains("outbound.allow_hosts"), "{err}");
        let err = load(&Flags::default(), &env(&[("WRIT_JOB_LEASE", "PT0S")])).unwrap_err();
        assert!(err.contains("jobs.lease"), "{err}");
        let config = load(&Flags::default(), &env(&[("WRIT_JOB_LEASE", "PT2S")])).unwrap();
        assert_eq!(config.jobs.lease, "PT2S");
    }

    #[test]
    fn expiry_lead_times_are_positive_durations_and_empty_sends_none() {
        let lead = |value: &str| {
            load(
                &Flags::default(),
                &env(&[("WRIT_EXPIRY_NOTICE_LEAD_TIMES", value)]),
            )
            .and_then(|config| expiry_lead_times(&config))
        };
        assert_eq!(
            lead("PT8S, PT4S").unwrap(),
            [time::Duration::seconds(8), time::Duration::seconds(4)]
        );
        assert_eq!(
            expiry_lead_times(&Config::default()).unwrap(),
            [time::Duration::days(14), time::Duration::days(1)]
        );
        assert!(lead("").unwrap().is_empty());
        let err = lead("PT0S").unwrap_err();
        assert!(err.contains("notifications.expiry_lead_times"), "{err}");
        assert!(lead("soon").is_err());
    }

    #[test]
    fn max_agent_access_defaults_to_a_year_and_every_duration_setting_is_bounded() {
        assert_eq!(
            max_agent_access(&Config::default()).unwrap(),
            time::Duration::days(365)
        );
        let config = with_env(&[("WRIT_MAX_AGENT_ACCESS", "P30D")]).unwrap();
        assert_eq!(max_agent_access(&config).unwrap(), time::Duration::days(30));
        for (var, value, name) in [
            (
                "WRIT_MAX_AGENT_ACCESS",
                "PT0S",
                "entitlement.max_agent_access",
            ),
            (
                "WRIT_MAX_AGENT_ACCESS",
                "P3661D",
                "entitlement.max_agent_access",
            ),
            (
                "WRIT_MAX_AGENT_ACCESS",
                "P9999999999D",
                "entitlement.max_agent_access",
            ),
            (
                "WRIT_MAX_AGENT_ACCESS",
                "forever",
                "entitlement.max_agent_access",
            ),
            ("WRIT_TOKEN_LIFETIME", "P9999999999D", "tokens.api_lifetime"),
            ("WRIT_JOB_LEASE", "P3661D", "jobs.lease"),
            ("WRIT_RETENTION", "P99999D", "retention.requests"),
            (
                "WRIT_EXPIRY_NOTICE_LEAD_TIMES",
                "P14D,P9999999999D",
                "notifications.expiry_lead_times",
            ),
        ] {
            let err = with_env(&[(var, value)]).unwrap_err();
            assert!(err.contains(name), "{var}={value}: {err}");
        }
        let err = with_env(&[("WRIT_MAX_AGENT_ACCESS", "P3661D")]).unwrap_err();
        assert!(err.contains("P3660D"), "the limit is named: {err}");
        assert!(with_env(&[("WRIT_MAX_AGENT_ACCESS", "P3660D")]).is_ok());
    }

    #[test]
    fn secrets_do_not_print() {
        let config = load(
            &Flags::default(),
            &env(&[
                (
                    "WRIT_BOOTSTRAP_CLIENT_ID",
                    "5d0f4d4e-4b0c-4c4a-9a36-5c1f0e6c8a11",
                ),
                ("WRIT_BOOTSTRAP_CLIENT_SECRET", "top-secret-value-123"),
                (
                    "WRIT_DATABASE_URL",
                    "postgres://writ:hunter2@localhost/writ",
                ),
            ]),
        )
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("top-secret-value-123"));
        assert!(!printed.contains("hunter2"));
    }

    #[test]
    fn smtp_settings_are_checked_at_start_without_printing_the_password() {
        let config = load(
            &Flags::default(),
            &env(&[
                (
                    "WRIT_SMTP_URL",
                    "smtp://notices:hunter%402@relay.example.org?tls=required",
                ),
                ("WRIT_SMTP_FROM", "Writ <writ@example.org>"),
            ]),
        )
        .unwrap();
        let relay = smtp(&config).unwrap().unwrap();
        assert_eq!(relay.settings.port, 587);
        assert_eq!(relay.settings.username.as_deref(), Some("notices"));
        assert!(!format!("{config:?}{relay:?}").contains("hunter"));
        for (url, from, expected) in [
            ("smtp://u:hunter%402@relay", None, "smtp_from"),
            (
                "imap://u:hunter%402@relay",
                Some("w@example.org"),
                "smtp or smtps",
            ),
            (
                "smtp://u:hunter%402@relay?tls=on",
                Some("w@example.org"),
                "tls=on",
            ),
            ("smtp://relay", Some("not an address"), "smtp_from"),
        ] {
            let mut pairs = vec![("WRIT_SMTP_URL", url)];
            if let Some(from) = from {
                pairs.push(("WRIT_SMTP_FROM", from));
            }
            let error = load(&Flags::default(), &env(&pairs)).unwrap_err();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("hunter"), "{url}: {error}");
        }
        let error = load(
            &Flags::default(),
            &env(&[
                ("WRIT_SMTP_URL", "smtps://u:hunter%402@relay"),
                ("WRIT_SMTP_FROM", "w@example.org"),
                ("WRIT_SMTP_CA_FILE", "/nonexistent/writ-relay-ca.pem"),
            ]),
        )
        .unwrap_err();
        assert!(
            error.contains(
                "notifications.smtp_ca_file /nonexistent/writ-relay-ca.pem cannot be read"
            ),
            "{error}"
        );
        // No relay: no email, and no error.
        assert!(
            smtp(&load(&Flags::default(), &env(&[])).unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn trusted_proxies_and_the_metrics_listener() {
        let config = with_env(&[
            ("WRIT_TRUSTED_PROXIES", "10.0.0.0/8, fd00::1 ,"),
            ("WRIT_METRICS_LISTEN", "127.0.0.1:9090"),
        ])
        .unwrap();
        assert_eq!(config.trusted_proxies, vec!["10.0.0.0/8", "fd00::1"]);
        assert_eq!(config.metrics_listen.as_deref(), Some("127.0.0.1:9090"));
        let defaults = with_env(&[]).unwrap();
        assert!(defaults.trusted_proxies.is_empty() && defaults.metrics_listen.is_none());
        for (var, value, expected) in [
            ("WRIT_TRUSTED_PROXIES", "proxy.internal", "trusted_proxies"),
            ("WRIT_METRICS_LISTEN", "localhost:9090", "metrics_listen"),
            (
                "WRIT_METRICS_LISTEN",
                "127.0.0.1:8080",
                "must differ from listen",
            ),
        ] {
            let err = with_env(&[(var, value)]).unwrap_err();
            assert!(err.contains(expected), "{var}={value}: {err}");
        }
        assert!(unknown_env_vars(&env(&[("WRIT_TRUSTED_PROXIES", "x")])).is_empty());
    }

    #[test]
    fn typo_env_vars_are_reported() {
        let e = env(&[
            ("WRIT_LISTN", "x"),
            ("WRIT_LISTEN", "y"),
            ("WRIT_TEST_POSTGRES_URL", "z"),
        ]);
        assert_eq!(unknown_env_vars(&e), vec!["WRIT_LISTN".to_owned()]);
    }
}
