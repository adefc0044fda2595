//! Idempotency keys of create POSTs: the first response is remembered for 24 h per principal,
//! route and key, and replayed to retries; the same key with another body is refused; a retry
//! while the first attempt is still running is told so. A failed attempt releases its key so the
//! client can retry it. The HTTP crate reads the header and answers each [`Reservation`].

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::Duration;

use crate::clock::Clock;
use crate::directory::Directory;
use crate::error::DomainResult;
use crate::store::{IdempotentResponse, Store, StoreError};

/// How long a response is remembered.
pub const RETENTION: Duration = Duration::hours(24);

/// What a request with an idempotency key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is this request's: run it, then [`Idempotency::complete`] or
    /// [`Idempotency::release`].
    Reserved,
    /// The key was used for this body and answered: replay that answer.
    Replay { status: u16, body: String },
    /// The key was used with a different body.
    Reused,
    /// The first request with this key is still being processed.
    InProgress,
}

/// The hash of a request body that a key is bound to (SHA-256, URL-safe base64).
pub fn body_hash(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, body).as_ref())
}

/// What a remembered key means for a request whose body hashes to `body_hash`.
pub fn previous_outcome(previous: IdempotentResponse, body_hash: &str) -> Reservation {
    if previous.body_hash != body_hash {
        return Reservation::Reused;
    }
    match (previous.status, previous.response_body) {
        (Some(status), Some(body)) => Reservation::Replay { status, body },
        _ => Reservation::InProgress,
    }
}

/// The idempotency-key service, made from the [`Directory`] by [`Idempotency::of`].
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    store: &'a dyn Store,
    clock: &'a dyn Clock,
}

impl<'a> Idempotency<'a> {
    pub fn new(store: &'a dyn Store, clock: &'a dyn Clock) -> Self {
        Self { store, clock }
    }

    /// The idempotency-key service over the directory's store and clock.
    pub fn of(directory: &'a Directory) -> Self {
        Self::new(directory.port(), directory.clock().as_ref())
    }

    /// Reserves `key` of `principal` on `route` for a request with this body, unless it was
    /// used within [`RETENTION`].
    pub async fn reserve(
        &self,
        principal: &str,
        route: &str,
        key: &str,
        body: &[u8],
    ) -> DomainResult<Reservation> {
        let now = self.clock.now();
        let body_hash = body_hash(body);
        let not_before = now.saturating_sub(RETENTION);
        if let Some(previous) = self
            .store
            .idempotent_response(principal, route, key, not_before)
            .await?
        {
            return Ok(previous_outcome(previous, &body_hash));
        }
        let mut tx = self.store.begin().await?;
        match tx
            .reserve_idempotency_key(principal, route, key, &body_hash, now)
            .await
        {
            Ok(()) => {
                tx.commit().await?;
                Ok(Reservation::Reserved)
            }
            Err(StoreError::Unique(_)) => {
                drop(tx);
                // Another attempt reserved the key between our read and our insert.
                Ok(
                    match self
                        .store
                        .idempotent_response(principal, route, key, not_before)
                        .await?
                    {
                        Some(previous) => previous_outcome(previous, &body_hash),
                        None => Reservation::InProgress,
                    },
                )
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Remembers the `201` answer of a reserved key.
    pub async fn complete(
        &self,
        principal: &str,
        route: &str,
        key: &str,
        response_body: &str,
    ) -> DomainResult<()> {
        let mut tx = self.store.begin().await?;
        tx.complete_idempotency_key(principal, route, key, 201, response_body)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Frees a reserved key whose request failed, so that it can be retried.
    pub async fn release(&self, principal: &str, route: &str, key: &str) -> DomainResult<()> {
        let mut tx = self.store.begin().await?;
        tx.release_idempotency_key(principal, route, key).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(body: &[u8], answer: Option<(u16, &str)>) -> IdempotentResponse {
        IdempotentResponse {
            body_hash: body_hash(body),
            status: answer.map(|(s, _)| s),
            response_body: answer.map(|(_, b)| b.to_owned()),
        }
    }

    #[test]
    fn a_remembered_key_replays_refuses_or_waits() {
        let hash = body_hash(b"{\"a\":1}");
        assert_eq!(
            previous_outcome(remembered(b"{\"a\":1}", Some((201, "{}"))), &hash),
            Reservation::Replay {
                status: 201,
                body: "{}".into()
            }
        );
        assert_eq!(
            previous_outcome(remembered(b"{\"a\":2}", Some((201, "{}"))), &hash),
            Reservation::Reused
        );
        assert_eq!(
            previous_outcome(remembered(b"{\"a\":1}", None), &hash),
            Reservation::InProgress
        );
    }
}
