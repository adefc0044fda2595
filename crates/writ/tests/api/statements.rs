//! Counting the SQL statements a call runs, so that a test can bound a path's round trips and
//! a read added to it cannot go unnoticed. sqlx reports each statement as a `sqlx::query`
//! tracing event with its text in `db.statement`. PostgreSQL's driver runs statements in the
//! caller's task, where a thread-local subscriber sees them; SQLite's run on its own worker
//! thread, where it does not, so the count exists on PostgreSQL only.

use std::sync::{Arc, Mutex};

use tracing::subscriber::DefaultGuard;
use writ_store::Backend;

/// The statements run on this thread from [`Statements::record`] to [`Statements::finish`].
pub struct Statements {
    log: Arc<Mutex<Vec<String>>>,
    guard: Option<DefaultGuard>,
    // A second live dispatcher: with only one, `tracing` decides a call site first reached on
    // another thread (a test running alongside under `cargo test`) by that thread's subscriber
    // alone (none) and never asks this one again.
    _second: tracing::Dispatch,
}

impl Statements {
    /// Starts recording on PostgreSQL; on SQLite records nothing. Make one uncounted call and
    /// [`Statements::clear`] before the counted one: the statements' call sites learn on their
    /// first use under the log that a subscriber wants them.
    pub fn record(backend: Backend) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        let guard = (backend == Backend::Postgres)
            .then(|| tracing::subscriber::set_default(StatementLog(log.clone())));
        Self {
            log,
            guard,
            _second: second,
        }
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }

    /// The statements' texts, whitespace collapsed (`None` on SQLite).
    pub fn finish(mut self) -> Option<Vec<String>> {
        let recorded = self.guard.take().is_some();
        recorded.then(|| self.log.lock().unwrap().clone())
    }
}

struct StatementLog(Arc<Mutex<Vec<String>>>);

struct StatementText(String);

impl tracing::field::Visit for StatementText {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "db.statement" {
            self.0 = value.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "db.statement" && self.0.is_empty() {
            let text = format!("{value:?}");
            self.0 = text.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
}

impl tracing::Subscriber for StatementLog {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            let mut text = StatementText(String::new());
            event.record(&mut text);
            self.0.lock().unwrap().push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
