//! The audit chain on both backends: the chainer links committed records in one order (also when
//! several chainers race, as replicas do), and `verify_chain` reports the first broken link for
//! every kind of tampering made directly in the database: edits, deletions, reorders,
//! insertions, and a truncation relative to an exported checkpoint.

use writ_domain::audit::{Actor, AuditRecord, OutboxEvent, Recipient};
use writ_domain::audit_chain::{
    AuditKey, ChainBreak, Checkpoint, VerifyReport, chain_all, chain_pending, verify_chain,
};
use writ_domain::store::{AuditStore, Store};
use writ_store::{Backend, SqlStore};

use super::{now, store};

fn key() -> AuditKey {
    AuditKey::from_bytes(&[0x5a; 32]).unwrap()
}

/// Appends `n` records, each in its own committed transaction, one microsecond apart.
async fn append(s: &SqlStore, n: usize, tag: &str) {
    let t0 = now();
    for i in 0..n {
        let mut tx = s.begin().await.unwrap();
        tx.append_audit(
            &AuditRecord::success(
                Actor::system(),
                t0 + time::Duration::microseconds(i as i64),
                "UserManagement",
                &format!("{tag} {i}"),
                "Update",
                Some("req"),
            )
            .target("u1", "User", Some("Ada"), vec!["displayName".into()])
            .detail("n", i.to_string()),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

async fn sql(s: &SqlStore, statement: &str) {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(s.pool())
        .await
        .unwrap();
}

async fn verify(s: &SqlStore, checkpoint: Option<&Checkpoint>) -> VerifyReport {
    verify_chain(s, &key(), checkpoint, 4).await.unwrap()
}

/// Six linked records and a checkpoint of them, as `writ audit export` would leave.
async fn chained_six(backend: Backend) -> (SqlStore, Checkpoint) {
    let s = store(backend).await;
    append(&s, 6, "Update user").await;
    assert_eq!(chain_all(&s, &key()).await.unwrap(), 6);
    let head = s.audit_chain_head().await.unwrap();
    assert_eq!(head.seq, 6);
    let checkpoint = key().checkpoint(&head, now());
    (s, checkpoint)
}

async fn the_chainer_links_committed_records_in_order(backend: Backend) {
    let s = store(backend).await;
    let empty = verify(&s, None).await;
    assert_eq!((empty.verified, empty.first_break), (0, None));
    append(&s, 5, "Add user").await;
    assert_eq!(s.unchained_audit_count().await.unwrap(), 5);
    // Batches of two: the chain continues across passes.
    assert_eq!(chain_pending(&s, &key(), 2).await.unwrap(), 2);
    assert_eq!(chain_pending(&s, &key(), 2).await.unwrap(), 2);
    assert_eq!(chain_pending(&s, &key(), 2).await.unwrap(), 1);
    assert_eq!(chain_pending(&s, &key(), 2).await.unwrap(), 0);
    let report = verify(&s, None).await;
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!(
        (report.verified, report.last.seq, report.unchained),
        (5, 5, 0)
    );
    // Chain order is append order.
    let rows = s.chained_audits(None, 10).await.unwrap();
    let activities: Vec<String> = rows
        .iter()
        .map(|r| r.record.as_ref().unwrap().activity_display_name.clone())
        .collect();
    assert_eq!(
        activities,
        (0..5).map(|i| format!("Add user {i}")).collect::<Vec<_>>()
    );
    // Later records extend the same chain, and a checkpoint of the earlier head stays valid.
    let checkpoint = key().checkpoint(&report.last, now());
    append(&s, 3, "Delete user").await;
    let pending = verify(&s, Some(&checkpoint)).await;
    assert_eq!((pending.first_break, pending.unchained), (None, 3));
    assert_eq!(chain_all(&s, &key()).await.unwrap(), 3);
    let report = verify(&s, Some(&checkpoint)).await;
    assert_eq!(report.first_break, None);
    assert_eq!(report.verified, 8);
    // Another key recomputes nothing.
    let other = AuditKey::from_bytes(&[1; 32]).unwrap();
    let forged = verify_chain(&s, &other, None, 100).await.unwrap();
    assert!(matches!(
        forged.first_break,
        Some(ChainBreak::Mismatch { seq: 1, .. })
    ));
}

async fn racing_chainers_agree_on_one_order(backend: Backend) {
    let s = std::sync::Arc::new(store(backend).await);
    let writer = {
        let s = s.clone();
        tokio::spawn(async move { append(&s, 60, "Add group").await })
    };
    let mut chainers = Vec::new();
    for _ in 0..3 {
        let s = s.clone();
        chainers.push(tokio::spawn(async move {
            let mut linked = 0;
            for _ in 0..40 {
                linked += chain_pending(s.as_ref(), &key(), 7).await.unwrap();
                tokio::task::yield_now().await;
            }
            linked
        }));
    }
    writer.await.unwrap();
    let mut linked = 0;
    for chainer in chainers {
        linked += chainer.await.unwrap();
    }
    linked += chain_all(s.as_ref(), &key()).await.unwrap();
    assert_eq!(linked, 60, "every record linked exactly once");
    let report = verify_chain(s.as_ref(), &key(), None, 16).await.unwrap();
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!((report.verified, report.last.seq), (60, 60));
}

async fn an_edited_record_is_detected(backend: Backend) {
    let (s, _) = chained_six(backend).await;
    sql(
        &s,
        "UPDATE audit_log SET activity = 'Nothing happened' WHERE chain_seq = 3",
    )
    .await;
    let report = verify(&s, None).await;
    assert!(
        matches!(
            report.first_break,
            Some(ChainBreak::Mismatch { seq: 3, .. })
        ),
        "{report:?}"
    );
    assert_eq!(report.verified, 2);

    // Edits that leave the row unreadable, or that erase the MAC, are breaks too.
    let (s, _) = chained_six(backend).await;
    sql(
        &s,
        "UPDATE audit_log SET target_resources = 'not json' WHERE chain_seq = 2",
    )
    .await;
    assert!(matches!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::Unreadable { seq: 2, .. })
    ));
    let (s, _) = chained_six(backend).await;
    sql(
        &s,
        "UPDATE audit_log SET chain_mac = NULL WHERE chain_seq = 5",
    )
    .await;
    assert!(matches!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::Mismatch { seq: 5, .. })
    ));
    // An edited initiator (the column the API filters on is derived; the sealed JSON is not).
    let (s, _) = chained_six(backend).await;
    sql(
        &s,
        "UPDATE audit_log SET initiated_by = '{\"kind\":\"user\",\"id\":\"x\",\"display_name\":null,\"login_name\":null}' WHERE chain_seq = 6",
    )
    .await;
    assert!(matches!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::Mismatch { seq: 6, .. })
    ));
}

async fn a_deleted_record_is_detected(backend: Backend) {
    let (s, _) = chained_six(backend).await;
    sql(&s, "DELETE FROM audit_log WHERE chain_seq = 3").await;
    let report = verify(&s, None).await;
    assert_eq!(
        report.first_break,
        Some(ChainBreak::Missing {
            expected_seq: 3,
            found_seq: 4
        })
    );
    // Renumbering the rest to close the gap breaks the MACs instead.
    let (s, _) = chained_six(backend).await;
    sql(&s, "DELETE FROM audit_log WHERE chain_seq = 3").await;
    sql(
        &s,
        "UPDATE audit_log SET chain_seq = chain_seq + 100 WHERE chain_seq > 3",
    )
    .await;
    sql(
        &s,
        "UPDATE audit_log SET chain_seq = chain_seq - 101 WHERE chain_seq > 100",
    )
    .await;
    assert!(matches!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::Mismatch { seq: 3, .. })
    ));
}

async fn reordered_records_are_detected(backend: Backend) {
    let (s, _) = chained_six(backend).await;
    // Swap records 2 and 4, MACs travelling with them.
    sql(
        &s,
        "UPDATE audit_log SET chain_seq = -2 WHERE chain_seq = 2",
    )
    .await;
    sql(&s, "UPDATE audit_log SET chain_seq = 2 WHERE chain_seq = 4").await;
    sql(
        &s,
        "UPDATE audit_log SET chain_seq = 4 WHERE chain_seq = -2",
    )
    .await;
    let report = verify(&s, None).await;
    assert!(
        matches!(
            report.first_break,
            Some(ChainBreak::Mismatch { seq: 2, .. })
        ),
        "{report:?}"
    );
    // Reordering by time (what the API sorts on) is an edit of the sealed activity time.
    let (s, _) = chained_six(backend).await;
    sql(
        &s,
        "UPDATE audit_log SET activity_at = activity_at - 1000000 WHERE chain_seq = 5",
    )
    .await;
    assert!(matches!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::Mismatch { seq: 5, .. })
    ));
}

/// A copy of record `from` as a new row with sequence number `seq` and a made-up MAC.
async fn insert_copy(s: &SqlStore, from: i64, seq: i64, id: &str) {
    sql(
        s,
        &format!(
            "INSERT INTO audit_log (id, activity_at, category, activity, operation_type, result, \
             result_reason, initiated_by, initiated_by_id, on_behalf_of, target_resources, \
             additional_details, request_id, chain_seq, chain_mac) \
             SELECT '{id}', activity_at, category, 'Add member to role', operation_type, result, \
             result_reason, initiated_by, initiated_by_id, on_behalf_of, target_resources, \
             additional_details, request_id, {seq}, chain_mac FROM audit_log WHERE chain_seq = {from}"
        ),
    )
    .await;
}

async fn inserted_records_are_detected(backend: Backend) {
    // In the middle, the later records renumbered to make room.
    let (s, _) = chained_six(backend).await;
    sql(
        &s,
        "UPDATE audit_log SET chain_seq = chain_seq + 100 WHERE chain_seq >= 4",
    )
    .await;
    sql(
        &s,
        "UPDATE audit_log SET chain_seq = chain_seq - 99 WHERE chain_seq > 100",
    )
    .await;
    insert_copy(&s, 3, 4, "forged-1").await;
    let report = verify(&s, None).await;
    assert_eq!(
        report.first_break,
        Some(ChainBreak::Mismatch {
            seq: 4,
            id: "forged-1".into()
        })
    );
    // At the end, and the head moved along.
    let (s, _) = chained_six(backend).await;
    insert_copy(&s, 6, 7, "forged-2").await;
    sql(&s, "UPDATE audit_chain_head SET seq = 7").await;
    assert_eq!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::Mismatch {
            seq: 7,
            id: "forged-2".into()
        })
    );
    // Sharing a sequence number (the unique index dropped first).
    let (s, _) = chained_six(backend).await;
    sql(&s, "DROP INDEX audit_log_chain_seq").await;
    insert_copy(&s, 2, 2, "zz-forged-3").await;
    assert_eq!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::Duplicate {
            seq: 2,
            id: "zz-forged-3".into()
        })
    );
}

async fn truncation_is_detected_against_the_checkpoint(backend: Backend) {
    // A careless truncation leaves the head behind.
    let (s, checkpoint) = chained_six(backend).await;
    sql(&s, "DELETE FROM audit_log WHERE chain_seq > 4").await;
    assert_eq!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::TailMissing {
            head_seq: 6,
            last_seq: 4
        })
    );
    // A careful one moves the head back too: the chain is valid in itself, and only the exported
    // checkpoint tells.
    let last_mac: String =
        sqlx::query_scalar("SELECT chain_mac FROM audit_log WHERE chain_seq = 4")
            .fetch_one(s.pool())
            .await
            .unwrap();
    sql(
        &s,
        &format!("UPDATE audit_chain_head SET seq = 4, mac = '{last_mac}'"),
    )
    .await;
    assert_eq!(verify(&s, None).await.first_break, None);
    assert_eq!(
        verify(&s, Some(&checkpoint)).await.first_break,
        Some(ChainBreak::Truncated {
            checkpoint_seq: 6,
            last_seq: 4
        })
    );
    // Truncated and then refilled with new records up to and past the checkpoint: the record
    // at the checkpoint's place is not the one it sealed.
    append(&s, 3, "Add user").await;
    chain_all(&s, &key()).await.unwrap();
    assert_eq!(
        verify(&s, Some(&checkpoint)).await.first_break,
        Some(ChainBreak::CheckpointMismatch { seq: 6 })
    );
    // A checkpoint altered (or signed with another key) is refused.
    let (s, mut checkpoint) = chained_six(backend).await;
    checkpoint.seq = 5;
    assert_eq!(
        verify(&s, Some(&checkpoint)).await.first_break,
        Some(ChainBreak::CheckpointSignature)
    );
}

/// `writ audit verify` run while `writ serve` chains (found by the crash loop): records linked
/// after the walk began are no break, neither when the walk sees some of them nor when the
/// head has moved past where the walk ended.
async fn verify_while_the_chainer_runs_finds_no_break(backend: Backend) {
    let s = std::sync::Arc::new(store(backend).await);
    append(&s, 8, "Add user").await;
    chain_all(s.as_ref(), &key()).await.unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let chainer = {
        let (s, done) = (s.clone(), done.clone());
        tokio::spawn(async move {
            for i in 0..150 {
                append(&s, 1, &format!("Update group {i}")).await;
                chain_all(s.as_ref(), &key()).await.unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut verifications = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let report = verify_chain(s.as_ref(), &key(), None, 4).await.unwrap();
        assert_eq!(report.first_break, None, "{report:?}");
        verifications += 1;
    }
    chainer.await.unwrap();
    assert!(verifications > 0);
    let report = verify(&s, None).await;
    assert_eq!((report.first_break, report.verified), (None, 158));
    // Tampering is still found after the race: the last record deleted.
    sql(&s, "DELETE FROM audit_log WHERE chain_seq = 158").await;
    assert_eq!(
        verify(&s, None).await.first_break,
        Some(ChainBreak::TailMissing {
            head_seq: 158,
            last_seq: 157
        })
    );
}

/// `writ audit verify` runs against a live database (found by the crash loop): records linked
/// while it walks the chain, in particular just after it read the last page, are not a break.
async fn verifying_while_records_are_linked_finds_the_chain_intact(backend: Backend) {
    let s = std::sync::Arc::new(store(backend).await);
    append(&s, 20, "Add user").await;
    chain_all(s.as_ref(), &key()).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let chainer = {
        let (s, stop) = (s.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                append(&s, 1, "Update user").await;
                chain_pending(s.as_ref(), &key(), 1).await.unwrap();
            }
        })
    };
    let mut reports = Vec::new();
    for _ in 0..150 {
        reports.push(verify_chain(s.as_ref(), &key(), None, 1000).await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    chainer.await.unwrap();
    let broken: Vec<_> = reports.iter().filter(|r| r.first_break.is_some()).collect();
    assert!(
        broken.is_empty(),
        "{} of {} verifications reported a break: {:?}",
        broken.len(),
        reports.len(),
        broken.first()
    );
}

/// Records and events written set-wise (one `INSERT … SELECT` over a JSON array per table) read
/// back exactly, whatever their text holds: quotes, backslashes, JSON and SQL syntax, line
/// breaks, characters beyond ASCII, empty strings, and absent values beside present ones.
async fn batch_written_records_and_events_read_back_exactly(backend: Backend) {
    let s = store(backend).await;
    let awkward = [
        "it's \"quoted\" \\ back\\slashed",
        "$[0] {\"a\": [1, null]} '); DROP TABLE audit_log; --",
        "line\nbreak\ttab \u{e9}t\u{e9} \u{6f22}\u{5b57} \u{1f600}",
        "",
    ];
    let t0 = now();
    let records: Vec<AuditRecord> = awkward
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let record = AuditRecord::success(
                if i % 2 == 0 {
                    Actor::system()
                } else {
                    Actor {
                        kind: "user".into(),
                        id: Some("u-1".into()),
                        display_name: Some((*text).to_owned()),
                        login_name: None,
                    }
                },
                t0 + time::Duration::microseconds(i as i64),
                "EntitlementManagement",
                text,
                "Delete",
                (i % 2 == 0).then_some(*text),
            )
            .target(
                &format!("t-{i}"),
                "User",
                Some(text),
                vec![(*text).to_owned()],
            )
            .detail(text, *text);
            match i {
                0 => record.in_catalog("c-1"),
                1 => record.on_behalf_of("o-1", "ServicePrincipal", Some(text)),
                _ => record,
            }
        })
        .collect();
    let events: Vec<OutboxEvent> = awkward
        .iter()
        .map(|text| {
            OutboxEvent::new(
                "assignment.expired",
                t0,
                serde_json::json!({ "text": text, "n": i64::MAX, "none": null }),
                vec![Recipient {
                    id: (*text).to_owned(),
                    kind: "user".into(),
                    mail: None,
                }],
            )
        })
        .collect();
    let mut tx = s.begin().await.unwrap();
    tx.append_audits(&records).await.unwrap();
    tx.enqueue_events(&events).await.unwrap();
    tx.commit().await.unwrap();
    for record in &records {
        assert_eq!(
            s.audit_record(&record.id).await.unwrap().as_ref(),
            Some(record)
        );
    }
    let mut read = s.outbox_events(10).await.unwrap();
    read.sort_by(|a, b| a.id.cmp(&b.id));
    let mut written = events.clone();
    written.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(read, written);
}

/// A transaction's audit records and events are written at its commit (one statement on
/// PostgreSQL): one that cannot be written fails the commit, and nothing of the transaction stays,
/// its other writes included.
async fn an_append_that_cannot_be_written_fails_the_commit_and_keeps_nothing(backend: Backend) {
    let s = store(backend).await;
    let t0 = now();
    let first = AuditRecord::success(Actor::system(), t0, "Directory", "first", "Add", None)
        .target("t-1", "User", None, vec![]);
    let mut tx = s.begin().await.unwrap();
    tx.append_audit(&first).await.unwrap();
    tx.commit().await.unwrap();

    // The same record again: its id is taken.
    let event = OutboxEvent::new("assignment.expired", t0, serde_json::json!({}), vec![]);
    let mut tx = s.begin().await.unwrap();
    tx.put_setting("written-beside-the-append", "yes")
        .await
        .unwrap();
    tx.append_audit(&first.clone().detail("again", "yes"))
        .await
        .unwrap();
    tx.enqueue_event(&event).await.unwrap();
    assert!(
        tx.commit().await.is_err(),
        "a record whose id is taken fails the commit"
    );
    assert_eq!(
        s.setting("written-beside-the-append").await.unwrap(),
        None,
        "the transaction's other write is undone"
    );
    assert!(
        s.outbox_events(10).await.unwrap().is_empty(),
        "its event was not written"
    );
    assert_eq!(
        s.audit_record(&first.id).await.unwrap().as_ref(),
        Some(&first),
        "the record first written is unchanged"
    );
}

conformance!(
    an_append_that_cannot_be_written_fails_the_commit_and_keeps_nothing,
    verify_while_the_chainer_runs_finds_no_break,
    verifying_while_records_are_linked_finds_the_chain_intact,
    the_chainer_links_committed_records_in_order,
    racing_chainers_agree_on_one_order,
    an_edited_record_is_detected,
    a_deleted_record_is_detected,
    reordered_records_are_detected,
    inserted_records_are_detected,
    truncation_is_detected_against_the_checkpoint,
    batch_written_records_and_events_read_back_exactly,
);
