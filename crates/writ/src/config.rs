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

/// Single sign-on through an upstream OpenID provider (`WRIT_SSO_*`, DESIGN section 14); see
/// [`sso`] for the checked form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sso {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// A file holding the client secret (its surrounding whitespace ignored), instead of
    /// `client_secret`.
    pub client_secret_file: Option<PathBuf>,
    /// Space- or comma-separated; must include `openid`.
    pub scopes: String,
    /// `userPrincipalName`, `mail` or `none`.
    pub link_by: String,
    /// The upstream claim compared; by default `preferred_username` (links by UPN or none) or
    /// `email` (links by mail).
    pub link_claim: Option<String>,
    pub create_users: bool,
    /// "Sign in with {display_name}"; by default the issuer's host.
    pub display_name: Option<String>,
}

impl Default for Sso {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            scopes: "openid profile email".into(),
            link_by: "userPrincipalName".into(),
            link_claim: None,
            create_users: false,
            display_name: None,
        }
    }
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

/// Lifecycle policies for agent identities (DESIGN section 17).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifecycle {
    /// How long a lifecycle policy's day is (`WRIT_LIFECYCLE_DAY_LENGTH`): `P1D`; shorter only
    /// with `allow_short_days`, for tests that run policies in seconds.
    pub day_length: String,
    /// Allows `day_length` shorter than a day (`WRIT_LIFECYCLE_ALLOW_SHORT_DAYS`).
    pub allow_short_days: bool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            day_length: "P1D".into(),
            allow_short_days: false,
        }
    }
}

/// `lifecycle.day_length`, refused when shorter than a day unless `lifecycle.allow_short_days`,
/// and longer than a day never (a day is a day, or shorter for tests).
pub fn lifecycle_day_length(config: &Config) -> Result<time::Duration, String> {
    let day = positive_duration(&config.lifecycle.day_length, "lifecycle.day_length")?;
    if day > time::Duration::DAY {
        return Err("lifecycle.day_length must be at most P1D".into());
    }
    if day < time::Duration::DAY && !config.lifecycle.allow_short_days {
        return Err(
            "lifecycle.day_length is shorter than a day: set lifecycle.allow_short_days = true \
             (WRIT_LIFECYCLE_ALLOW_SHORT_DAYS=true) to allow it, for tests only"
                .into(),
        );
    }
    if day < time::Duration::SECOND {
        return Err("lifecycle.day_length must be at least PT1S".into());
    }
    Ok(day)
}

/// HTTPS served by Writ itself: both files or neither.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the leaf certificate.
    pub key_file: Option<PathBuf>,
}

impl Tls {
    /// Both files when TLS is configured, `None` for plain HTTP; one without the other is an
    /// error naming the missing one.
    pub fn files(&self) -> Result<Option<(&PathBuf, &PathBuf)>, String> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(
                "tls.cert_file (WRIT_TLS_CERT_FILE) is set but tls.key_file (WRIT_TLS_KEY_FILE) \
                 is not: set both for HTTPS, or neither"
                    .into(),
            ),
            (None, Some(_)) => Err(
                "tls.key_file (WRIT_TLS_KEY_FILE) is set but tls.cert_file (WRIT_TLS_CERT_FILE) \
                 is not: set both for HTTPS, or neither"
                    .into(),
            ),
        }
    }
}

/// Browser sessions and the device code flow (issue 16, DESIGN section 14).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// A session not used for this long ends.
    pub idle_lifetime: String,
    /// A session ends this long after sign-in, however it is used.
    pub absolute_lifetime: String,
    /// How long a device code (and its user code) may be used.
    pub device_code_lifetime: String,
    /// The least time between polls of the device code grant (whole seconds).
    pub device_code_interval: String,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            idle_lifetime: "PT8H".into(),
            absolute_lifetime: "PT24H".into(),
            device_code_lifetime: "PT15M".into(),
            device_code_interval: "PT5S".into(),
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
    pub lifecycle: Lifecycle,
    pub sessions: Sessions,
    // Issue 14's edge settings, kept together.
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// A second listener (`IP:port`) that serves `/metrics` instead of `listen`.
    pub metrics_listen: Option<String>,
    /// Issue 16: HTTPS on `listen`.
    pub tls: Tls,
    /// `local`, `sso` or `both`; by default `local`, or `both` once `sso.issuer` is set.
    pub sign_in: Option<String>,
    pub sso: Sso,
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
            lifecycle: Lifecycle::default(),
            sessions: Sessions::default(),
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            tls: Tls::default(),
            sign_in: None,
            sso: Sso::default(),
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
    ("WRIT_LIFECYCLE_DAY_LENGTH", "lifecycle.day_length"),
    ("WRIT_METRICS_LISTEN", "metrics_listen"),
    ("WRIT_TLS_CERT_FILE", "tls.cert_file"),
    ("WRIT_TLS_KEY_FILE", "tls.key_file"),
    ("WRIT_SESSION_IDLE_LIFETIME", "sessions.idle_lifetime"),
    (
        "WRIT_SESSION_ABSOLUTE_LIFETIME",
        "sessions.absolute_lifetime",
    ),
    ("WRIT_DEVICE_CODE_LIFETIME", "sessions.device_code_lifetime"),
    ("WRIT_DEVICE_CODE_INTERVAL", "sessions.device_code_interval"),
    ("WRIT_SIGN_IN", "sign_in"),
    ("WRIT_SSO_ISSUER", "sso.issuer"),
    ("WRIT_SSO_CLIENT_ID", "sso.client_id"),
    ("WRIT_SSO_CLIENT_SECRET", "sso.client_secret"),
    ("WRIT_SSO_CLIENT_SECRET_FILE", "sso.client_secret_file"),
    ("WRIT_SSO_SCOPES", "sso.scopes"),
    ("WRIT_SSO_LINK_BY", "sso.link_by"),
    ("WRIT_SSO_LINK_CLAIM", "sso.link_claim"),
    ("WRIT_SSO_DISPLAY_NAME", "sso.display_name"),
];

/// Environment variables holding `true` or `false`, and the setting each one sets.
const ENV_BOOLS: &[(&str, &str)] = &[
    ("WRIT_SSO_CREATE_USERS", "sso.create_users"),
    (
        "WRIT_LIFECYCLE_ALLOW_SHORT_DAYS",
        "lifecycle.allow_short_days",
    ),
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
    for (var, key) in ENV_BOOLS {
        if let Some(text) = env.get(*var) {
            let value = match text.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(format!("{var} ({key}) must be true or false, not '{text}'")),
            };
            merge_json(&mut out, nested(key, serde_json::Value::Bool(value)));
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
            !ENV_KEYS
                .iter()
                .chain(ENV_LISTS)
                .chain(ENV_BOOLS)
                .any(|(v, _)| v == k)
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

/// `sessions.*`: session and device code lifetimes, within the domain's bounds.
pub fn browser_settings(config: &Config) -> Result<writ_server::state::BrowserSettings, String> {
    use writ_domain::identity::{device_codes::DeviceFlowPolicy, sessions::SessionPolicy};
    let s = &config.sessions;
    let idle = positive_duration(&s.idle_lifetime, "sessions.idle_lifetime")?;
    let absolute = positive_duration(&s.absolute_lifetime, "sessions.absolute_lifetime")?;
    let sessions = SessionPolicy::new(idle, absolute).map_err(|e| format!("sessions: {e}"))?;
    let lifetime = positive_duration(&s.device_code_lifetime, "sessions.device_code_lifetime")?;
    let interval = positive_duration(&s.device_code_interval, "sessions.device_code_interval")?;
    if interval.subsec_nanoseconds() != 0 {
        return Err("sessions.device_code_interval must be whole seconds".into());
    }
    let device_flow = DeviceFlowPolicy::new(lifetime, interval.whole_seconds())
        .map_err(|e| format!("sessions: {e}"))?;
    Ok(writ_server::state::BrowserSettings {
        sessions,
        device_flow,
    })
}

/// Where people sign in, checked: the mode, and with SSO configured the upstream client's
/// settings and the linking policy.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub mode: writ_domain::identity::federation::SignInMode,
    pub sso: Option<(
        writ_runtime::sso::UpstreamConfig,
        writ_domain::identity::federation::FederationPolicy,
    )>,
}

/// The longest client id, secret, claim name and display name accepted.
const MAX_SSO_TEXT: usize = 1024;

fn sso_text(value: &str, name: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("{name} must not be empty"));
    }
    if value.len() > MAX_SSO_TEXT || value.chars().any(char::is_control) {
        return Err(format!(
            "{name} must be one line of at most {MAX_SSO_TEXT} bytes"
        ));
    }
    Ok(value.to_owned())
}

/// `sign_in` and `sso.*` (`WRIT_SIGN_IN`, `WRIT_SSO_*`), checked; reads the client secret file.
pub fn sign_in(config: &Config) -> Result<SignIn, String> {
    use writ_domain::identity::federation::{FederationPolicy, LinkBy, SignInMode};
    let sso = &config.sso;
    let mode = match config.sign_in.as_deref() {
        None if sso.issuer.is_some() => SignInMode::Both,
        None => SignInMode::Local,
        Some(text) => SignInMode::parse(text)
            .ok_or_else(|| format!("sign_in '{text}' must be local, sso or both"))?,
    };
    let Some(issuer) = &sso.issuer else {
        if mode.allows_sso() {
            return Err(format!(
                "sign_in '{}' needs single sign-on configured: set sso.issuer (WRIT_SSO_ISSUER) and sso.client_id",
                mode.as_str()
            ));
        }
        if sso.client_id.is_some()
            || sso.client_secret.is_some()
            || sso.client_secret_file.is_some()
            || sso.link_claim.is_some()
            || sso.create_users
            || sso.display_name.is_some()
        {
            return Err("sso.* settings are set but sso.issuer (WRIT_SSO_ISSUER) is not".into());
        }
        return Ok(SignIn { mode, sso: None });
    };
    writ_runtime::sso::check_issuer(issuer)?;
    let client_id = sso_text(
        sso.client_id
            .as_deref()
            .ok_or("sso.client_id (WRIT_SSO_CLIENT_ID) is required with sso.issuer")?,
        "sso.client_id",
    )?;
    let client_secret = match (&sso.client_secret, &sso.client_secret_file) {
        (Some(_), Some(_)) => {
            return Err("set sso.client_secret or sso.client_secret_file, not both".into());
        }
        (Some(secret), None) => Some(sso_text(&secret.0, "sso.client_secret")?),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("sso.client_secret_file {}: {e}", path.display()))?;
            Some(sso_text(&text, "sso.client_secret_file")?)
        }
        (None, None) => None,
    };
    let scopes: Vec<String> = sso
        .scopes
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(format!("sso.scopes '{}' must include openid", sso.scopes));
    }
    // RFC 6749 section 3.3: scope tokens are printable ASCII without space, '"' or '\\'.
    if scopes.len() > 32
        || scopes.iter().any(|s| {
            s.len() > 256
                || s.chars()
                    .any(|c| !c.is_ascii_graphic() || c == '"' || c == '\\')
        })
    {
        return Err(format!(
            "sso.scopes '{}' must be at most 32 scope names of printable ASCII",
            sso.scopes
        ));
    }
    let link_by = LinkBy::parse(&sso.link_by).ok_or_else(|| {
        format!(
            "sso.link_by '{}' must be userPrincipalName, mail or none",
            sso.link_by
        )
    })?;
    let link_claim = match &sso.link_claim {
        Some(claim) => {
            let claim = sso_text(claim, "sso.link_claim")?;
            if claim.len() > 128 || claim.chars().any(char::is_whitespace) {
                return Err(format!("sso.link_claim '{claim}' must be a claim name"));
            }
            claim
        }
        None => link_by.default_claim().to_owned(),
    };
    let display_name = match &sso.display_name {
        Some(name) => sso_text(name, "sso.display_name")?,
        None => writ_runtime::sso::issuer_host(issuer).unwrap_or_else(|| issuer.clone()),
    };
    Ok(SignIn {
        mode,
        sso: Some((
            writ_runtime::sso::UpstreamConfig {
                issuer: issuer.clone(),
                client_id,
                client_secret,
                scopes,
                display_name,
            },
            FederationPolicy {
                issuer: issuer.clone(),
                link_by,
                link_claim,
                create_users: sso.create_users,
            },
        )),
    })
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
    lifecycle_day_length(config)?;
    browser_settings(config)?;
    refresh_token_lifetime(config)?;
    webhook_endpoints(config)?;
    smtp(config)?;
    if config.notifications.webhook_max_attempts == 0 {
        return Err("notifications.webhook_max_attempts must be at least 1".into());
    }
    writ_runtime::outbound::OutboundPolicy::parse(&config.outbound.allow_hosts)?;
    sign_in(config)?;
    writ_server::client_address::TrustedProxies::parse(&config.trusted_proxies)?;
    config.tls.files()?;
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
    fn session_and_device_code_settings_default_and_are_bounded() {
        let settings = browser_settings(&Config::default()).unwrap();
        assert_eq!(settings.sessions.idle, time::Duration::hours(8));
        assert_eq!(settings.sessions.absolute, time::Duration::hours(24));
        assert_eq!(settings.device_flow.lifetime, time::Duration::minutes(15));
        assert_eq!(settings.device_flow.interval_secs, 5);
        let config = with_env(&[
            ("WRIT_SESSION_IDLE_LIFETIME", "PT1H"),
            ("WRIT_DEVICE_CODE_INTERVAL", "PT2S"),
        ])
        .unwrap();
        let settings = browser_settings(&config).unwrap();
        assert_eq!(settings.sessions.idle, time::Duration::hours(1));
        assert_eq!(settings.device_flow.interval_secs, 2);
        for (key, value, message) in [
            (
                "WRIT_SESSION_IDLE_LIFETIME",
                "PT30S",
                "between PT1M and P30D",
            ),
            ("WRIT_SESSION_IDLE_LIFETIME", "PT25H", "must not exceed"),
            (
                "WRIT_SESSION_ABSOLUTE_LIFETIME",
                "P31D",
                "between PT1M and P30D",
            ),
            (
                "WRIT_SESSION_ABSOLUTE_LIFETIME",
                "-PT1H",
                "sessions.absolute_lifetime",
            ),
            (
                "WRIT_DEVICE_CODE_LIFETIME",
                "PT1H",
                "between PT1M and PT30M",
            ),
            ("WRIT_DEVICE_CODE_INTERVAL", "PT1.5S", "whole seconds"),
            ("WRIT_DEVICE_CODE_INTERVAL", "PT301S", "between 1 and 300"),
            (
                "WRIT_DEVICE_CODE_INTERVAL",
                "soon",
                "sessions.device_code_interval",
            ),
        ] {
            let err = with_env(&[(key, value)]).unwrap_err();
            assert!(err.contains(message), "{key}={value}: {err}");
        }
    }

    #[test]
    fn lifecycle_days_are_a_day_unless_short_days_are_allowed_explicitly() {
        assert_eq!(
            lifecycle_day_length(&Config::default()).unwrap(),
            time::Duration::DAY
        );
        let mut config = Config::default();
        config.lifecycle.day_length = "PT2S".into();
        let refused = lifecycle_day_length(&config).unwrap_err();
        assert!(refused.contains("allow_short_days"), "{refused}");
        config.lifecycle.allow_short_days = true;
        assert_eq!(
            lifecycle_day_length(&config).unwrap(),
            time::Duration::seconds(2)
        );
        config.lifecycle.day_length = "P2D".into();
        assert!(lifecycle_day_length(&config).is_err());
        config.lifecycle.day_length = "PT0.5S".into();
        assert!(lifecycle_day_length(&config).is_err());
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
    fn sign_in_defaults_to_local_and_to_both_once_sso_is_configured() {
        use writ_domain::identity::federation::{LinkBy, SignInMode};
        let config = with_env(&[]).unwrap();
        let plain = sign_in(&config).unwrap();
        assert_eq!(plain.mode, SignInMode::Local);
        assert!(plain.sso.is_none());
        let sso = [
            ("WRIT_SSO_ISSUER", "https://login.example.org/realms/staff"),
            ("WRIT_SSO_CLIENT_ID", "writ"),
            ("WRIT_SSO_CLIENT_SECRET", "upstream-secret"),
        ];
        let config = with_env(&sso).unwrap();
        let both = sign_in(&config).unwrap();
        assert_eq!(both.mode, SignInMode::Both);
        let (upstream, policy) = both.sso.unwrap();
        assert_eq!(upstream.scopes, ["openid", "profile", "email"]);
        assert_eq!(upstream.display_name, "login.example.org");
        assert_eq!(upstream.client_secret.as_deref(), Some("upstream-secret"));
        assert_eq!(policy.link_by, LinkBy::UserPrincipalName);
        assert_eq!(policy.link_claim, "preferred_username");
        assert!(!policy.create_users);
        assert!(!format!("{config:?} {upstream:?}").contains("upstream-secret"));

        let mut more = sso.to_vec();
        more.extend([
            ("WRIT_SIGN_IN", "sso"),
            ("WRIT_SSO_LINK_BY", "mail"),
            ("WRIT_SSO_CREATE_USERS", "true"),
            ("WRIT_SSO_SCOPES", "openid,email"),
            ("WRIT_SSO_DISPLAY_NAME", "Example Staff"),
        ]);
        let checked = sign_in(&with_env(&more).unwrap()).unwrap();
        assert_eq!(checked.mode, SignInMode::Sso);
        let (upstream, policy) = checked.sso.unwrap();
        assert_eq!(upstream.scopes, ["openid", "email"]);
        assert_eq!(upstream.display_name, "Example Staff");
        assert_eq!(policy.link_by, LinkBy::Mail);
        assert_eq!(policy.link_claim, "email");
        assert!(policy.create_users);
        assert!(unknown_env_vars(&env(&more)).is_empty());
        assert_eq!(
            unknown_env_vars(&env(&[("WRIT_SSO_ISSUR", "x")])),
            vec!["WRIT_SSO_ISSUR".to_owned()]
        );
    }

    #[test]
    fn sso_settings_are_checked_at_start() {
        let base = [
            ("WRIT_SSO_ISSUER", "https://idp.example"),
            ("WRIT_SSO_CLIENT_ID", "writ"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            with_env(&pairs)
        };
        for (extra, expected) in [
            (
                vec![("WRIT_SSO_ISSUER", "http://idp.example")],
                "must be an https:// URL",
            ),
            (
                vec![("WRIT_SIGN_IN", "sometimes")],
                "must be local, sso or both",
            ),
            (
                vec![("WRIT_SSO_LINK_BY", "upn")],
                "must be userPrincipalName, mail or none",
            ),
            (
                vec![("WRIT_SSO_SCOPES", "profile email")],
                "must include openid",
            ),
            (vec![("WRIT_SSO_SCOPES", "openid a\"b")], "printable ASCII"),
            (
                vec![("WRIT_SSO_CLIENT_ID", " ")],
                "sso.client_id must not be empty",
            ),
            (vec![("WRIT_SSO_LINK_CLAIM", "a b")], "must be a claim name"),
            (
                vec![
                    ("WRIT_SSO_CLIENT_SECRET", "x"),
                    ("WRIT_SSO_CLIENT_SECRET_FILE", "/nonexistent"),
                ],
                "not both",
            ),
            (
                vec![(
                    "WRIT_SSO_CLIENT_SECRET_FILE",
                    "/nonexistent/writ-sso-secret",
                )],
                "sso.client_secret_file /nonexistent/writ-sso-secret",
            ),
            (vec![("WRIT_SSO_CREATE_USERS", "perhaps")], "create_users"),
        ] {
            let err = with(&extra).unwrap_err();
            assert!(err.contains(expected), "{extra:?}: {err}");
        }
        assert!(with(&[("WRIT_SSO_ISSUER", "http://127.0.0.1:9000/realms/x")]).is_ok());
        let err = with_env(&[("WRIT_SSO_ISSUER", "https://idp.example")]).unwrap_err();
        assert!(
            err.contains("sso.client_id (WRIT_SSO_CLIENT_ID) is required"),
            "{err}"
        );
        let err = with_env(&[("WRIT_SIGN_IN", "sso")]).unwrap_err();
        assert!(err.contains("needs single sign-on configured"), "{err}");
        let err = with_env(&[("WRIT_SSO_CLIENT_ID", "writ")]).unwrap_err();
        assert!(err.contains("sso.issuer (WRIT_SSO_ISSUER) is not"), "{err}");

        let dir = std::env::temp_dir().join(format!("writ-sso-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "from-a-file\n").unwrap();
        let config = with(&[("WRIT_SSO_CLIENT_SECRET_FILE", file.to_str().unwrap())]).unwrap();
        let (upstream, _) = sign_in(&config).unwrap().sso.unwrap();
        assert_eq!(upstream.client_secret.as_deref(), Some("from-a-file"));
        std::fs::remove_dir_all(&dir).unwrap();
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

    #[test]
    fn tls_needs_both_files() {
        let defaults = with_env(&[]).unwrap();
        assert_eq!(defaults.tls.files().unwrap(), None);
        let config = with_env(&[
            ("WRIT_TLS_CERT_FILE", "/etc/writ/tls.crt"),
            ("WRIT_TLS_KEY_FILE", "/etc/writ/tls.key"),
        ])
        .unwrap();
        let (cert, key) = config.tls.files().unwrap().unwrap();
        assert_eq!(cert, &PathBuf::from("/etc/writ/tls.crt"));
        assert_eq!(key, &PathBuf::from("/etc/writ/tls.key"));
        let err = with_env(&[("WRIT_TLS_CERT_FILE", "/etc/writ/tls.crt")]).unwrap_err();
        assert!(
            err.contains("WRIT_TLS_KEY_FILE") && err.contains("neither"),
            "{err}"
        );
        let err = with_env(&[("WRIT_TLS_KEY_FILE", "/etc/writ/tls.key")]).unwrap_err();
        assert!(err.contains("WRIT_TLS_CERT_FILE"), "{err}");
        assert!(unknown_env_vars(&env(&[("WRIT_TLS_CERT_FILE", "x")])).is_empty());
    }
}
