//! The email dispatcher's runtime (DESIGN section 8): the SMTP settings read from
//! `notifications.smtp_url` / `smtp_from`, the [`EmailSender`] over `lettre`, and the task that
//! runs passes of [`writ_domain::email::run_email_pass`] in [`crate::dispatch_loop`].
//!
//! URL forms: `smtp://host[:port]` is plain SMTP (port 25) with no STARTTLS, for a relay on the
//! same host or network; `smtp://host?tls=required` requires STARTTLS (port 587);
//! `smtp://host?tls=opportunistic` uses STARTTLS when offered; `smtps://host` is implicit TLS
//! (port 465). `user:password@` authenticates (percent-decoded). Certificates are checked with
//! the platform verifier, as the webhook client's are, trusting also the certificates of
//! `notifications.smtp_ca_file` (PEM) when one is given: a relay with a certificate from a
//! private CA. The relay is the administrator's own
//! configuration and typically on loopback or a private network, so the outbound allow-list of
//! webhooks does not apply to it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::OffsetDateTime;
use writ_domain::clock::Clock;
use writ_domain::dispatch::{Pacing, PassReport};
use writ_domain::email::{EmailMessage, EmailSender, EmailStore, run_email_pass};
use writ_domain::error::DomainResult;
use writ_domain::store::StoreResult;
use writ_domain::webhooks::{DispatchConfig, SendOutcome};

use crate::dispatch_loop::Passes;
use crate::job_worker::WorkerTiming;

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    Plain,
    StartTlsOpportunistic,
    StartTlsRequired,
    ImplicitTls,
}

/// `notifications.smtp_url`, checked. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

fn decode(part: &str, what: &str) -> Result<String, String> {
    // The `url` crate leaves userinfo percent-encoded.
    let bytes: Vec<u8> =
        form_urlencoded::parse(format!("x={}", part.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| format!("the {what} is not valid percent-encoded UTF-8"))
}

impl SmtpSettings {
    /// Reads an `smtp://` or `smtps://` URL. Messages never contain the password.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text).map_err(|e| {
            format!("notifications.smtp_url is not a URL ({e}); expected smtp://host:port or smtps://host")
        })?;
        // From here on the URL may be named, but only without its password.
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("notifications.smtp_url {shown} names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.into_owned()),
                _ => {
                    return Err(format!(
                        "notifications.smtp_url {shown}: unknown or repeated parameter '{key}' \
                         (only tls=required or tls=opportunistic)"
                    ));
                }
            }
        }
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (SmtpSecurity::Plain, 25),
            ("smtp", Some("required")) => (SmtpSecurity::StartTlsRequired, 587),
            ("smtp", Some("opportunistic")) => (SmtpSecurity::StartTlsOpportunistic, 587),
            ("smtps", None) => (SmtpSecurity::ImplicitTls, 465),
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!(
                    "notifications.smtp_url {shown}: tls={other} is not known (smtp:// takes \
                     tls=required or tls=opportunistic; smtps:// is always TLS)"
                ));
            }
            (scheme, _) => {
                return Err(format!(
                    "notifications.smtp_url {shown}: the scheme must be smtp or smtps, not {scheme}"
                ));
            }
        };
        if url.path().len() > 1 || url.fragment().is_some() {
            return Err(format!(
                "notifications.smtp_url {shown}: a path or fragment means nothing here"
            ));
        }
        let username = (!url.username().is_empty())
            .then(|| decode(url.username(), "user name in notifications.smtp_url"))
            .transpose()?;
        let password = url
            .password()
            .map(|p| decode(p, "password in notifications.smtp_url"))
            .transpose()?;
        if password.is_some() != username.is_some() {
            return Err(format!(
                "notifications.smtp_url {shown}: give both user and password (user:password@host) or neither"
            ));
        }
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            username,
            password,
        })
    }
}

/// `notifications.smtp_from`, checked: a mailbox (`Writ <writ@example.org>` or a bare address).
pub fn parse_from(text: &str) -> Result<Mailbox, String> {
    text.parse::<Mailbox>()
        .map_err(|e| format!("notifications.smtp_from '{text}' is not a mail address: {e}"))
}

/// Certificates trusted for the relay besides the platform's (`notifications.smtp_ca_file`).
#[derive(Clone)]
pub struct ExtraRoots {
    pub path: PathBuf,
    certificate: Certificate,
}

impl std::fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraRoots")
            .field("path", &self.path)
            .finish()
    }
}

impl ExtraRoots {
    /// Reads a PEM file of one or more CA certificates, checking each can be a trust anchor.
    pub fn load(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let pem = std::fs::read(path)
            .map_err(|e| format!("notifications.smtp_ca_file {shown} cannot be read: {e}"))?;
        let not_pem = || {
            format!(
                "notifications.smtp_ca_file {shown} holds no PEM certificate \
                 (-----BEGIN CERTIFICATE-----)"
            )
        };
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(not_pem());
        }
        let certificate = Certificate::from_pem(&pem).map_err(|_| not_pem())?;
        // Building the TLS settings parses each certificate as a trust anchor.
        TlsParameters::builder("localhost".to_owned())
            .add_root_certificate(certificate.clone())
            .build()
            .map_err(|e| {
                format!("notifications.smtp_ca_file {shown}: not a usable CA certificate: {e}")
            })?;
        Ok(Self {
            path: path.to_owned(),
            certificate,
        })
    }
}

/// The relay and the sender's address, as configured.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub settings: SmtpSettings,
    pub from: Mailbox,
    pub extra_roots: Option<ExtraRoots>,
}

impl SmtpConfig {
    /// `notifications.smtp_url`, `smtp_from` and `smtp_ca_file`: `None` without a URL (no email
    /// is sent); with one, the sender's address is required, and a CA file only with TLS.
    pub fn parse(
        url: Option<&str>,
        from: Option<&str>,
        ca_file: Option<&Path>,
    ) -> Result<Option<Self>, String> {
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            return match ca_file {
                Some(_) => Err("notifications.smtp_ca_file (WRIT_SMTP_CA_FILE) is set \
                                without notifications.smtp_url"
                    .into()),
                None => Ok(None),
            };
        };
        let settings = SmtpSettings::parse(url.trim())?;
        let from = from.filter(|f| !f.trim().is_empty()).ok_or(
            "notifications.smtp_from (WRIT_SMTP_FROM) is required with notifications.smtp_url: \
             the address notices are sent from",
        )?;
        if ca_file.is_some() && settings.security == SmtpSecurity::Plain {
            return Err(
                "notifications.smtp_ca_file (WRIT_SMTP_CA_FILE) is set but notifications.smtp_url \
                 uses no TLS: add ?tls=required, or use smtps://"
                    .into(),
            );
        }
        let extra_roots = ca_file.map(ExtraRoots::load).transpose()?;
        Ok(Some(Self {
            settings,
            from: parse_from(from.trim())?,
            extra_roots,
        }))
    }
}

/// The host of the server's public URL: the `Message-ID` domain and the `EHLO` name. In the
/// domain because the HTTP server shows each delivery's `Message-ID` too.
pub use writ_domain::email::host_of;

/// Sends each message over its own SMTP connection (no pool: notices come in bursts of a few,
/// and a fresh connection never finds a stale one closed by the relay).
#[derive(Clone)]
pub struct SmtpEmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// How long one whole exchange may take ([`SMTP_TIMEOUT`]).
    timeout: StdDuration,
}

/// How long one exchange with the relay (connection, TLS, AUTH, the message) may take; the
/// dispatcher's lease must be longer.
pub const SMTP_TIMEOUT: StdDuration = StdDuration::from_secs(30);

impl SmtpEmailSender {
    /// `hello_name`: the name this server gives in `EHLO` (the host of its public URL).
    pub fn new(config: &SmtpConfig, hello_name: &str) -> Result<Self, String> {
        let settings = &config.settings;
        let tls = || {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(roots) = &config.extra_roots {
                builder = builder.add_root_certificate(roots.certificate.clone());
            }
            builder
                .build()
                .map_err(|e| format!("notifications.smtp_url: TLS set-up failed: {e}"))
        };
        let tls = match settings.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTlsOpportunistic => Tls::Opportunistic(tls()?),
            SmtpSecurity::StartTlsRequired => Tls::Required(tls()?),
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT))
            .hello_name(ClientId::Domain(hello_name.to_owned()));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from: config.from.clone(),
            timeout: SMTP_TIMEOUT,
        })
    }

    /// The same sender giving up on an exchange after `timeout` (tests use a short one).
    pub fn with_timeout(mut self, timeout: StdDuration) -> Self {
        self.timeout = timeout;
        self
    }

    fn build(&self, message: &EmailMessage) -> Result<Message, String> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e| format!("the recipient address '{}' is invalid: {e}", message.to))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(message.message_id.clone()))
            .date(std::time::SystemTime::from(message.date))
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| format!("the message could not be built: {e}"))
    }
}

#[async_trait]
impl EmailSender for SmtpEmailSender {
    async fn send(&self, message: &EmailMessage) -> SendOutcome {
        let email = match self.build(message) {
            Ok(email) => email,
            // A bad address stays bad: no retry.
            Err(reason) => return SendOutcome::Refused { reason },
        };
        // lettre's own timeout covers only the connection: a relay that stops answering
        // mid-dialogue would hold the delivery past its lease, so the whole exchange is bounded.
        let Ok(sent) = tokio::time::timeout(self.timeout, self.transport.send(email)).await else {
            return SendOutcome::Failed {
                error: format!(
                    "SMTP: no answer from the server within {} s",
                    self.timeout.as_secs()
                ),
            };
        };
        match sent {
            Ok(response) => SendOutcome::Answered {
                status: u16::from(response.code()),
                retry_after: None,
            },
            Err(error) if error.is_permanent() => SendOutcome::Refused {
                reason: format!("the SMTP server refused the message: {error}"),
            },
            Err(error) => SendOutcome::Failed {
                error: format!("SMTP: {error}"),
            },
        }
    }
}

/// Everything the email dispatcher runs with.
pub struct EmailDispatcher {
    pub store: Arc<dyn EmailStore>,
    pub sender: Arc<dyn EmailSender>,
    pub clock: Arc<dyn Clock>,
    /// The server's public URL, for the extension call in the messages.
    pub public_url: String,
    /// The host in each `Message-ID`.
    pub host: String,
    pub config: DispatchConfig,
    pub timing: WorkerTiming,
}

#[async_trait]
impl Passes for EmailDispatcher {
    const CHANNEL: &'static str = "email";

    fn config(&self) -> &DispatchConfig {
        &self.config
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn timing(&self) -> &WorkerTiming {
        &self.timing
    }

    async fn pass(&self, pacing: &Pacing<'_>) -> DomainResult<PassReport> {
        run_email_pass(
            self.store.as_ref(),
            self.sender.as_ref(),
            (&self.public_url, &self.host),
            pacing,
        )
        .await
    }

    async fn next_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        self.store.next_email_due().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms_parse_and_errors_hide_the_password() {
        let plain = SmtpSettings::parse("smtp://relay.example.org").unwrap();
        assert_eq!((plain.port, plain.security), (25, SmtpSecurity::Plain));
        let required = SmtpSettings::parse("smtp://relay:2525?tls=required").unwrap();
        assert_eq!(
            (required.port, required.security),
            (2525, SmtpSecurity::StartTlsRequired)
        );
        let opportunistic = SmtpSettings::parse("smtp://relay?tls=opportunistic").unwrap();
        assert_eq!(
            (opportunistic.port, opportunistic.security),
            (587, SmtpSecurity::StartTlsOpportunistic)
        );
        let implicit = SmtpSettings::parse("smtps://u%40x:p%3As%2Bw%20d@relay").unwrap();
        assert_eq!(
            (implicit.port, implicit.security),
            (465, SmtpSecurity::ImplicitTls)
        );
        assert_eq!(implicit.username.as_deref(), Some("u@x"));
        assert_eq!(implicit.password.as_deref(), Some("p:s+w d"));
        assert!(!format!("{implicit:?}").contains("p:s"));

        for (bad, expected) in [
            ("http://user:hunter2@relay", "scheme must be smtp or smtps"),
            ("smtp://user:hunter2@relay?tls=maybe", "tls=maybe"),
            (
                "smtps://user:hunter2@relay?tls=required",
                "smtps:// is always TLS",
            ),
            (
                "smtp://user:hunter2@relay?x=1",
                "unknown or repeated parameter",
            ),
            ("smtp://user:hunter2@relay/path", "path"),
            ("smtp://user@relay", "both user and password"),
            ("not a url hunter2", "not a URL"),
        ] {
            let error = SmtpSettings::parse(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
            assert!(!error.contains("hunter2"), "{bad}: {error}");
        }
        assert!(parse_from("Writ <writ@example.org>").is_ok());
        assert!(parse_from("not an address").is_err());
        assert!(SmtpConfig::parse(None, None, None).unwrap().is_none());
        assert!(
            SmtpConfig::parse(Some("smtp://relay"), None, None)
                .unwrap_err()
                .contains("smtp_from")
        );
        let config = SmtpConfig::parse(Some("smtp://relay"), Some("writ@example.org"), None)
            .unwrap()
            .unwrap();
        assert_eq!(config.from.email.to_string(), "writ@example.org");
    }

    #[test]
    fn a_ca_file_must_hold_usable_certificates_and_needs_tls() {
        let dir = std::env::temp_dir().join(format!("writ-ca-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let no_pem = dir.join("key.pem");
        std::fs::write(
            &no_pem,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for (path, expected) in [
            (&missing, "cannot be read"),
            (&no_pem, "no PEM certificate"),
            (&garbage, "not a usable CA certificate"),
        ] {
            let error = SmtpConfig::parse(
                Some("smtps://u:hunter2@relay"),
                Some("writ@example.org"),
                Some(path),
            )
            .unwrap_err();
            assert!(error.contains(expected), "{error}");
            assert!(error.contains("smtp_ca_file"), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
        assert!(
            SmtpConfig::parse(None, None, Some(&missing))
                .unwrap_err()
                .contains("without notifications.smtp_url")
        );
        assert!(
            SmtpConfig::parse(Some("smtp://relay"), Some("w@example.org"), Some(&missing))
                .unwrap_err()
                .contains("uses no TLS")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
