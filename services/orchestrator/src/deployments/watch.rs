//! WatchDeployment: a deployment's event log from a client's sequence on, then each event as
//! it is stored, until the deployment has ended.
//!
//! One task per stream reads the log in pages and sends what it reads. Once it has caught up
//! it waits for the event log's watch channel (an append in this process) or, at the latest,
//! [`POLL`] (a safety net for writes this process was not told about), then reads again.
//! The channel is bounded, so a slow client holds the task back instead of queueing events
//! in memory; a client that goes away ends the task.

use std::time::Duration;

use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{WatchDeploymentRequest, WatchDeploymentResponse};
use ferry_runtime::error::ApiError;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::Instrument;

use crate::events::EventLog;
use crate::store::Pools;

use super::driver;
use super::read;

/// Events read from the log at a time.
const PAGE: u64 = 256;
/// Events buffered for a client before the task waits for it.
const BUFFER: usize = 64;
/// Longest wait between two reads of the log when nothing announced an append.
const POLL: Duration = Duration::from_secs(2);

/// Whether `event` is the change to a terminal status (Succeeded, Failed or Stopped): the
/// last event a stream sends.
fn ends_the_stream(event: &WatchDeploymentResponse) -> bool {
    matches!(
        &event.event,
        Some(Event::DeploymentStatusChanged(changed)) if driver::is_terminal_status(changed.status)
    )
}

/// Checks the request (the deployment id as GetDeployment does, and that the deployment
/// exists), then starts the task that streams its events.
pub async fn watch(
    pools: Pools,
    events: EventLog,
    request: WatchDeploymentRequest,
) -> Result<ReceiverStream<Result<WatchDeploymentResponse, Status>>, Status> {
    let id = request.deployment_id;
    read::status_of(&pools.read, &id).await?;
    let (sender, receiver) = mpsc::channel(BUFFER);
    let span = tracing::debug_span!("watch_deployment", deployment_id = %id);
    let stream = Stream {
        pools,
        events,
        deployment_id: id,
        after: request.from_sequence,
        include_output: !request.exclude_output,
        sender,
    };
    tokio::spawn(stream.run().instrument(span));
    Ok(ReceiverStream::new(receiver))
}

struct Stream {
    pools: Pools,
    events: EventLog,
    deployment_id: String,
    /// The sequence of the last event sent (or the client's from_sequence).
    after: u64,
    include_output: bool,
    sender: mpsc::Sender<Result<WatchDeploymentResponse, Status>>,
}

/// What a pass over the log found.
enum Pass {
    /// The terminal status change was sent, or the client went away: the task is done.
    Done,
    /// Every stored event was sent.
    CaughtUp,
}

impl Stream {
    async fn run(mut self) {
        match self.stream().await {
            Ok(()) => tracing::debug!(after = self.after, "watch ended"),
            Err(error) => {
                // The client resumes after the last sequence it received.
                let _ = self.sender.send(Err(error.into())).await;
            }
        }
    }

    async fn stream(&mut self) -> Result<(), ApiError> {
        let mut appended = self.events.subscribe();
        // Set once the deployment has been seen in a terminal status: everything it will ever
        // log is then stored, and the stream ends when it has sent it.
        let mut finished = false;
        loop {
            // Seen before reading, so that an append during the read is not lost: it marks the
            // channel changed, and the wait below returns at once.
            appended.borrow_and_update();
            if let Pass::Done = self.pass().await? {
                return Ok(());
            }
            if finished {
                // Resumed after the terminal status change: nothing more will come.
                return Ok(());
            }
            // The row's status and the event announcing it are stored in one transaction, so a
            // terminal status read here means its event is readable by the next pass, which
            // sends it (and ends) unless it is at or before `after`.
            let status = read::status_of(&self.pools.read, &self.deployment_id).await?;
            if driver::is_terminal(&status) {
                finished = true;
                continue;
            }
            if !self.wait(&mut appended).await {
                return Ok(());
            }
        }
    }

    /// Reads and sends every event stored after `after`, page by page.
    async fn pass(&mut self) -> Result<Pass, ApiError> {
        loop {
            let page = self
                .events
                .read_after(&self.deployment_id, self.after, self.include_output, PAGE)
                .await
                .map_err(ApiError::internal)?;
            let full = page.len() as u64 == PAGE;
            for event in page {
                self.after = event.sequence;
                let last = ends_the_stream(&event);
                if self.sender.send(Ok(event)).await.is_err() || last {
                    return Ok(Pass::Done);
                }
            }
            if !full {
                return Ok(Pass::CaughtUp);
            }
        }
    }

    /// Waits for an append, [`POLL`] or the client going away (false).
    async fn wait(&self, appended: &mut watch::Receiver<u64>) -> bool {
        tokio::select! {
            // An error means the log's sender is gone, which cannot happen while `self.events`
            // holds it; the branch is then disabled and the poll wakes the task.
            Ok(()) = appended.changed() => true,
            () = tokio::time::sleep(POLL) => true,
            () = self.sender.closed() => false,
        }
    }
}
