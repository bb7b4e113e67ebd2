//! The delivery worker: POSTs pending trigger deliveries from the database.
//!
//! - The deliveries of one (deployment, trigger) pair are a queue in id order. Only its head
//!   is ever posted, so a receiver sees a deployment's events in the order they happened; a
//!   head waiting for a retry holds back the rest of its pair and nothing else.
//! - Pairs proceed independently, up to `concurrency` at a time, each in its own task.
//! - A 2xx answer delivers. Anything else (another status, no connection, no answer within
//!   `request_timeout`) counts an attempt, records the error and retries after a backoff that
//!   doubles from `first_retry` up to `max_retry`; after `max_attempts` the delivery has
//!   failed and the pair moves on. Redirects are not followed.
//! - The database is the queue: `run` scans the pending rows when woken, when a retry falls
//!   due and at least every second, so work left at a restart is picked up. A delivery
//!   interrupted by a crash is posted again, with the same `x-ferry-delivery` id.
//! - One `run` per database: two processes running it would post some deliveries twice.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{DELIVERED, FAILED, PENDING};
use crate::store::entities::trigger_delivery::{self, Column, Entity};
use crate::store::{Pools, now_micros};

/// The longest `run` waits between two scans of the pending rows.
const POLL: Duration = Duration::from_secs(1);
/// Pending rows read by one scan, oldest first.
const SCAN_LIMIT: u64 = 10_000;
/// How much of a refusing answer's body is kept in `last_error`.
const ERROR_BODY_LIMIT: usize = 512;

#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// The limit on one POST, from connecting to the end of the answer.
    pub request_timeout: Duration,
    /// The wait after the first failed attempt; it doubles after each further one.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// Attempts before a delivery is `failed`.
    pub max_attempts: u32,
    /// Pairs posted to at once.
    pub concurrency: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(300),
            max_attempts: 10,
            concurrency: 16,
        }
    }
}

impl DeliverySettings {
    /// The wait before the attempt after `failed_attempts` failed ones.
    fn backoff(&self, failed_attempts: u32) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(30);
        self.first_retry
            .saturating_mul(1 << doublings)
            .min(self.max_retry)
    }
}

/// (deployment id, trigger name): the unit of ordering.
type Pair = (String, String);

#[derive(Clone)]
pub struct Deliveries {
    inner: Arc<Inner>,
}

struct Inner {
    pools: Pools,
    settings: DeliverySettings,
    client: reqwest::Client,
    wake: Notify,
    /// Pairs a task is working on.
    busy: Mutex<HashSet<Pair>>,
    permits: Arc<Semaphore>,
}

enum Outcome {
    Delivered,
    /// Worth another attempt.
    Retry(String),
    /// No attempt can succeed (the URL cannot be posted to).
    Permanent(String),
}

impl Deliveries {
    pub fn new(pools: Pools, settings: DeliverySettings) -> Self {
        let client = reqwest::Client::builder()
            .user_agent("ferry")
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.request_timeout)
            .build()
            .unwrap_or_else(|e| {
                // Only a TLS back end that cannot start fails here; requests will fail too
                // and be recorded as such.
                tracing::error!(error = %e, "webhook http client");
                reqwest::Client::new()
            });
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Self {
            inner: Arc::new(Inner {
                pools,
                settings,
                client,
                wake: Notify::new(),
                busy: Mutex::new(HashSet::new()),
                permits,
            }),
        }
    }

    /// Looks for new deliveries now rather than at the next poll; call it after the
    /// transaction that enqueued them has committed.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Delivers until `shutdown`, then waits for the deliveries under way to stop (a POST is
    /// abandoned, its row stays pending).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        loop {
            while tasks.try_join_next().is_some() {}
            let wait = match self.dispatch(&mut tasks, &shutdown).await {
                Ok(Some(due)) => {
                    let micros = u64::try_from(due.saturating_sub(now_micros())).unwrap_or(0);
                    Duration::from_micros(micros).min(POLL)
                }
                Ok(None) => POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "scanning trigger deliveries");
                    POLL
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Starts a task for each pair whose head is due and that no task holds, while permits
    /// last; returns when the earliest head not yet due falls due.
    async fn dispatch(
        &self,
        tasks: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> Result<Option<i64>, DbErr> {
        let rows: Vec<(String, String, i64)> = Entity::find()
            .select_only()
            .columns([
                Column::DeploymentId,
                Column::TriggerName,
                Column::NextAttemptAt,
            ])
            .filter(Column::State.eq(PENDING))
            .order_by_asc(Column::Id)
            .limit(SCAN_LIMIT)
            .into_tuple()
            .all(&self.inner.pools.read)
            .await?;
        let now = now_micros();
        let mut seen = HashSet::new();
        let mut next_due: Option<i64> = None;
        for (deployment_id, trigger_name, next_attempt_at) in rows {
            let pair = (deployment_id, trigger_name);
            // Rows come oldest first, so the first row of a pair is its head.
            if seen.contains(&pair) {
                continue;
            }
            seen.insert(pair.clone());
            if next_attempt_at > now {
                next_due = Some(next_due.map_or(next_attempt_at, |t| t.min(next_attempt_at)));
                continue;
            }
            if !self.lock_busy().insert(pair.clone()) {
                // Its task wakes the loop when it stops.
                continue;
            }
            let Ok(permit) = self.inner.permits.clone().try_acquire_owned() else {
                // A task ending frees a permit and wakes the loop.
                self.lock_busy().remove(&pair);
                break;
            };
            let this = self.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                this.work_pair(&pair, &shutdown).await;
                this.lock_busy().remove(&pair);
                drop(permit);
                this.inner.wake.notify_one();
            });
        }
        Ok(next_due)
    }

    fn lock_busy(&self) -> std::sync::MutexGuard<'_, HashSet<Pair>> {
        self.inner
            .busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Posts the pair's deliveries in order while its head is due.
    async fn work_pair(&self, pair: &Pair, shutdown: &CancellationToken) {
        while !shutdown.is_cancelled() {
            let head = Entity::find()
                .filter(Column::DeploymentId.eq(&pair.0))
                .filter(Column::TriggerName.eq(&pair.1))
                .filter(Column::State.eq(PENDING))
                .order_by_asc(Column::Id)
                .one(&self.inner.pools.read)
                .await;
            let row = match head {
                Ok(Some(row)) if row.next_attempt_at <= now_micros() => row,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        deployment_id = %pair.0,
                        trigger = %pair.1,
                        "reading trigger delivery"
                    );
                    return pause(shutdown).await;
                }
            };
            let outcome = tokio::select! {
                () = shutdown.cancelled() => return,
                outcome = self.post(&row) => outcome,
            };
            if let Err(e) = self.record(&row, outcome).await {
                tracing::warn!(error = %e, delivery = %row.id, "recording trigger delivery");
                return pause(shutdown).await;
            }
        }
    }

    async fn post(&self, row: &trigger_delivery::Model) -> Outcome {
        match reqwest::Url::parse(&row.target_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(url) => return Outcome::Permanent(format!("unsupported scheme {}", url.scheme())),
            Err(e) => return Outcome::Permanent(format!("invalid url: {e}")),
        }
        let sent = self
            .inner
            .client
            .post(&row.target_url)
            .timeout(self.inner.settings.request_timeout)
            .header(CONTENT_TYPE, "application/json")
            .header("x-ferry-event", &row.event_type)
            .header("x-ferry-delivery", &row.id)
            .body(row.payload.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return Outcome::Retry(describe(&e, &self.inner.settings)),
        };
        let status = response.status();
        // Read a little of the body: a refusal's reason, and so the connection can be reused.
        let mut body = Vec::new();
        while body.len() < ERROR_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        if status.is_success() {
            return Outcome::Delivered;
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_LIMIT)]);
        let text = text.trim();
        Outcome::Retry(if text.is_empty() {
            format!("http status {status}")
        } else {
            format!("http status {status}: {text}")
        })
    }

    /// Stores an attempt's outcome, if the row is still pending.
    async fn record(&self, row: &trigger_delivery::Model, outcome: Outcome) -> Result<(), DbErr> {
        let settings = &self.inner.settings;
        let attempts = row.attempts.saturating_add(1);
        let mut update = Entity::update_many()
            .col_expr(Column::Attempts, Expr::value(attempts))
            .filter(Column::Id.eq(&row.id))
            .filter(Column::State.eq(PENDING));
        update = match outcome {
            Outcome::Delivered => update.col_expr(Column::State, Expr::value(DELIVERED)),
            Outcome::Permanent(error) => {
                tracing::warn!(delivery = %row.id, error = %error, "trigger delivery impossible");
                update
                    .col_expr(Column::State, Expr::value(FAILED))
                    .col_expr(Column::LastError, Expr::value(error))
            }
            Outcome::Retry(error) => {
                let spent = u32::try_from(attempts).unwrap_or(u32::MAX);
                tracing::debug!(
                    delivery = %row.id,
                    attempts,
                    error = %error,
                    "trigger delivery attempt failed"
                );
                if spent >= settings.max_attempts {
                    tracing::warn!(
                        delivery = %row.id,
                        trigger = %row.trigger_name,
                        attempts,
                        error = %error,
                        "trigger delivery given up"
                    );
                    update
                        .col_expr(Column::State, Expr::value(FAILED))
                        .col_expr(Column::LastError, Expr::value(error))
                } else {
                    let wait =
                        i64::try_from(settings.backoff(spent).as_micros()).unwrap_or(i64::MAX);
                    update
                        .col_expr(
                            Column::NextAttemptAt,
                            Expr::value(now_micros().saturating_add(wait)),
                        )
                        .col_expr(Column::LastError, Expr::value(error))
                }
            }
        };
        update.exec(&self.inner.pools.write).await.map(drop)
    }
}

/// Holds a pair whose rows cannot be read or written for a poll interval, so that a database
/// failure does not turn into a loop of retries.
async fn pause(shutdown: &CancellationToken) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(POLL) => {}
    }
}

/// A failed request in a few words: timed out, refused, or the error chain.
fn describe(e: &reqwest::Error, settings: &DeliverySettings) -> String {
    if e.is_timeout() {
        return format!("no answer within {:?}", settings.request_timeout);
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::DeliverySettings;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = DeliverySettings {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(10),
            ..Default::default()
        };
        let waits: Vec<u64> = (1..=6).map(|n| settings.backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(settings.backoff(1000), Duration::from_secs(10));
    }
}
