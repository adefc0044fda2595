//! The real `writ serve` binary on SQLite: the files that hold secrets (issue 14 item 9) and
//! the metrics listener (item 10). The database it creates, with its `-wal` and `-shm` files, is
//! private to the owner (0600); start-up warns about a signing key file or audit key file that
//! group or others may read; with `WRIT_METRICS_LISTEN`, `/metrics` moves to that listener. Bad
//! single sign-on settings stop start-up (issue 16).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A `writ serve` child and the lines it writes to stderr.
struct Serving {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Serving {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_writ"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--database")
            .arg(format!("sqlite://{}", dir.join("writ.db").display()))
            .env_clear()
            .env("WRIT_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most a minute) for a line containing `text`.
    fn wait_for(&mut self, text: &str) {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no '{text}' in:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The string field `field` of the first logged line that has it.
    fn field(&self, field: &str) -> String {
        self.seen
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|l| l[field].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no {field} in {:#?}", self.seen))
    }

    /// The warnings logged so far that name `file`.
    fn warnings_about(&self, file: &Path) -> Vec<&String> {
        let name = file.display().to_string();
        self.seen
            .iter()
            .filter(|l| l.contains("\"WARN\"") && l.contains(&name))
            .collect()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn secrets_on_disk_are_private_and_exposed_key_files_are_warned_about() {
    let dir = std::env::temp_dir().join(format!("writ-start-up-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit_key = dir.join("audit-key");
    std::fs::write(&audit_key, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n").unwrap();
    std::fs::set_permissions(&audit_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let signing_key = dir.join("signing-key.pem");
    let der = writ_server::tokens::generate_signing_key().unwrap();
    std::fs::write(
        &signing_key,
        format!("-----BEGIN PRIVATE KEY-----\n{der}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    std::fs::set_permissions(&signing_key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let env = [
        ("WRIT_AUDIT_KEY_FILE", audit_key.to_str().unwrap()),
        ("WRIT_SIGNING_KEY_FILE", signing_key.to_str().unwrap()),
    ];

    let mut serving = Serving::start(&dir, &env);
    serving.wait_for("writ is serving");
    let database = dir.join("writ.db");
    for file in [
        database.clone(),
        dir.join("writ.db-wal"),
        dir.join("writ.db-shm"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for (file, setting) in [
        (&audit_key, "audit.key_file"),
        (&signing_key, "tokens.signing_key_file"),
    ] {
        let warnings = serving.warnings_about(file);
        assert_eq!(warnings.len(), 1, "{}: {:#?}", file.display(), serving.seen);
        assert!(warnings[0].contains(setting), "{}", warnings[0]);
    }
    assert!(serving.warnings_about(&database).is_empty());
    drop(serving);

    // Private files: no warning. And /metrics on a listener of its own.
    for file in [&audit_key, &signing_key] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut env = env.to_vec();
    env.push(("WRIT_METRICS_LISTEN", "127.0.0.1:0"));
    let mut serving = Serving::start(&dir, &env);
    serving.wait_for("writ is serving");
    serving.wait_for("serving /metrics on its own listener");
    for file in [&audit_key, &signing_key] {
        assert!(
            serving.warnings_about(file).is_empty(),
            "{:#?}",
            serving.seen
        );
    }
    let api = serving.field("listen");
    let metrics = serving.field("metrics_listen");
    assert_ne!(api, metrics);
    assert!(get(&api, "/healthz").starts_with("HTTP/1.1 200"));
    assert!(get(&api, "/metrics").starts_with("HTTP/1.1 404"));
    let exposition = get(&metrics, "/metrics");
    assert!(exposition.starts_with("HTTP/1.1 200"), "{exposition}");
    assert!(
        exposition.contains("writ_http_requests_total"),
        "{exposition}"
    );
    assert!(get(&metrics, "/healthz").starts_with("HTTP/1.1 404"));
    drop(serving);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The raw HTTP/1.1 response to `GET path` at `address`.
fn get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A unique enough name for a test directory, without a dependency.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

/// Single sign-on settings (issue 16) are checked before anything starts, and a valid upstream
/// is announced in the log.
#[test]
fn sso_settings_are_checked_at_start_up() {
    let dir = std::env::temp_dir().join(format!("writ-sso-start-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}", dir.join("writ.db").display());
    for (env, expected) in [
        (
            vec![
                ("WRIT_SSO_ISSUER", "http://idp.example/realms/staff"),
                ("WRIT_SSO_CLIENT_ID", "writ"),
            ],
            "must be an https:// URL",
        ),
        (
            vec![("WRIT_SIGN_IN", "sso")],
            "needs single sign-on configured",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_writ"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    let mut serving = Serving::start(
        &dir,
        &[
            ("WRIT_SSO_ISSUER", "http://127.0.0.1:9/realms/staff"),
            ("WRIT_SSO_CLIENT_ID", "writ"),
            ("WRIT_SSO_CLIENT_SECRET", "upstream-secret-value"),
        ],
    );
    serving.wait_for("single sign-on through an upstream OpenID provider");
    serving.wait_for("writ is serving");
    assert!(
        !serving
            .seen
            .iter()
            .any(|l| l.contains("upstream-secret-value")),
        "{:#?}",
        serving.seen
    );
    drop(serving);
    let _ = std::fs::remove_dir_all(&dir);
}
