//! The audit key file and the `writ audit verify` / `writ audit export` commands. The key lives
//! outside the database (DESIGN section 9): whoever can write the database but not read this file
//! cannot forge a link of the chain.
//!
//! Key file: base64 (standard alphabet) of at least 32 random bytes, e.g. `openssl rand -base64 32`.
//! Where it is: `audit.key_file`; unset with SQLite, `<database file>.audit-key`; unset with
//! PostgreSQL, an error, because every replica must use the same key. A missing file is created
//! (mode 0600) with a fresh key, and a warning says so.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use writ_domain::audit_chain::{AuditKey, ChainBreak, Checkpoint, verify_chain};
use writ_domain::store::Store;

use crate::config::Config;

/// Records read per query while verifying or exporting.
const PAGE: u32 = 1000;
/// A checkpoint line every this many exported records, and one at the end.
const CHECKPOINT_EVERY: i64 = 10_000;

/// Where the audit key is, from the configuration.
pub fn key_path(config: &Config) -> Result<PathBuf, String> {
    if let Some(path) = &config.audit.key_file {
        return Ok(path.clone());
    }
    let url = &config.database_url.0;
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(
            "audit.key_file (WRIT_AUDIT_KEY_FILE) is required with PostgreSQL: every replica \
             must name the same key file, kept outside the database"
                .into(),
        );
    };
    let file = rest.trim_start_matches("//");
    let file = file.split('?').next().unwrap_or(file);
    if file.is_empty() || file.contains(":memory:") {
        return Err(
            "audit.key_file (WRIT_AUDIT_KEY_FILE) is required with an in-memory database".into(),
        );
    }
    Ok(PathBuf::from(format!("{file}.audit-key")))
}

fn decode(path: &Path, text: &str) -> Result<AuditKey, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("audit key file {}: not base64: {e}", path.display()))?;
    AuditKey::from_bytes(&bytes).map_err(|e| format!("audit key file {}: {e}", path.display()))
}

/// Reads the key file, creating it with a fresh key if it does not exist.
pub fn load_or_create_key(path: &Path) -> Result<AuditKey, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => return decode(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("audit key file {}: {e}", path.display())),
    }
    let bytes = AuditKey::generate_bytes().map_err(|e| e.operator_detail())?;
    let text = format!("{}\n", STANDARD.encode(bytes));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("audit key file {}: {e}", path.display()))?;
            tracing::warn!(
                audit.key_file = %path.display(),
                "created a new audit key; keep a copy outside the database (without it the audit \
                 chain cannot be verified)"
            );
            decode(path, &text)
        }
        // Another process created it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("audit key file {}: {e}", path.display()))?;
            decode(path, &text)
        }
        Err(e) => Err(format!("audit key file {}: {e}", path.display())),
    }
}

/// Reads a key that must already exist (verify and export never create one).
pub fn load_key(path: &Path) -> Result<AuditKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("audit key file {}: {e}", path.display()))?;
    decode(path, &text)
}

fn time_text(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn checkpoint_json(checkpoint: &Checkpoint) -> Value {
    json!({
        "checkpoint": {
            "seq": checkpoint.seq,
            "mac": checkpoint.mac,
            "at": time_text(checkpoint.at),
            "publicKey": checkpoint.public_key,
            "signature": checkpoint.signature,
        }
    })
}

fn checkpoint_from_json(value: &Value) -> Option<Checkpoint> {
    let c = value.get("checkpoint")?;
    Some(Checkpoint {
        seq: c.get("seq")?.as_i64()?,
        mac: c.get("mac")?.as_str()?.to_owned(),
        at: OffsetDateTime::parse(c.get("at")?.as_str()?, &Rfc3339).ok()?,
        public_key: c.get("publicKey")?.as_str()?.to_owned(),
        signature: c.get("signature")?.as_str()?.to_owned(),
    })
}

/// The last checkpoint line of an export file.
pub fn read_last_checkpoint(path: &Path) -> Result<Checkpoint, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("checkpoint file {}: {e}", path.display()))?;
    let mut last = None;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("checkpoint file {}: {e}", path.display()))?;
        if !line.contains("\"checkpoint\"") {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| format!("checkpoint file {}: {e}", path.display()))?;
        last = Some(checkpoint_from_json(&value).ok_or_else(|| {
            format!(
                "checkpoint file {}: a malformed checkpoint line",
                path.display()
            )
        })?);
    }
    last.ok_or_else(|| format!("checkpoint file {} holds no checkpoint", path.display()))
}

/// `writ audit verify`: the report as text, and whether the chain is intact.
pub async fn verify(
    store: &dyn Store,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<(bool, String), String> {
    let report = verify_chain(store, key, checkpoint, PAGE)
        .await
        .map_err(|e| e.operator_detail())?;
    let mut text = String::new();
    match &report.first_break {
        None => {
            text.push_str(&format!(
                "audit chain intact: {} records verified, head at record {}",
                report.verified, report.last.seq
            ));
            if let Some(c) = checkpoint {
                text.push_str(&format!(
                    "; the checkpoint at record {} (exported {}) is included",
                    c.seq,
                    time_text(c.at)
                ));
            }
        }
        Some(found) => {
            text.push_str(&format!(
                "audit chain BROKEN after {} verified records (last good record {}): {found}",
                report.verified, report.last.seq
            ));
            if matches!(found, ChainBreak::CheckpointSignature) {
                text.push_str(" (was the checkpoint file made with another audit key?)");
            }
        }
    }
    if report.unchained > 0 {
        text.push_str(&format!(
            "\n{} records are not linked yet (`writ serve` links them within seconds)",
            report.unchained
        ));
    }
    Ok((report.first_break.is_none(), text))
}

/// `writ audit export`: every linked record in chain order as a JSON line
/// (`{"seq","mac","directoryAudit"}`), a signed checkpoint line every [`CHECKPOINT_EVERY`]
/// records and one at the end. Verifies as it goes and refuses to sign past a broken link.
pub async fn export(
    store: &dyn Store,
    key: &AuditKey,
    now: OffsetDateTime,
    out: &mut dyn Write,
) -> Result<i64, String> {
    let report = verify_chain(store, key, None, PAGE)
        .await
        .map_err(|e| e.operator_detail())?;
    if let Some(found) = report.first_break {
        return Err(format!(
            "the audit chain is broken, nothing was exported: {found}"
        ));
    }
    let io = |e: std::io::Error| format!("writing the export: {e}");
    let mut after: Option<(i64, String)> = None;
    let mut head = writ_domain::audit_chain::ChainHead::default();
    // Only what the verification covered: records linked since are left to the next export.
    'pages: loop {
        let rows = store
            .chained_audits(after.as_ref(), PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(tail) = rows.last() else { break };
        after = Some((tail.seq, tail.id.clone()));
        for row in rows {
            if row.seq > report.last.seq {
                break 'pages;
            }
            let record = row.record.map_err(|e| format!("record {}: {e}", row.seq))?;
            let mac = row.mac.unwrap_or_default();
            let line = json!({
                "seq": row.seq,
                "mac": mac,
                "directoryAudit": writ_server::graph::audit_logs::directory_audit_json(&record),
            });
            writeln!(out, "{line}").map_err(io)?;
            head = writ_domain::audit_chain::ChainHead { seq: row.seq, mac };
            if head.seq % CHECKPOINT_EVERY == 0 {
                writeln!(out, "{}", checkpoint_json(&key.checkpoint(&head, now))).map_err(io)?;
            }
        }
    }
    writeln!(out, "{}", checkpoint_json(&key.checkpoint(&head, now))).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(head.seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("writ-audit-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k");
        let _ = std::fs::remove_file(&path);
        let first = load_or_create_key(&path).unwrap();
        let second = load_or_create_key(&path).unwrap();
        assert_eq!(first.public_key(), second.public_key());
        std::fs::write(&path, "c2hvcnQ=").unwrap();
        assert!(load_key(&path).unwrap_err().contains("at least 32 bytes"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_key_path_follows_the_database() {
        let mut config = Config::default();
        config.database_url.0 = "sqlite:///var/lib/writ/writ.db?mode=rwc".into();
        assert_eq!(
            key_path(&config).unwrap(),
            PathBuf::from("/var/lib/writ/writ.db.audit-key")
        );
        config.database_url.0 = "postgres://writ@db/writ".into();
        assert!(
            key_path(&config)
                .unwrap_err()
                .contains("required with PostgreSQL")
        );
        config.audit.key_file = Some("/etc/writ/audit.key".into());
        assert_eq!(
            key_path(&config).unwrap(),
            PathBuf::from("/etc/writ/audit.key")
        );
    }

    #[test]
    fn checkpoints_round_trip_through_json() {
        let key = AuditKey::from_bytes(&[9u8; 32]).unwrap();
        let head = writ_domain::audit_chain::ChainHead {
            seq: 3,
            mac: "m".into(),
        };
        let checkpoint = key.checkpoint(&head, time::macros::datetime!(2030-01-01 0:00 UTC));
        let back = checkpoint_from_json(&checkpoint_json(&checkpoint)).unwrap();
        assert_eq!(back, checkpoint);
        assert!(back.is_signed_by(&key));
    }
}
