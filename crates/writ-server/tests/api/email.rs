//! Notification email end to end against a real SMTP server process, on SQLite and PostgreSQL:
//! `aiosmtpd` (PyPI) started by the test, storing what it accepts in a Maildir that Python's own
//! `email` package reads back; the real `lettre` sender; the dispatcher's passes driven by hand
//! with the manual clock, so that retries fall due by moving time rather than by sleeping.
//!
//! The Python with `aiosmtpd` is `WRIT_TEST_AIOSMTPD_PYTHON`, else the first of
//! `$CARGO_TARGET_DIR/smtp-venv`, `target/smtp-venv`, `target/e2e-venv` and `python3` that can
//! import it; when none can, each test says so and passes without running.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use axum::http::Method;
use serde_json::{Value, json};
use time::Duration;
use writ_domain::audit::{OutboxEvent, Recipient};
use writ_domain::clock::Clock;
use writ_domain::dispatch::PassReport;
use writ_domain::email::{EmailContext, EmailSender, run_email_pass};
use writ_domain::store::Store;
use writ_domain::webhooks::DispatchConfig;
use writ_server::email::{SmtpConfig, SmtpEmailSender};
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
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A running `python -m aiosmtpd` storing messages in a Maildir; stopped when dropped.
struct SmtpServer {
    python: PathBuf,
    port: u16,
    maildir: tempdir::Dir,
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

impl SmtpServer {
    /// Prepared but not started; `None` (with a note) without aiosmtpd.
    fn prepare() -> Option<Self> {
        let Some(python) = python_with_aiosmtpd() else {
            eprintln!(
                "SKIPPED: no Python with aiosmtpd (pip install aiosmtpd into \
                 $CARGO_TARGET_DIR/smtp-venv, or set WRIT_TEST_AIOSMTPD_PYTHON)"
            );
            return None;
        };
        let dir = std::env::temp_dir().join(format!("writ-smtp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Self {
            python,
            port: free_port(),
            maildir: tempdir::Dir(dir.join("maildir")),
            child: None,
        })
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) {
        let child = Command::new(&self.python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..200 {
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
        if !self.maildir.0.exists() {
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
        "rcptTo": m["X-RcptTo"],
        "text": text.get_content() if text else None,
        "html": html.get_content() if html else None,
    })
print(json.dumps(out))
"#;
        let output = Command::new(&self.python)
            .args(["-c", script])
            .arg(&self.maildir.0)
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
    let config = SmtpConfig::parse(Some(url), Some("Writ Notices <writ@writ.test>"))
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
    let cx = EmailContext {
        public_url: PUBLIC_URL,
        host: "writ.test",
        config,
        clock: &app.clock,
        jitter: &|| 0.0,
        stopping: &stop,
    };
    run_email_pass(&app.store, sender, &cx).await.unwrap()
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
    assert!(
        !received[0]["text"]
            .as_str()
            .unwrap()
            .contains("To extend it")
    );
}

crate::on_both_backends!(
    each_recipient_with_a_mailbox_gets_one_message,
    a_relay_that_is_down_is_retried_then_dead_lettered,
    shutdown_releases_and_a_crash_resends_the_same_message_id,
);
