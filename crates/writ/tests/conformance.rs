//! The storage conformance suite: every test runs unchanged against SQLite and PostgreSQL,
//! through the domain's `Store` port only. PostgreSQL needs `WRIT_TEST_POSTGRES_URL`
//! (`scripts/test.sh` provides it); without it the PostgreSQL half fails rather than skips.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use writ_domain::audit::{Actor, AuditRecord, OutboxEvent, Recipient};
use writ_domain::clock::{Clock, ManualClock, SystemClock};
use writ_domain::directory::{BootstrapConfig, Group, ObjectKind, RoleAssignment, User, bootstrap};
use writ_domain::jobs::{
    ClaimedJob, JobHandler, JobKind, NewJob, PassReport, WorkerConfig, run_due_jobs,
};
use writ_domain::query::ListQuery;
use writ_domain::store::{AuditStore, DirectoryStore, JobStore, Store, StoreError};
use writ_domain::{DomainError, DomainResult};
use writ_store::{Backend, SqlStore, testing};

async fn store(backend: Backend) -> SqlStore {
    testing::fresh_store(backend)
        .await
        .expect("fresh test database")
}

fn now() -> OffsetDateTime {
    // Whole microseconds: what storage keeps.
    let t = SystemClock.now();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

fn user(name: &str, created: OffsetDateTime) -> User {
    User {
        id: writ_domain::ids::new_object_id(),
        kind: writ_domain::directory::UserKind::User,
        identity_parent_id: None,
        display_name: name.to_owned(),
        user_principal_name: format!("{}@example.org", name.to_lowercase().replace(' ', ".")),
        mail_nickname: name.to_lowercase().replace(' ', ""),
        account_enabled: true,
        given_name: None,
        surname: Some("Tester".into()),
        mail: None,
        job_title: None,
        department: Some("Support".into()),
        office_location: None,
        mobile_phone: None,
        business_phones: vec!["+1 555 0100".into()],
        employee_id: None,
        company_name: None,
        usage_location: None,
        preferred_language: None,
        user_type: "Member".into(),
        created_date_time: created,
        manager_id: None,
        password_hash: None,
        force_change_password_next_sign_in: false,
        identities: Vec::new(),
    }
}

fn group(name: &str, created: OffsetDateTime) -> Group {
    Group {
        id: writ_domain::ids::new_object_id(),
        display_name: name.to_owned(),
        description: None,
        mail_nickname: name.to_lowercase(),
        mail_enabled: false,
        security_enabled: true,
        group_types: Vec::new(),
        mail: None,
        visibility: Some("Private".into()),
        is_assignable_to_role: false,
        created_date_time: created,
    }
}

async fn insert_users(s: &SqlStore, users: &[User]) {
    let mut tx = s.begin().await.unwrap();
    for u in users {
        tx.insert_user(u).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn migrations_are_idempotent_and_ready(backend: Backend) {
    let s = store(backend).await;
    writ_store::migrate(&s).await.unwrap();
    s.ready().await.unwrap();
    assert_eq!(s.backend(), backend.name());
}

async fn users_round_trip(backend: Backend) {
    let s = store(backend).await;
    let mut u = user("Ada Lovelace", now());
    u.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    insert_users(&s, std::slice::from_ref(&u)).await;
    assert_eq!(s.user(&u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        s.user_by_principal_name("ADA.LOVELACE@example.org")
            .await
            .unwrap(),
        Some(u.clone())
    );
    assert_eq!(s.object_kind(&u.id).await.unwrap(), Some(ObjectKind::User));

    // The UPN is unique whatever its case.
    let mut twin = user("Ada Lovelace", now());
    twin.user_principal_name = "Ada.Lovelace@EXAMPLE.org".into();
    let mut tx = s.begin().await.unwrap();
    let err = tx.insert_user(&twin).await.unwrap_err();
    assert!(matches!(err, StoreError::Unique(_)), "{err:?}");
}

async fn dropped_transactions_roll_back(backend: Backend) {
    let s = store(backend).await;
    let u = user("Rolled Back", now());
    {
        let mut tx = s.begin().await.unwrap();
        tx.insert_user(&u).await.unwrap();
        tx.append_audit(&AuditRecord::success(
            Actor::system(),
            now(),
            "UserManagement",
            "Add user",
            "Add",
            None,
        ))
        .await
        .unwrap();
    }
    assert_eq!(s.user(&u.id).await.unwrap(), None);
    assert!(s.audit_records(10).await.unwrap().is_empty());
    // The store is still usable afterwards (the SQLite writer lock was released).
    insert_users(&s, &[user("After", now())]).await;
}

async fn filter_order_page_and_count(backend: Backend) {
    let s = store(backend).await;
    let base = now();
    let users: Vec<User> = (0..25)
        .map(|i| {
            let mut u = user(&format!("Agent {i:02}"), base + Duration::seconds(i));
            if i % 5 == 0 {
                u.user_type = "Guest".into();
            }
            u
        })
        .collect();
    insert_users(&s, &users).await;
    insert_users(&s, &[user("Zed Outsider", base)]).await;

    let mut query = ListQuery {
        filter: Some("startswith(displayName,'agent') and userType eq 'member'".into()),
        orderby: Some("displayName desc".into()),
        top: 7,
        skiptoken: None,
        count: true,
    };
    let mut seen = Vec::new();
    loop {
        let page = s.list_users(&query, None).await.unwrap();
        assert_eq!(page.count, Some(20));
        assert!(page.items.len() <= 7);
        seen.extend(page.items.into_iter().map(|u| u.display_name));
        match page.next_skiptoken {
            Some(token) => query.skiptoken = Some(token),
            None => break,
        }
    }
    let mut expected: Vec<String> = users
        .iter()
        .filter(|u| u.user_type == "Member")
        .map(|u| u.display_name.clone())
        .collect();
    expected.sort();
    expected.reverse();
    assert_eq!(seen, expected);

    // Instants compare as instants.
    let after = (base + Duration::seconds(19))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let page = s
        .list_users(
            &ListQuery {
                filter: Some(format!("createdDateTime ge {after}")),
                orderby: Some("createdDateTime".into()),
                top: 100,
                ..ListQuery::default()
            },
            None,
        )
        .await
        .unwrap();
    let names: Vec<_> = page.items.iter().map(|u| u.display_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Agent 19", "Agent 20", "Agent 21", "Agent 22", "Agent 23", "Agent 24"
        ]
    );

    // A token made for one query is refused by another.
    let first = s
        .list_users(
            &ListQuery {
                top: 2,
                ..ListQuery::default()
            },
            None,
        )
        .await
        .unwrap();
    let err = s
        .list_users(
            &ListQuery {
                top: 2,
                filter: Some("accountEnabled eq true".into()),
                skiptoken: first.next_skiptoken,
                ..ListQuery::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidQuery(_)), "{err:?}");

    for bad in [
        "nope eq 1",
        "displayName eq",
        "passwordHash eq 'x'",
        "userType eq 'Robot'",
    ] {
        let err = s
            .list_users(
                &ListQuery {
                    filter: Some(bad.into()),
                    top: 5,
                    ..ListQuery::default()
                },
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidQuery(_)), "{bad}: {err:?}");
    }
    let err = s
        .list_users(
            &ListQuery {
                orderby: Some("mail".into()),
                top: 5,
                ..ListQuery::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidQuery(_)), "{err:?}");
}

async fn lambdas_over_groups(backend: Backend) {
    let s = store(backend).await;
    let mut unified = group("Unified", now());
    unified.group_types = vec!["Unified".into()];
    let security = group("Security", now());
    let mut tx = s.begin().await.unwrap();
    tx.insert_group(&unified).await.unwrap();
    tx.insert_group(&security).await.unwrap();
    tx.commit().await.unwrap();
    let page = s
        .list_groups(&ListQuery {
            filter: Some("groupTypes/any(c:c eq 'Unified')".into()),
            top: 10,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items, vec![unified.clone()]);
    let page = s
        .list_groups(&ListQuery {
            filter: Some("not groupTypes/any(c:c eq 'Unified') and visibility eq 'private'".into()),
            top: 10,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items, vec![security]);
}

async fn memberships_are_held_per_holder_and_end_at_their_instant(backend: Backend) {
    let s = store(backend).await;
    let t0 = now();
    let g = group("Holders", t0);
    let a = user("Member A", t0);
    let b = user("Member B", t0);
    insert_users(&s, &[a.clone(), b.clone()]).await;
    let mut tx = s.begin().await.unwrap();
    tx.insert_group(&g).await.unwrap();
    assert!(
        tx.add_group_member(&g.id, &a.id, "direct", None)
            .await
            .unwrap()
    );
    assert!(
        !tx.add_group_member(&g.id, &a.id, "direct", None)
            .await
            .unwrap()
    );
    assert!(
        tx.add_group_member(&g.id, &a.id, "assignment-1", None)
            .await
            .unwrap()
    );
    assert!(
        tx.add_group_member(
            &g.id,
            &b.id,
            "assignment-2",
            Some(t0 + Duration::minutes(5))
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();

    let members = |at: OffsetDateTime| {
        let s = s.clone();
        let g = g.id.clone();
        async move {
            let page = s
                .list_group_members(&g, at, &ListQuery::first(10))
                .await
                .unwrap();
            let mut ids: Vec<String> = page.items.iter().map(|o| o.id().to_owned()).collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![a.id.clone(), b.id.clone()];
    both.sort();
    assert_eq!(members(t0).await, both);
    // Access ends exactly at the end instant, with no sweep.
    assert_eq!(members(t0 + Duration::minutes(5)).await, vec![a.id.clone()]);

    // Removing the direct holder leaves the membership another holder keeps.
    let mut tx = s.begin().await.unwrap();
    assert!(
        tx.remove_group_member(&g.id, &a.id, "direct")
            .await
            .unwrap()
    );
    assert!(
        !tx.remove_group_member(&g.id, &a.id, "direct")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(members(t0).await, both);
}

async fn member_paging_and_count(backend: Backend) {
    let s = store(backend).await;
    let g = group("Big", now());
    let users: Vec<User> = (0..9).map(|i| user(&format!("M {i}"), now())).collect();
    insert_users(&s, &users).await;
    let mut tx = s.begin().await.unwrap();
    tx.insert_group(&g).await.unwrap();
    for u in &users {
        tx.add_group_member(&g.id, &u.id, "direct", None)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut query = ListQuery {
        top: 4,
        count: true,
        ..ListQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = s.list_group_members(&g.id, now(), &query).await.unwrap();
        assert_eq!(page.count, Some(9));
        seen.extend(page.items.iter().map(|o| o.id().to_owned()));
        match page.next_skiptoken {
            Some(t) => query.skiptoken = Some(t),
            None => break,
        }
    }
    let mut expected: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

async fn deleting_a_user_removes_its_links(backend: Backend) {
    let s = store(backend).await;
    let boss = user("Boss", now());
    let mut report = user("Report", now());
    report.manager_id = Some(boss.id.clone());
    insert_users(&s, &[boss.clone(), report.clone()]).await;
    let g = group("Team", now());
    let mut tx = s.begin().await.unwrap();
    tx.insert_group(&g).await.unwrap();
    tx.add_group_member(&g.id, &boss.id, "direct", None)
        .await
        .unwrap();
    tx.add_group_owner(&g.id, &boss.id, "direct", None)
        .await
        .unwrap();
    tx.assign_directory_role(&direct_role(
        "ra-1",
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        &boss.id,
        now(),
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.effective_directory_roles(&boss.id, now())
            .await
            .unwrap()
            .len(),
        1
    );

    let mut tx = s.begin().await.unwrap();
    tx.delete_user(&boss.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.user(&boss.id).await.unwrap(), None);
    assert_eq!(s.object_kind(&boss.id).await.unwrap(), None);
    assert_eq!(s.user(&report.id).await.unwrap().unwrap().manager_id, None);
    assert!(
        s.list_group_members(&g.id, now(), &ListQuery::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.list_group_owners(&g.id, now(), &ListQuery::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.effective_directory_roles(&boss.id, now())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn audit_and_outbox_append_in_the_transaction(backend: Backend) {
    let s = store(backend).await;
    let t = now();
    let record = AuditRecord::success(
        Actor::system(),
        t,
        "UserManagement",
        "Add user",
        "Add",
        Some("req-1"),
    )
    .target("u-1", "User", Some("Ada"), vec!["displayName".into()])
    .detail("onBehalfOf", "agent-7");
    let event = OutboxEvent::new(
        "assignment.delivered",
        t,
        serde_json::json!({"assignmentId": "a-1"}),
        vec![Recipient {
            id: "u-2".into(),
            kind: "user".into(),
            mail: Some("s@example.org".into()),
        }],
    );
    let mut tx = s.begin().await.unwrap();
    tx.append_audit(&record).await.unwrap();
    tx.enqueue_event(&event).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.audit_records(10).await.unwrap(), vec![record]);
    assert_eq!(s.outbox_events(10).await.unwrap(), vec![event]);
}

async fn settings_keep_their_first_value(backend: Backend) {
    let s = store(backend).await;
    let mut tx = s.begin().await.unwrap();
    assert_eq!(tx.init_setting("k", "first").await.unwrap(), "first");
    assert_eq!(tx.init_setting("k", "second").await.unwrap(), "first");
    tx.commit().await.unwrap();
    assert_eq!(s.setting("k").await.unwrap().as_deref(), Some("first"));
}

async fn idempotency_keys_are_reserved_once(backend: Backend) {
    let s = store(backend).await;
    let t = now();
    let mut tx = s.begin().await.unwrap();
    tx.reserve_idempotency_key("p", "POST /users", "key-1", "h1", t)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.begin().await.unwrap();
    let err = tx
        .reserve_idempotency_key("p", "POST /users", "key-1", "h1", t)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unique(_)), "{err:?}");
    drop(tx);
    let mut tx = s.begin().await.unwrap();
    tx.complete_idempotency_key("p", "POST /users", "key-1", 201, "{\"id\":1}")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let stored = s
        .idempotent_response("p", "POST /users", "key-1", t - Duration::hours(24))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, Some(201));
    assert_eq!(stored.response_body.as_deref(), Some("{\"id\":1}"));
    // After 24 hours the key is forgotten.
    assert!(
        s.idempotent_response("p", "POST /users", "key-1", t + Duration::seconds(1))
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_writers_all_commit(backend: Backend) {
    let s = store(backend).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = s.begin().await.unwrap();
            tx.insert_user(&user(&format!("Writer {i}"), now()))
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let page = s
        .list_users(
            &ListQuery {
                top: 100,
                count: true,
                ..ListQuery::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(page.count, Some(24));
}

async fn replicas_bootstrapping_together_agree(backend: Backend) {
    let database = testing::empty_database(backend).await.unwrap();
    let url = database.url().to_owned();
    let first = writ_store::connect(&writ_store::ConnectOptions::new(url.clone()))
        .await
        .unwrap();
    writ_store::migrate(&first).await.unwrap();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(
            writ_store::connect(&writ_store::ConnectOptions::new(url.clone()))
                .await
                .unwrap(),
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let config = BootstrapConfig {
        initial_settings: vec![("signing".into(), "key-a".into())],
        ..BootstrapConfig::default()
    };
    let mut tasks = Vec::new();
    for (i, replica) in replicas.into_iter().enumerate() {
        let clock = clock.clone();
        let mut config = config.clone();
        config.initial_settings = vec![("signing".into(), format!("key-{i}"))];
        tasks.push(tokio::spawn(async move {
            bootstrap(&replica, clock.as_ref(), &config).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let tenants: std::collections::HashSet<_> =
        outcomes.iter().map(|o| o.tenant_id.clone()).collect();
    assert_eq!(tenants.len(), 1, "replicas disagree on the tenant id");
    let keys: std::collections::HashSet<_> =
        outcomes.iter().map(|o| o.settings[0].1.clone()).collect();
    assert_eq!(keys.len(), 1, "replicas disagree on the signing key");
    // Exactly one administrator was generated.
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| o.generated_admin.is_some())
            .count(),
        1
    );
}

async fn roles_reach_members_of_role_assignable_groups_until_their_membership_ends(
    backend: Backend,
) {
    let s = store(backend).await;
    let t0 = now();
    let member = user("Role Member", t0);
    insert_users(&s, std::slice::from_ref(&member)).await;
    let mut assignable = group("Readers", t0);
    assignable.is_assignable_to_role = true;
    let plain = group("Plain", t0);
    let reader = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
    let governance = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e";
    let mut tx = s.begin().await.unwrap();
    tx.insert_group(&assignable).await.unwrap();
    tx.insert_group(&plain).await.unwrap();
    tx.add_group_member(
        &assignable.id,
        &member.id,
        "assignment-1",
        Some(t0 + Duration::minutes(5)),
    )
    .await
    .unwrap();
    tx.add_group_member(&plain.id, &member.id, "direct", None)
        .await
        .unwrap();
    tx.assign_directory_role(&direct_role("ra-g", reader, &assignable.id, t0))
        .await
        .unwrap();
    // A role on a group that is not role-assignable reaches nobody.
    tx.assign_directory_role(&direct_role("ra-p", governance, &plain.id, t0))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let roles = s.effective_directory_roles(&member.id, t0).await.unwrap();
    assert_eq!(
        roles,
        vec![(reader.to_owned(), Some(t0 + Duration::minutes(5)))]
    );
    assert!(
        s.effective_directory_roles(&member.id, t0 + Duration::minutes(5))
            .await
            .unwrap()
            .is_empty()
    );
}

fn worker(id: &str, batch_size: u32, max_attempts: u32) -> WorkerConfig {
    WorkerConfig {
        worker_id: id.to_owned(),
        lease: Duration::seconds(30),
        batch_size,
        max_batch_size: batch_size,
        parallel_passes: 1,
        concurrency: 4,
        max_attempts,
    }
}

async fn claim(store: &SqlStore, worker: &str, at: OffsetDateTime, limit: u32) -> Vec<ClaimedJob> {
    let mut tx = store.begin().await.unwrap();
    let jobs = tx
        .claim_jobs(worker, at, at + Duration::seconds(30), limit)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    jobs
}

async fn jobs_are_claimed_when_due_under_a_lease(backend: Backend) {
    let store = store(backend).await;
    let t0 = now();
    let job = NewJob::new(
        JobKind::ProcessRequest,
        "request-1",
        t0 + Duration::seconds(10),
    );
    let mut tx = store.begin().await.unwrap();
    assert!(tx.enqueue_job(&job).await.unwrap());
    // The same work enqueued again (a retried cause) is one job.
    assert!(
        !tx.enqueue_job(&NewJob::new(
            JobKind::ProcessRequest,
            "request-1",
            job.due_at
        ))
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(store.next_job_due().await.unwrap(), Some(job.due_at));

    assert!(claim(&store, "a", t0, 10).await.is_empty(), "not due yet");
    let claimed = claim(&store, "a", t0 + Duration::seconds(10), 10).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, job.id);
    assert_eq!(claimed[0].kind, Some(JobKind::ProcessRequest));
    assert_eq!(claimed[0].subject_id, "request-1");
    assert_eq!(claimed[0].attempts, 1);
    // Leased: nobody else takes it, and the next due time is the lease's end.
    assert!(
        claim(&store, "b", t0 + Duration::seconds(11), 10)
            .await
            .is_empty()
    );
    assert_eq!(
        store.next_job_due().await.unwrap(),
        Some(t0 + Duration::seconds(40))
    );

    // Worker a dies; its lease runs out and b takes the job over, counting a second attempt.
    let taken_over = claim(&store, "b", t0 + Duration::seconds(40), 10).await;
    assert_eq!(taken_over.len(), 1);
    assert_eq!(taken_over[0].attempts, 2);
    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.complete_job(&job.id, "a").await.unwrap(),
        "a lost its lease"
    );
    assert!(tx.complete_job(&job.id, "b").await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.jobs_about("request-1").await.unwrap().is_empty());
    assert_eq!(store.next_job_due().await.unwrap(), None);

    // A job written by a transaction that rolls back never existed.
    let mut tx = store.begin().await.unwrap();
    tx.enqueue_job(&NewJob::new(JobKind::ExpireAssignment, "assignment-1", t0))
        .await
        .unwrap();
    drop(tx);
    assert!(store.jobs_about("assignment-1").await.unwrap().is_empty());
    // Once done, the same work may be queued again.
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.enqueue_job(&NewJob::new(
            JobKind::ProcessRequest,
            "request-1",
            job.due_at
        ))
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
}

/// Fails while `failures_left` is above zero, then succeeds; records what it ran.
#[derive(Default)]
struct FlakyHandler {
    failures_left: std::sync::Mutex<u32>,
    ran: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl JobHandler for FlakyHandler {
    async fn handle(&self, job: &ClaimedJob, _now: OffsetDateTime) -> DomainResult<()> {
        self.ran.lock().unwrap().push(job.subject_id.clone());
        let mut left = self.failures_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err(DomainError::Unavailable(
                "target directory unreachable".into(),
            ));
        }
        Ok(())
    }
}

async fn failing_jobs_back_off_then_park_until_reprocessed(backend: Backend) {
    let store = store(backend).await;
    let clock = ManualClock::new(now());
    let handler = FlakyHandler {
        failures_left: std::sync::Mutex::new(3),
        ..Default::default()
    };
    let config = worker("w", 10, 2);
    let mut tx = store.begin().await.unwrap();
    tx.enqueue_job(&NewJob::new(
        JobKind::DeliverAssignment,
        "assignment-9",
        clock.now(),
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let report = run_due_jobs(&store, &handler, &config, clock.now())
        .await
        .unwrap();
    assert_eq!(
        report,
        PassReport {
            completed: 0,
            retried: 1,
            parked: 0
        }
    );
    let queued = store.jobs_about("assignment-9").await.unwrap();
    assert_eq!(
        queued[0].due_at,
        clock.now() + Duration::seconds(1),
        "first retry after 1 s"
    );
    assert_eq!(
        queued[0].last_error.as_deref(),
        Some("service temporarily unavailable: target directory unreachable")
    );
    assert_eq!(queued[0].lease_owner, None);
    // Not yet due: a pass does nothing.
    assert_eq!(
        run_due_jobs(&store, &handler, &config, clock.now())
            .await
            .unwrap(),
        PassReport::default()
    );

    clock.advance(Duration::seconds(1));
    let report = run_due_jobs(&store, &handler, &config, clock.now())
        .await
        .unwrap();
    assert_eq!(report.parked, 1, "second failure reaches max_attempts");
    let parked = &store.jobs_about("assignment-9").await.unwrap()[0];
    assert_eq!(parked.parked_at, Some(clock.now()));
    assert_eq!(parked.attempts, 2);
    assert_eq!(
        store.next_job_due().await.unwrap(),
        None,
        "parked jobs wait for reprocess"
    );
    clock.advance(Duration::hours(1));
    assert_eq!(
        run_due_jobs(&store, &handler, &config, clock.now())
            .await
            .unwrap(),
        PassReport::default()
    );

    // reprocess: due again with a fresh count; it fails once more, then succeeds.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.unpark_jobs("assignment-9", clock.now()).await.unwrap(),
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(
        run_due_jobs(&store, &handler, &config, clock.now())
            .await
            .unwrap()
            .retried,
        1
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(
        run_due_jobs(&store, &handler, &config, clock.now())
            .await
            .unwrap()
            .completed,
        1
    );
    assert!(store.jobs_about("assignment-9").await.unwrap().is_empty());
    assert_eq!(handler.ran.lock().unwrap().len(), 4);
}

async fn concurrent_workers_claim_disjoint_jobs(backend: Backend) {
    let store = store(backend).await;
    let at = now();
    let mut tx = store.begin().await.unwrap();
    for n in 0..120 {
        tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &format!("r{n}"), at))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = claim(&store, &format!("w{w}"), at, 7).await;
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|job| job.subject_id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: std::collections::HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 120, "every job claimed exactly once");
    assert_eq!(distinct.len(), 120);
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(writ_store::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(writ_store::Backend::Postgres).await }
            )*
        }
    };
}

/// Runs jobs one by one (the trait's default batches nothing); records what it ran, and the
/// batches a wrapping handler ran.
#[derive(Default)]
struct BatchingHandler {
    fail_batch: bool,
    batches: std::sync::Mutex<Vec<Vec<String>>>,
    singles: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl JobHandler for BatchingHandler {
    async fn handle(&self, job: &ClaimedJob, _now: OffsetDateTime) -> DomainResult<()> {
        self.singles.lock().unwrap().push(job.subject_id.clone());
        Ok(())
    }
}

/// The store's side of a batch: a handler that completes a claim's jobs of one kind in one
/// transaction; when it fails, the worker runs them one by one instead.
struct StoreBatchingHandler {
    inner: BatchingHandler,
    store: SqlStore,
}

#[async_trait::async_trait]
impl JobHandler for StoreBatchingHandler {
    async fn handle(&self, job: &ClaimedJob, now: OffsetDateTime) -> DomainResult<()> {
        self.inner.handle(job, now).await
    }

    async fn handle_batch(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        _now: OffsetDateTime,
    ) -> DomainResult<bool> {
        if self.inner.fail_batch {
            return Err(DomainError::Conflict("an assignment changed".into()));
        }
        let mut tx = self.store.begin().await.unwrap();
        for job in jobs {
            assert!(tx.complete_job(&job.id, worker).await.unwrap());
        }
        tx.commit().await.unwrap();
        self.inner
            .batches
            .lock()
            .unwrap()
            .push(jobs.iter().map(|j| j.subject_id.clone()).collect());
        Ok(true)
    }
}

async fn jobs_of_one_kind_run_as_a_batch_or_one_by_one(backend: Backend) {
    let store = store(backend).await;
    let t0 = now();
    for fail_batch in [false, true] {
        let mut tx = store.begin().await.unwrap();
        for i in 0..3 {
            tx.enqueue_job(&NewJob::new(
                JobKind::ExpireAssignment,
                &format!("assignment-{fail_batch}-{i}"),
                t0,
            ))
            .await
            .unwrap();
        }
        tx.enqueue_job(&NewJob::new(
            JobKind::ProcessRequest,
            &format!("request-{fail_batch}"),
            t0,
        ))
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let handler = StoreBatchingHandler {
            inner: BatchingHandler {
                fail_batch,
                ..Default::default()
            },
            store: store.clone(),
        };
        let report = run_due_jobs(&store, &handler, &worker("w", 10, 3), t0)
            .await
            .unwrap();
        assert_eq!((report.completed, report.retried), (4, 0));
        let batches = handler.inner.batches.lock().unwrap().clone();
        let mut singles = handler.inner.singles.lock().unwrap().clone();
        singles.sort();
        if fail_batch {
            assert!(batches.is_empty());
            assert_eq!(
                singles,
                [
                    "assignment-true-0",
                    "assignment-true-1",
                    "assignment-true-2",
                    "request-true"
                ],
                "a failed batch runs one by one"
            );
        } else {
            assert_eq!(batches.len(), 1);
            assert_eq!(batches[0].len(), 3);
            assert_eq!(singles, ["request-false"], "a lone job runs by itself");
        }
        assert_eq!(
            store.next_job_due().await.unwrap(),
            None,
            "every job was completed"
        );
    }
    // A handler that does not batch says so.
    let plain = BatchingHandler::default();
    assert!(!plain.handle_batch(&[], "w", t0).await.unwrap());
}

// After the macro, which it uses.
#[path = "conformance/audit_chain.rs"]
mod audit_chain;

conformance!(
    migrations_are_idempotent_and_ready,
    users_round_trip,
    dropped_transactions_roll_back,
    filter_order_page_and_count,
    lambdas_over_groups,
    memberships_are_held_per_holder_and_end_at_their_instant,
    member_paging_and_count,
    deleting_a_user_removes_its_links,
    audit_and_outbox_append_in_the_transaction,
    settings_keep_their_first_value,
    idempotency_keys_are_reserved_once,
    concurrent_writers_all_commit,
    replicas_bootstrapping_together_agree,
    roles_reach_members_of_role_assignable_groups_until_their_membership_ends,
    jobs_are_claimed_when_due_under_a_lease,
    failing_jobs_back_off_then_park_until_reprocessed,
    concurrent_workers_claim_disjoint_jobs,
    jobs_of_one_kind_run_as_a_batch_or_one_by_one,
);

/// A tenant-wide directory role an administrator assigned.
fn direct_role(id: &str, role: &str, principal: &str, at: OffsetDateTime) -> RoleAssignment {
    RoleAssignment {
        id: id.into(),
        role_definition_id: role.into(),
        principal_id: principal.into(),
        directory_scope_id: "/".into(),
        holder: "direct".into(),
        created_date_time: at,
        ends_at: None,
    }
}
