//! Notification email end to end against a real SMTP server process, on SQLite and PostgreSQL:
//! `aiosmtpd` (PyPI) started by the test through `smtp_relay.py` (plain, STARTTLS or implicit
//! TLS with a certificate from a CA the test makes, AUTH when asked), storing what it accepts in
//! a Maildir that Python's own `email` package reads back; the real `lettre` sender; the
//! dispatcher's passes driven by hand with the manual clock, so that retries fall due by moving
//! time rather than by sleeping.
//!
//! The Python with `aiosmtpd` (and `cryptography`, for the certificates) is
//! `WRIT_TEST_AIOSMTPD_PYTHON`, else the first of `$CARGO_TARGET_DIR/smtp-venv`,
//! `target/smtp-venv`, `target/e2e-venv` and `python3` that can import them; when none can, each
//! test says so and passes without running, except under CI (`CI` set, as CI services do),
//! where that is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use axum::http::Method;
use serde_json::{Value, json};
use time::Duration;
use writ_domain::audit::{OutboxEvent, Recipient};
use writ_domain::clock::Clock;
use writ_domain::dispatch::Pacing;
use writ_domain::dispatch::PassReport;
use writ_domain::email::{EmailSender, run_email_pass};
use writ_domain::store::Store;
use writ_domain::webhooks::{DispatchConfig, SendOutcome};
use writ_runtime::email::{SmtpConfig, SmtpEmailSender};
use writ_store::Backend;

use crate::agents::{create_agent, fleet};
use crate::harness::{PUBLIC_URL, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

fn python_with_aiosmtpd() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(python) = std::env::var("WRIT_TEST_AIOSMTPD_PYTHON") {
        candidates.push(python.into());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    for venv in [
        target.join("smtp-venv"),
        workspace.join("target/smtp-venv"),
        workspace.join("target/e2e-venv"),
    ] {
        candidates.push(venv.join("bin/python"));
    }
    candidates.push("python3".into());
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd, cryptography"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Whether the tests run under CI (`CI` set to anything but `false` or `0`), where a missing
/// SMTP server fails them instead of skipping.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// How the relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    /// `smtp://…?tls=required`: STARTTLS, required by the relay before `MAIL`.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Smtps,
}

/// The user and password the relay requires when it requires AUTH (the password needs
/// percent-encoding in the URL).
const USER: &str = "notices";
const PASSWORD: &str = "pa:ss w@rd+1";

/// A running `smtp_relay.py serve` storing messages in a Maildir; stopped when dropped.
struct SmtpServer {
    python: PathBuf,
    port: u16,
    security: Security,
    auth: bool,
    dir: tempdir::Dir,
    child: Option<Child>,
}

/// A directory removed when dropped (no new dependency for it).
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn relay_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/smtp_relay.py")
}

impl SmtpServer {
    /// A plain relay without AUTH, prepared but not started; `None` (with a note) without
    /// aiosmtpd, a failure under CI.
    fn prepare() -> Option<Self> {
        Self::prepare_with(Security::Plain, false)
    }

    /// A relay with this security, requiring AUTH (`USER`, `PASSWORD`) if `auth`; with TLS, a
    /// fresh CA and a certificate for 127.0.0.1 signed by it (`ca_file`).
    fn prepare_with(security: Security, auth: bool) -> Option<Self> {
        let Some(python) = python_with_aiosmtpd() else {
            let note = "no Python with aiosmtpd and cryptography (scripts/e2e-venv.sh makes \
                        target/e2e-venv; or set WRIT_TEST_AIOSMTPD_PYTHON)";
            assert!(
                !under_ci(),
                "CI is set, so the email tests may not skip: {note}"
            );
            eprintln!("SKIPPED: {note}");
            return None;
        };
        let dir =
            tempdir::Dir(std::env::temp_dir().join(format!("writ-smtp-{}", uuid::Uuid::new_v4())));
        std::fs::create_dir_all(&dir.0).unwrap();
        if security != Security::Plain {
            let status = Command::new(&python)
                .arg(relay_script())
                .arg("certs")
                .arg(dir.0.join("certs"))
                .status()
                .unwrap();
            assert!(status.success(), "smtp_relay.py certs failed");
        }
        Some(Self {
            python,
            port: free_port(),
            security,
            auth,
            dir,
            child: None,
        })
    }

    fn maildir(&self) -> PathBuf {
        self.dir.0.join("maildir")
    }

    /// The CA that signed the relay's certificate.
    fn ca_file(&self) -> PathBuf {
        self.dir.0.join("certs/ca.pem")
    }

    /// The relay's URL with the right scheme and `tls`, with these credentials.
    fn url_as(&self, credentials: Option<(&str, &str)>) -> String {
        let userinfo = credentials.map_or(String::new(), |(user, password)| {
            let encode =
                |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            format!("{}:{}@", encode(user), encode(password).replace('+', "%20"))
        });
        match self.security {
            Security::Plain => format!("smtp://{userinfo}127.0.0.1:{}", self.port),
            Security::StartTls => {
                format!("smtp://{userinfo}127.0.0.1:{}?tls=required", self.port)
            }
            Security::Smtps => format!("smtps://{userinfo}127.0.0.1:{}", self.port),
        }
    }

    /// The URL with the relay's own credentials when it requires AUTH.
    fn url(&self) -> String {
        self.url_as(self.auth.then_some((USER, PASSWORD)))
    }

    async fn start(&mut self) {
        let mut command = Command::new(&self.python);
        command
            .arg(relay_script())
            .arg("serve")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg(self.maildir());
        let certs = self.dir.0.join("certs");
        match self.security {
            Security::Plain => {}
            Security::StartTls => {
                command
                    .arg("--starttls")
                    .args([certs.join("server.pem"), certs.join("server.key")]);
            }
            Security::Smtps => {
                command
                    .arg("--smtps")
                    .args([certs.join("server.pem"), certs.join("server.key")]);
            }
        }
        if self.auth {
            command.arg("--auth").arg(format!("{USER}:{PASSWORD}"));
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(StdDuration::from_millis(25)).await;
        }
        panic!("aiosmtpd did not listen on {}", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What arrived, parsed by Python's `email` package: one object per message.
    fn received(&self) -> Vec<Value> {
        if !self.maildir().exists() {
            return Vec::new();
        }
        let script = r#"
import email, email.policy, json, mailbox, sys
out = []
for key, msg in mailbox.Maildir(sys.argv[1], factory=None, create=False).items():
    m = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    text = m.get_body(("plain",))
    html = m.get_body(("html",))
    out.append({
        "messageId": m["Message-ID"], "from": m["From"], "to": m["To"],
        "subject": m["Subject"], "date": m["Date"], "contentType": m.get_content_type(),
        "rcptTo": m["X-RcptTo"], "security": m["X-Relay-Security"], "login": m["X-Auth-Login"],
        "text": text.get_content() if text else None,
        "html": html.get_content() if html else None,
    })
print(json.dumps(out))
"#;
        let output = Command::new(&self.python)
            .args(["-c", script])
            .arg(self.maildir())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut messages: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        messages.sort_by_key(|m| m["messageId"].as_str().unwrap_or_default().to_owned());
        messages
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sender(url: &str) -> SmtpEmailSender {
    sender_trusting(url, None)
}

/// A sender that trusts `ca_file` besides the platform's roots (`notifications.smtp_ca_file`).
fn sender_trusting(url: &str, ca_file: Option<&Path>) -> SmtpEmailSender {
    let config = SmtpConfig::parse(Some(url), Some("Writ Notices <writ@writ.test>"), ca_file)
        .unwrap()
        .unwrap();
    SmtpEmailSender::new(&config, "writ.test").unwrap()
}

fn config(max_attempts: u32) -> DispatchConfig {
    DispatchConfig {
        worker_id: "mailer-1".into(),
        max_attempts,
        ..DispatchConfig::default()
    }
}

async fn pass(
    app: &TestApp,
    sender: &dyn EmailSender,
    config: &DispatchConfig,
    stopping: bool,
) -> PassReport {
    let stop = move || stopping;
    let pacing = Pacing {
        config,
        clock: &app.clock,
        jitter: &|| 0.0,
        stopping: &stop,
    };
    run_email_pass(&app.store, sender, (PUBLIC_URL, "writ.test"), &pacing)
        .await
        .unwrap()
}

/// An agent with two sponsors (one without a mailbox in the event) and a package, by their API.
struct Cast {
    agent: String,
    package: String,
}

async fn cast(app: &TestApp) -> Cast {
    let fleet = fleet(app).await;
    let agent = create_agent(app, &fleet, "Invoice Bot <β>", &[&fleet.sponsor]).await;
    let catalog = app
        .send(
            Method::POST,
            &format!("{EM}/catalogs"),
            &app.admin,
            json!({"displayName": "Finance"}),
        )
        .await;
    let package = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages"),
            &app.admin,
            json!({"displayName": "Ledger & Payments", "catalog": {"id": catalog.body["id"]}}),
        )
        .await;
    assert_eq!(package.status.as_u16(), 201, "{}", package.body);
    Cast {
        agent: agent.body["id"].as_str().unwrap().to_owned(),
        package: package.body["id"].as_str().unwrap().to_owned(),
    }
}

fn recipient(id: &str, mail: Option<&str>) -> Recipient {
    Recipient {
        id: id.into(),
        kind: "user".into(),
        mail: mail.map(str::to_owned),
    }
}

async fn add_event(
    app: &TestApp,
    event_type: &str,
    cast: &Cast,
    recipients: Vec<Recipient>,
) -> OutboxEvent {
    let event = OutboxEvent::new(
        event_type,
        app.clock.now(),
        json!({"assignmentId": "a-1", "accessPackageId": cast.package, "targetId": cast.agent,
               "endDateTime": "2026-12-01T10:00:00Z", "leadTime": "P1D"}),
        recipients,
    );
    let mut tx = app.store.begin().await.unwrap();
    tx.enqueue_event(&event).await.unwrap();
    tx.commit().await.unwrap();
    event
}

/// Each mailed event reaches each recipient with a mailbox once, as text and HTML naming the
/// agent, the package, the end and how to extend; a recipient without mail and an event type
/// that is not mailed get nothing; routing again sends nothing again.
async fn each_recipient_with_a_mailbox_gets_one_message(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else {
        return;
    };
    smtp.start().await;
    let app = app(backend).await;
    let cast = cast(&app).await;
    let notice = add_event(
        &app,
        "assignment.expiringSoon",
        &cast,
        vec![
            recipient("s-1", Some("sponsor.one@example.org")),
            recipient("s-2", Some("sponsor.two@example.org")),
            recipient("s-3", None),
        ],
    )
    .await;
    add_event(
        &app,
        "request.created",
        &cast,
        vec![recipient("s-1", Some("sponsor.one@example.org"))],
    )
    .await;
    let sender = sender(&smtp.url());
    let report = pass(&app, &sender, &config(5), false).await;
    assert_eq!(
        (report.routed, report.claimed, report.delivered),
        (2, 2, 2),
        "{report:?}"
    );
    let again = pass(&app, &sender, &config(5), false).await;
    assert_eq!((again.routed, again.claimed), (0, 0), "{again:?}");

    let received = smtp.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    for (message, (id, mail)) in received.iter().zip([
        ("s-1", "sponsor.one@example.org"),
        ("s-2", "sponsor.two@example.org"),
    ]) {
        assert_eq!(
            message["messageId"],
            format!("<{}.{id}@writ.test>", notice.id)
        );
        assert_eq!(message["from"], "Writ Notices <writ@writ.test>");
        assert_eq!(message["to"], mail);
        assert_eq!(message["rcptTo"], mail);
        assert_eq!(message["contentType"], "multipart/alternative");
        assert_eq!(
            message["subject"],
            "Access of Invoice Bot <β> to Ledger & Payments expires soon"
        );
        let text = message["text"].as_str().unwrap();
        for expected in [
            "Agent: Invoice Bot <β>",
            "Access package: Ledger & Payments",
            "Ends: 2026-12-01T10:00:00Z (Tuesday 1 December 2026, 10:00 UTC)",
            "Extend the access: http://writ.test/portal/assignments/a-1#extend\n",
            "POST http://writ.test/v1.0/identityGovernance/entitlementManagement/assignmentRequests",
            r#""requestType": "userUpdate", "assignment": {"id": "a-1"}"#,
            "adminUpdate",
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
        let html = message["html"].as_str().unwrap();
        for expected in [
            "Invoice Bot &lt;β&gt;",
            "Ledger &amp; Payments",
            "2026-12-01T10:00:00Z",
            "<a href=\"http://writ.test/portal/assignments/a-1#extend\">Extend the access</a>",
            "assignmentRequests",
            "&quot;userUpdate&quot;",
        ] {
            assert!(html.contains(expected), "{expected} not in {html}");
        }
        assert!(!html.contains("<β>"), "unescaped name in {html}");
    }
}

/// The relay is down: the attempt is retried with backoff (the clock moved, no sleeping), and
/// the message arrives once the relay is back, with the same Message-ID; with the relay down for
/// good the delivery is dead-lettered after the bounded attempts.
async fn a_relay_that_is_down_is_retried_then_dead_lettered(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else {
        return;
    };
    let app = app(backend).await;
    let cast = cast(&app).await;
    let sender = sender(&smtp.url());
    let event = add_event(
        &app,
        "assignment.expired",
        &cast,
        vec![recipient("s-1", Some("one@example.org"))],
    )
    .await;
    let report = pass(&app, &sender, &config(3), false).await;
    assert_eq!(
        (report.claimed, report.retried, report.delivered),
        (1, 1, 0),
        "{report:?}"
    );
    // Not due yet: nothing claimed.
    assert_eq!(pass(&app, &sender, &config(3), false).await.claimed, 0);
    smtp.start().await;
    app.clock.advance(Duration::seconds(2));
    let report = pass(&app, &sender, &config(3), false).await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0]["messageId"],
        format!("<{}.s-1@writ.test>", event.id)
    );
    assert_eq!(
        received[0]["subject"],
        "Access of Invoice Bot <β> to Ledger & Payments has expired"
    );

    smtp.stop();
    add_event(
        &app,
        "assignment.removed",
        &cast,
        vec![recipient("s-1", Some("one@example.org"))],
    )
    .await;
    let mut dead = Vec::new();
    for _ in 0..3 {
        let report = pass(&app, &sender, &config(3), false).await;
        assert_eq!(report.claimed, 1, "{report:?}");
        dead.extend(report.dead_lettered);
        app.clock.advance(Duration::minutes(1));
    }
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].reason.contains("gave up after 3 attempts"),
        "{}",
        dead[0].reason
    );
    assert_eq!(pass(&app, &sender, &config(3), false).await.claimed, 0);
}

/// A shutdown releases what it claimed and did not send: the next pass sends each message
/// once, and a crashed worker's lease running out resends with the same Message-ID.
async fn shutdown_releases_and_a_crash_resends_the_same_message_id(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare() else {
        return;
    };
    smtp.start().await;
    let app = app(backend).await;
    let cast = cast(&app).await;
    let sender = sender(&smtp.url());
    let event = add_event(
        &app,
        "approval.stageAssigned",
        &cast,
        vec![recipient("ap-1", Some("approver@example.org"))],
    )
    .await;
    let report = pass(&app, &sender, &config(5), true).await;
    assert_eq!(
        (report.claimed, report.released, report.delivered),
        (1, 1, 0),
        "{report:?}"
    );
    assert!(smtp.received().is_empty());

    // A worker claims and "dies" before recording: its lease runs out, another resends.
    use writ_domain::email::EmailStore;
    let now = app.clock.now();
    let claimed = app
        .store
        .claim_email_deliveries("dead-worker", now, now + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        pass(&app, &sender, &config(5), false).await.claimed,
        0,
        "the lease holds"
    );
    app.clock.advance(Duration::seconds(61));
    let report = pass(&app, &sender, &config(5), false).await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0]["messageId"],
        format!("<{}.ap-1@writ.test>", event.id)
    );
    assert_eq!(
        received[0]["subject"],
        "Approval needed: Invoice Bot <β> requests Ledger & Payments"
    );
    let text = received[0]["text"].as_str().unwrap();
    assert!(
        !text.contains("Extend the access") && !text.contains("For scripts"),
        "{text}"
    );
}

/// STARTTLS (`smtp://…?tls=required`) and implicit TLS (`smtps://`) to a relay whose
/// certificate comes from a private CA (`notifications.smtp_ca_file`) and that requires AUTH:
/// each message arrives over TLS, authenticated as the URL's user.
async fn starttls_and_implicit_tls_with_auth_deliver(backend: Backend) {
    let app = app(backend).await;
    let cast = cast(&app).await;
    for (security, expected) in [(Security::StartTls, "starttls"), (Security::Smtps, "smtps")] {
        let Some(mut smtp) = SmtpServer::prepare_with(security, true) else {
            return;
        };
        smtp.start().await;
        let sender = sender_trusting(&smtp.url(), Some(&smtp.ca_file()));
        let event = add_event(
            &app,
            "assignment.expiringSoon",
            &cast,
            vec![recipient("s-1", Some("sponsor.one@example.org"))],
        )
        .await;
        let report = pass(&app, &sender, &config(5), false).await;
        assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
        let received = smtp.received();
        assert_eq!(received.len(), 1, "{received:#?}");
        assert_eq!(
            received[0]["messageId"],
            format!("<{}.s-1@writ.test>", event.id)
        );
        assert_eq!(received[0]["security"], expected);
        assert_eq!(received[0]["login"], USER);
        assert_eq!(received[0]["rcptTo"], "sponsor.one@example.org");
    }
}

/// A relay whose certificate the platform does not trust (no `smtp_ca_file`): nothing is sent
/// in clear, each attempt fails on the certificate and is retried, and the delivery is
/// dead-lettered after the bounded attempts, as the administrators' list shows.
async fn an_untrusted_certificate_is_retried_then_dead_lettered(backend: Backend) {
    let app = app(backend).await;
    let cast = cast(&app).await;
    for security in [Security::StartTls, Security::Smtps] {
        let Some(mut smtp) = SmtpServer::prepare_with(security, true) else {
            return;
        };
        smtp.start().await;
        let sender = sender(&smtp.url());
        let event = add_event(
            &app,
            "assignment.expired",
            &cast,
            vec![recipient("s-1", Some("one@example.org"))],
        )
        .await;
        let first = pass(&app, &sender, &config(3), false).await;
        assert_eq!(
            (first.claimed, first.retried, first.delivered),
            (1, 1, 0),
            "{security:?}: {first:?}"
        );
        let mut dead = Vec::new();
        for _ in 0..2 {
            app.clock.advance(Duration::minutes(1));
            let report = pass(&app, &sender, &config(3), false).await;
            assert_eq!(report.claimed, 1, "{security:?}: {report:?}");
            dead.extend(report.dead_lettered);
        }
        assert_eq!(dead.len(), 1, "{security:?}: {dead:?}");
        assert_eq!(dead[0].event_id, event.id);
        assert!(
            dead[0].reason.contains("gave up after 3 attempts")
                && dead[0].reason.to_lowercase().contains("certificate"),
            "{security:?}: {}",
            dead[0].reason
        );
        assert!(!dead[0].reason.contains(PASSWORD), "{}", dead[0].reason);
        assert!(smtp.received().is_empty(), "{security:?}");
        let row = &deliveries(&app, &format!("?$filter=eventId eq '{}'", event.id)).await[0];
        assert_eq!(
            (&row["state"], &row["attempts"]),
            (&json!("deadLettered"), &json!(3)),
            "{row}"
        );
        assert!(
            row["lastError"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("certificate"),
            "{row}"
        );
    }
}

/// A wrong password, or none, where the relay requires AUTH: nothing is delivered, and the
/// relay's 5xx refusal dead-letters the delivery at once (retrying cannot fix credentials).
async fn wrong_credentials_do_not_deliver(backend: Backend) {
    let Some(mut smtp) = SmtpServer::prepare_with(Security::StartTls, true) else {
        return;
    };
    smtp.start().await;
    let app = app(backend).await;
    let cast = cast(&app).await;
    for credentials in [Some((USER, "not the password")), None] {
        let sender = sender_trusting(&smtp.url_as(credentials), Some(&smtp.ca_file()));
        add_event(
            &app,
            "assignment.removed",
            &cast,
            vec![recipient("s-1", Some("one@example.org"))],
        )
        .await;
        let report = pass(&app, &sender, &config(5), false).await;
        assert_eq!(
            (report.claimed, report.delivered, report.dead_lettered.len()),
            (1, 0, 1),
            "{credentials:?}: {report:?}"
        );
        let reason = &report.dead_lettered[0].reason;
        assert!(reason.contains("refused"), "{credentials:?}: {reason}");
        assert!(!reason.contains("not the password"), "{reason}");
    }
    assert!(smtp.received().is_empty());
}

/// A relay that greets and then never answers: the exchange is given up on after the
/// sender's timeout (lettre's own covers only connecting) and retried, never left hanging
/// past its lease.
async fn a_relay_that_stops_answering_times_out_and_is_retried(backend: Backend) {
    let app = app(backend).await;
    let cast = cast(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mute = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"220 mute.test ESMTP\r\n").await;
            held.push(stream);
        }
    });
    let sender =
        sender(&format!("smtp://127.0.0.1:{port}")).with_timeout(StdDuration::from_millis(500));
    add_event(
        &app,
        "assignment.expired",
        &cast,
        vec![recipient("s-1", Some("one@example.org"))],
    )
    .await;
    let started = std::time::Instant::now();
    let report = pass(&app, &sender, &config(5), false).await;
    assert_eq!(
        (report.claimed, report.retried, report.delivered),
        (1, 1, 0),
        "{report:?}"
    );
    assert!(started.elapsed() < StdDuration::from_secs(10));
    let rows = deliveries(&app, "").await;
    let row = &rows[0];
    assert_eq!(row["state"], "pending", "{row}");
    assert!(
        row["lastError"].as_str().unwrap().contains("no answer"),
        "{row}"
    );
    mute.abort();
}

const DELIVERIES: &str = "/writ/v1/emailDeliveries";

async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("{DELIVERIES}{}", query.replace(' ', "%20")),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.body["value"].as_array().unwrap().clone()
}

/// A sender that answers by address and event without a relay: `two@…` is refused (550), the
/// event `failing` fails transiently, the rest is accepted (250).
struct ScriptedSender {
    failing: String,
}

#[async_trait::async_trait]
impl EmailSender for ScriptedSender {
    async fn send(&self, message: &writ_domain::email::EmailMessage) -> SendOutcome {
        if message.to.starts_with("two@") {
            SendOutcome::Refused {
                reason: "the SMTP server refused the message: 550 no such mailbox".into(),
            }
        } else if message.message_id.contains(&self.failing) {
            SendOutcome::Failed {
                error: "SMTP: connection refused".into(),
            }
        } else {
            SendOutcome::Answered {
                status: 250,
                retry_after: None,
            }
        }
    }
}

/// Administrators list the deliveries with their recipient, Message-ID, state, attempts, last
/// error and times, filter them by state, page and select them, and read one by id; nothing else
/// is in a row. Anyone else gets 403 (also for an id that does not exist), no token 401.
async fn deliveries_are_listed_for_administrators_only(backend: Backend) {
    let app = app(backend).await;
    let cast = cast(&app).await;
    let notice = add_event(
        &app,
        "assignment.expiringSoon",
        &cast,
        vec![
            recipient("s-1", Some("one@example.org")),
            recipient("s-2", Some("two@example.org")),
            recipient("s-3", None),
        ],
    )
    .await;
    let expired = add_event(
        &app,
        "assignment.expired",
        &cast,
        vec![recipient("s-1", Some("one@example.org"))],
    )
    .await;
    let sender = ScriptedSender {
        failing: expired.id.clone(),
    };
    let report = pass(&app, &sender, &config(5), false).await;
    assert_eq!(
        (report.delivered, report.retried, report.dead_lettered.len()),
        (1, 1, 1),
        "{report:?}"
    );

    let all = deliveries(&app, "?$count=true").await;
    assert_eq!(all.len(), 3, "{all:#?}");
    let keys: Vec<&str> = all[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "eventId",
        "eventType",
        "recipientId",
        "recipientMail",
        "messageId",
        "state",
        "attempts",
        "lastStatusCode",
        "lastError",
        "lastAttemptDateTime",
        "nextAttemptDateTime",
        "createdDateTime",
        "deliveredDateTime",
        "deadLetteredDateTime",
    ];
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected);

    let find = |event: &str, recipient: &str| {
        all.iter()
            .find(|r| r["eventId"] == event && r["recipientId"] == recipient)
            .unwrap_or_else(|| panic!("no row for {event}/{recipient}: {all:#?}"))
            .clone()
    };
    let sent = find(&notice.id, "s-1");
    assert_eq!(sent["state"], "delivered");
    assert_eq!(sent["eventType"], "assignment.expiringSoon");
    assert_eq!(sent["recipientMail"], "one@example.org");
    assert_eq!(sent["messageId"], format!("<{}.s-1@writ.test>", notice.id));
    assert_eq!(
        (&sent["attempts"], &sent["lastStatusCode"]),
        (&json!(1), &json!(250))
    );
    assert!(sent["deliveredDateTime"].is_string() && sent["nextAttemptDateTime"].is_null());
    let refused = find(&notice.id, "s-2");
    assert_eq!(refused["state"], "deadLettered");
    assert!(
        refused["lastError"].as_str().unwrap().contains("550"),
        "{refused}"
    );
    assert!(refused["deadLetteredDateTime"].is_string());
    let waiting = find(&expired.id, "s-1");
    assert_eq!(waiting["state"], "pending");
    assert_eq!(waiting["attempts"], 1);
    assert!(waiting["nextAttemptDateTime"].is_string(), "{waiting}");
    assert_eq!(waiting["lastError"], "SMTP: connection refused");

    let dead = deliveries(&app, "?$filter=state eq 'deadLettered'").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["id"], refused["id"]);
    let pending = deliveries(&app, "?$filter=state eq 'pending' and recipientId eq 's-1'").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], waiting["id"]);

    // Paging, count and $select.
    let page = app
        .get(&format!("{DELIVERIES}?$top=2&$count=true"), &app.admin)
        .await;
    assert_eq!(page.body["@odata.count"], 3, "{}", page.body);
    assert_eq!(page.body["value"].as_array().unwrap().len(), 2);
    let next = page.body["@odata.nextLink"].as_str().unwrap();
    let next = &next[next.find("/writ/").unwrap()..];
    let rest = app.get(next, &app.admin).await;
    assert_eq!(
        rest.body["value"].as_array().unwrap().len(),
        1,
        "{}",
        rest.body
    );
    let selected = deliveries(&app, "?$select=id,state").await;
    assert_eq!(selected[0].as_object().unwrap().len(), 2, "{selected:?}");

    // One by id.
    let id = sent["id"].as_str().unwrap();
    let one = app.get(&format!("{DELIVERIES}/{id}"), &app.admin).await;
    assert_eq!(one.status.as_u16(), 200, "{}", one.body);
    assert_eq!(one.body, sent);
    let missing = app
        .get(&format!("{DELIVERIES}/no-such-id"), &app.admin)
        .await;
    assert_eq!(missing.status.as_u16(), 404, "{}", missing.body);
    let bad = app
        .get(
            &format!("{DELIVERIES}?$filter=state%20eq%20'lost'"),
            &app.admin,
        )
        .await;
    assert_eq!(bad.status.as_u16(), 400, "{}", bad.body);

    // Nobody else.
    let (_, user) = app.user_token("Plain User").await;
    for path in [
        DELIVERIES.to_owned(),
        format!("{DELIVERIES}/{id}"),
        format!("{DELIVERIES}/no-such-id"),
    ] {
        let reply = app.get(&path, &user).await;
        assert_eq!(reply.status.as_u16(), 403, "{path}: {}", reply.body);
        assert_eq!(reply.error_code(), "accessDenied");
        let reply = app.request(Method::GET, &path, None, None, &[]).await;
        assert_eq!(reply.status.as_u16(), 401, "{path}");
    }
}

crate::on_both_backends!(
    each_recipient_with_a_mailbox_gets_one_message,
    a_relay_that_is_down_is_retried_then_dead_lettered,
    shutdown_releases_and_a_crash_resends_the_same_message_id,
    starttls_and_implicit_tls_with_auth_deliver,
    an_untrusted_certificate_is_retried_then_dead_lettered,
    wrong_credentials_do_not_deliver,
    a_relay_that_stops_answering_times_out_and_is_retried,
    deliveries_are_listed_for_administrators_only,
);
