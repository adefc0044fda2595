//! The tamper-evident audit chain (DESIGN section 9): the chainer that links committed audit
//! records in one sequence with an HMAC whose key lives outside the database, the signed
//! checkpoints that `writ audit export` writes, and the verification behind `writ audit verify`.
//!
//! Records are appended by their own transactions with no link (`chain_seq`/`chain_mac` empty),
//! so a write never waits on the chain. After commit, [`chain_pending`] gives the oldest unlinked
//! records the next sequence numbers and the MAC
//! `HMAC-SHA256(key, previous MAC ‖ canonical bytes of the record, its sequence number included)`,
//! and advances the single chain head by compare-and-set: when two replicas race, one advances
//! the head and the other's transaction changes nothing, so there is one order across replicas.
//!
//! What the chain proves: with the key, every linked record can be recomputed; an edited,
//! reordered, inserted or deleted record breaks the link at that point. A deleted *tail* leaves a
//! shorter chain that is valid in itself; it is caught by the head row when the head was left
//! alone, and otherwise by a checkpoint exported earlier (sequence number and MAC, signed with an
//! Ed25519 key derived from the audit key, so anyone holding the public key can check the
//! checkpoint itself).

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use crate::error::{DomainError, DomainResult};
use crate::model::AuditRecord;
pub use crate::model::audit::{AuditLink, ChainHead, ChainedAudit};
use crate::store::Store;

/// Bytes of a generated audit key (HMAC-SHA256's block-size-independent recommendation: at
/// least the output size).
pub const KEY_LEN: usize = 32;

/// Domain-separation labels, so a MAC of one kind can never be passed off as another.
const RECORD_LABEL: &[u8] = b"writ-audit-record-v1";
const CHECKPOINT_LABEL: &[u8] = b"writ-audit-checkpoint-v1";
const SIGNING_SEED_LABEL: &[u8] = b"writ-audit-checkpoint-signing-key-v1";

/// The audit key: the HMAC key of the chain and the checkpoint signing key derived from it.
pub struct AuditKey {
    mac_key: hmac::Key,
    signer: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material: only the public half, which identifies it.
        f.debug_struct("AuditKey")
            .field("public_key", &self.public_key())
            .finish()
    }
}

impl AuditKey {
    /// A key from its raw bytes (at least [`KEY_LEN`]).
    pub fn from_bytes(bytes: &[u8]) -> DomainResult<Self> {
        if bytes.len() < KEY_LEN {
            return Err(DomainError::invalid(format!(
                "the audit key must be at least {KEY_LEN} bytes, not {}",
                bytes.len()
            )));
        }
        let mac_key = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let seed = hmac::sign(&mac_key, SIGNING_SEED_LABEL);
        let signer = Ed25519KeyPair::from_seed_unchecked(seed.as_ref())
            .map_err(|e| DomainError::Internal(format!("checkpoint signing key: {e}")))?;
        Ok(Self { mac_key, signer })
    }

    /// Fresh random key bytes, for a key file created on first use.
    pub fn generate_bytes() -> DomainResult<[u8; KEY_LEN]> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
        Ok(bytes)
    }

    /// The checkpoint verification key (Ed25519, base64url), safe to publish.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signer.public_key().as_ref())
    }

    /// The MAC linking `record` at `seq` after the record whose MAC is `prev_mac` (empty for
    /// the first record).
    pub fn link(&self, prev_mac: &str, seq: i64, record: &AuditRecord) -> String {
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(RECORD_LABEL);
        put(&mut ctx, prev_mac.as_bytes());
        ctx.update(&canonical_bytes(seq, record));
        URL_SAFE_NO_PAD.encode(ctx.sign().as_ref())
    }

    /// A signed checkpoint of the chain at `head`, made at `at`.
    pub fn checkpoint(&self, head: &ChainHead, at: OffsetDateTime) -> Checkpoint {
        let at = truncate_to_micros(at);
        let signature = self
            .signer
            .sign(&Checkpoint::message(head.seq, &head.mac, at));
        Checkpoint {
            seq: head.seq,
            mac: head.mac.clone(),
            at,
            public_key: self.public_key(),
            signature: URL_SAFE_NO_PAD.encode(signature.as_ref()),
        }
    }
}

fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let micros = at.unix_timestamp_nanos() / 1_000;
    OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).unwrap_or(at)
}

/// A length-prefixed field, so that no two different records share canonical bytes.
fn put(ctx: &mut hmac::Context, bytes: &[u8]) {
    ctx.update(&(bytes.len() as u64).to_be_bytes());
    ctx.update(bytes);
}

/// The bytes the chain seals for `record` at `seq`: every field of the record in a fixed order,
/// each length-prefixed, an absent value distinct from an empty one. Written out by hand rather
/// than through serde so that a change of derive attributes can never change old MACs.
pub fn canonical_bytes(seq: i64, record: &AuditRecord) -> Vec<u8> {
    struct Out(Vec<u8>);
    impl Out {
        fn bytes(&mut self, value: &[u8]) {
            self.0
                .extend_from_slice(&(value.len() as u64).to_be_bytes());
            self.0.extend_from_slice(value);
        }
        fn text(&mut self, value: &str) {
            self.0.push(1);
            self.bytes(value.as_bytes());
        }
        fn opt(&mut self, value: Option<&str>) {
            match value {
                Some(value) => self.text(value),
                None => self.0.push(0),
            }
        }
        fn count(&mut self, n: usize) {
            self.0.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut out = Out(Vec::with_capacity(512));
    out.0.extend_from_slice(&seq.to_be_bytes());
    out.text(&record.id);
    // Microseconds: what the database keeps.
    let micros = record.activity_date_time.unix_timestamp_nanos() / 1_000;
    out.0.extend_from_slice(&micros.to_be_bytes());
    out.text(&record.category);
    out.text(&record.activity_display_name);
    out.text(&record.operation_type);
    out.text(&record.result);
    out.opt(record.result_reason.as_deref());
    let actor = &record.initiated_by;
    out.text(&actor.kind);
    out.opt(actor.id.as_deref());
    out.opt(actor.display_name.as_deref());
    out.opt(actor.login_name.as_deref());
    out.opt(record.on_behalf_of.as_deref());
    out.opt(record.catalog_id.as_deref());
    out.count(record.target_resources.len());
    for target in &record.target_resources {
        out.text(&target.id);
        out.text(&target.kind);
        out.opt(target.display_name.as_deref());
        out.opt(target.user_principal_name.as_deref());
        out.count(target.modified_properties.len());
        for property in &target.modified_properties {
            out.text(property);
        }
    }
    out.count(record.additional_details.len());
    for (key, value) in &record.additional_details {
        out.text(key);
        out.text(value);
    }
    out.opt(record.request_id.as_deref());
    out.0
}

/// One pass of the chainer: links up to `batch` committed, unlinked records (oldest first) and
/// returns how many it linked. `0` with records still pending means another replica advanced the
/// head first; the next pass continues from there.
pub async fn chain_pending(store: &dyn Store, key: &AuditKey, batch: u32) -> DomainResult<usize> {
    let mut tx = store.begin().await?;
    let head = tx.audit_chain_head().await?;
    let pending = tx.unchained_audits(batch).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let mut links = Vec::with_capacity(pending.len());
    let mut next = head.clone();
    for record in &pending {
        next.seq += 1;
        next.mac = key.link(&next.mac, next.seq, record);
        links.push(AuditLink {
            id: record.id.clone(),
            seq: next.seq,
            mac: next.mac.clone(),
        });
    }
    // The head first: a replica that lost the race stops here, before touching a record.
    if !tx.advance_audit_chain(&head, &next).await? {
        return Ok(0);
    }
    tx.seal_audits(&links).await?;
    tx.commit().await?;
    Ok(links.len())
}

/// Links everything pending now (for `writ audit export`, tests and shutdown).
pub async fn chain_all(store: &dyn Store, key: &AuditKey) -> DomainResult<usize> {
    let mut total = 0;
    loop {
        let linked = chain_pending(store, key, 1000).await?;
        if linked == 0 && store.unchained_audit_count().await? == 0 {
            return Ok(total);
        }
        total += linked;
    }
}

/// A signed statement that the chain reached `seq` with `mac` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub mac: String,
    pub at: OffsetDateTime,
    /// The Ed25519 key that signed it (base64url).
    pub public_key: String,
    /// base64url.
    pub signature: String,
}

impl Checkpoint {
    fn message(seq: i64, mac: &str, at: OffsetDateTime) -> Vec<u8> {
        let mut message = CHECKPOINT_LABEL.to_vec();
        message.extend_from_slice(&seq.to_be_bytes());
        message.extend_from_slice(&((at.unix_timestamp_nanos() / 1_000) as i64).to_be_bytes());
        message.extend_from_slice(mac.as_bytes());
        message
    }

    /// Whether the checkpoint was signed by `key`'s signing key and is unaltered.
    pub fn is_signed_by(&self, key: &AuditKey) -> bool {
        if self.public_key != key.public_key() {
            return false;
        }
        let (Ok(public), Ok(signature)) = (
            URL_SAFE_NO_PAD.decode(&self.public_key),
            URL_SAFE_NO_PAD.decode(&self.signature),
        ) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::ED25519, public)
            .verify(&Self::message(self.seq, &self.mac, self.at), &signature)
            .is_ok()
    }
}

/// Where the chain stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// Sequence numbers skip: the records in between were deleted.
    Missing { expected_seq: i64, found_seq: i64 },
    /// Two records claim one sequence number: one was inserted.
    Duplicate { seq: i64, id: String },
    /// The record's MAC does not match its content and place: it was edited, moved, inserted or
    /// its MAC was altered.
    Mismatch { seq: i64, id: String },
    /// The row no longer reads as an audit record (its stored JSON was edited).
    Unreadable {
        seq: i64,
        id: String,
        detail: String,
    },
    /// The chain head names a later record than the last one present: the tail was deleted.
    TailMissing { head_seq: i64, last_seq: i64 },
    /// Linked records continue past the chain head, or the head's MAC is not the last record's.
    HeadMismatch { head_seq: i64, last_seq: i64 },
    /// The checkpoint is not signed by this audit key (or was altered).
    CheckpointSignature,
    /// The chain ends before the checkpoint: records at or before it were deleted.
    Truncated { checkpoint_seq: i64, last_seq: i64 },
    /// The record at the checkpoint's sequence number is not the one the checkpoint sealed.
    CheckpointMismatch { seq: i64 },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Missing {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "records {expected_seq} to {} are missing (deleted): the next record present is {found_seq}",
                found_seq - 1
            ),
            ChainBreak::Duplicate { seq, id } => {
                write!(f, "record {id} repeats sequence number {seq} (inserted)")
            }
            ChainBreak::Mismatch { seq, id } => write!(
                f,
                "record {seq} ({id}) does not match its MAC (edited, reordered or inserted)"
            ),
            ChainBreak::Unreadable { seq, id, detail } => write!(
                f,
                "record {seq} ({id}) is no longer a readable record (edited): {detail}"
            ),
            ChainBreak::TailMissing { head_seq, last_seq } => write!(
                f,
                "the chain head is at record {head_seq} but the last record present is {last_seq} (truncated)"
            ),
            ChainBreak::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "the chain head (record {head_seq}) does not match the last linked record ({last_seq})"
            ),
            ChainBreak::CheckpointSignature => {
                write!(f, "the checkpoint is not signed by this audit key")
            }
            ChainBreak::Truncated {
                checkpoint_seq,
                last_seq,
            } => write!(
                f,
                "the chain ends at record {last_seq}, before the exported checkpoint at record {checkpoint_seq} (truncated)"
            ),
            ChainBreak::CheckpointMismatch { seq } => write!(
                f,
                "record {seq} is not the record the exported checkpoint sealed (the chain was rewritten)"
            ),
        }
    }
}

/// What `writ audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Linked records whose MAC was recomputed and matched, before any break.
    pub verified: i64,
    /// The last verified link.
    pub last: ChainHead,
    pub first_break: Option<ChainBreak>,
    /// Records not linked yet (the chainer runs in `writ serve`).
    pub unchained: i64,
}

/// Recomputes the chain from the first record, reading `page` records at a time, and checks it
/// against the chain head and, when given, an exported checkpoint. Stops at the first break.
///
/// `writ serve` may be chaining while this runs, and the walk is not one snapshot: the head is
/// read before the walk and again after it. Records linked before the walk began must all be
/// there (the walk must reach the first head), and the walk must not end past the head read
/// after it; where it ends on either head, that head's MAC must be the last link's. A walk that
/// ends between the two heads saw a prefix of what the chainer linked meanwhile, which is not a
/// break.
pub async fn verify_chain(
    store: &dyn Store,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
    page: u32,
) -> DomainResult<VerifyReport> {
    let head_before = store.audit_chain_head().await?;
    let mut last = ChainHead::default();
    let mut verified = 0;
    let mut at_checkpoint: Option<String> = None;
    let mut after: Option<(i64, String)> = None;
    let first_break = 'walk: loop {
        let rows = store.chained_audits(after.as_ref(), page).await?;
        let Some(tail) = rows.last() else {
            break 'walk None;
        };
        after = Some((tail.seq, tail.id.clone()));
        for row in rows {
            if row.seq <= last.seq {
                break 'walk Some(ChainBreak::Duplicate {
                    seq: row.seq,
                    id: row.id,
                });
            }
            if row.seq != last.seq + 1 {
                break 'walk Some(ChainBreak::Missing {
                    expected_seq: last.seq + 1,
                    found_seq: row.seq,
                });
            }
            let record = match row.record {
                Ok(record) => record,
                Err(detail) => {
                    break 'walk Some(ChainBreak::Unreadable {
                        seq: row.seq,
                        id: row.id,
                        detail,
                    });
                }
            };
            let expected = key.link(&last.mac, row.seq, &record);
            // The id column is part of the row but the MAC covers the record's own id; a row
            // whose id column and record disagree was edited too.
            let same_mac = row.mac.as_deref().is_some_and(|mac| {
                aws_lc_rs::constant_time::verify_slices_are_equal(
                    mac.as_bytes(),
                    expected.as_bytes(),
                )
                .is_ok()
            });
            if !same_mac || record.id != row.id {
                break 'walk Some(ChainBreak::Mismatch {
                    seq: row.seq,
                    id: row.id,
                });
            }
            last = ChainHead {
                seq: row.seq,
                mac: expected,
            };
            verified += 1;
            if checkpoint.is_some_and(|c| c.seq == last.seq) {
                at_checkpoint = Some(last.mac.clone());
            }
        }
    };
    let first_break = match first_break {
        Some(found) => Some(found),
        None => {
            let head_after = store.audit_chain_head().await?;
            if head_before.seq > last.seq {
                Some(ChainBreak::TailMissing {
                    head_seq: head_before.seq,
                    last_seq: last.seq,
                })
            } else if last.seq > head_after.seq
                || (last.seq == head_before.seq && head_before != last)
                || (last.seq == head_after.seq && head_after != last)
            {
                Some(ChainBreak::HeadMismatch {
                    head_seq: head_after.seq,
                    last_seq: last.seq,
                })
            } else {
                checkpoint.and_then(|c| check_checkpoint(c, key, &last, at_checkpoint))
            }
        }
    };
    Ok(VerifyReport {
        verified,
        last,
        first_break,
        unchained: store.unchained_audit_count().await?,
    })
}

fn check_checkpoint(
    checkpoint: &Checkpoint,
    key: &AuditKey,
    last: &ChainHead,
    mac_at_checkpoint: Option<String>,
) -> Option<ChainBreak> {
    if !checkpoint.is_signed_by(key) {
        return Some(ChainBreak::CheckpointSignature);
    }
    if last.seq < checkpoint.seq {
        return Some(ChainBreak::Truncated {
            checkpoint_seq: checkpoint.seq,
            last_seq: last.seq,
        });
    }
    // The genesis checkpoint (an export of an empty log) seals nothing.
    if checkpoint.seq == 0 {
        return None;
    }
    if mac_at_checkpoint.as_deref() != Some(checkpoint.mac.as_str()) {
        return Some(ChainBreak::CheckpointMismatch {
            seq: checkpoint.seq,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Actor;

    use time::macros::datetime;

    fn record(activity: &str) -> AuditRecord {
        AuditRecord::success(
            Actor::system(),
            datetime!(2030-01-01 0:00 UTC),
            "UserManagement",
            activity,
            "Add",
            Some("req"),
        )
        .target("t1", "User", Some("Ada"), vec!["displayName".into()])
        .detail("k", "v")
    }

    #[test]
    fn links_depend_on_key_place_and_content() {
        let key = AuditKey::from_bytes(&[7u8; 32]).unwrap();
        let other = AuditKey::from_bytes(&[8u8; 32]).unwrap();
        let r = record("Add user");
        let mac = key.link("", 1, &r);
        assert_eq!(mac, key.link("", 1, &r), "deterministic");
        assert_ne!(mac, other.link("", 1, &r), "keyed");
        assert_ne!(mac, key.link("", 2, &r), "sequence number sealed");
        assert_ne!(mac, key.link("x", 1, &r), "previous MAC sealed");
        let mut edited = r.clone();
        edited.additional_details[0].1 = "w".into();
        assert_ne!(mac, key.link("", 1, &edited), "content sealed");
        let mut moved = r.clone();
        moved.result_reason = Some(String::new());
        assert_ne!(mac, key.link("", 1, &moved), "absent differs from empty");
    }

    #[test]
    fn short_keys_are_refused_and_debug_hides_the_key() {
        assert!(AuditKey::from_bytes(&[1u8; 16]).is_err());
        let key = AuditKey::from_bytes(&[1u8; 32]).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.public_key()), "{shown}");
    }

    #[test]
    fn checkpoints_verify_only_unaltered_and_with_their_key() {
        let key = AuditKey::from_bytes(&[3u8; 32]).unwrap();
        let head = ChainHead {
            seq: 42,
            mac: "abc".into(),
        };
        let checkpoint = key.checkpoint(&head, datetime!(2030-01-01 0:00:00.123456789 UTC));
        assert!(checkpoint.is_signed_by(&key));
        let mut altered = checkpoint.clone();
        altered.seq = 41;
        assert!(!altered.is_signed_by(&key));
        let other = AuditKey::from_bytes(&[4u8; 32]).unwrap();
        assert!(!checkpoint.is_signed_by(&other));
    }
}
