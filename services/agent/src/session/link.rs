//! The sending half of the current stream, shared by every command task. Between streams
//! there is none: output is then dropped (and counted), results wait in the command store.

use std::sync::{Arc, Mutex};

use ferry_proto::agent::v1::SessionRequest;
use tokio::sync::mpsc;

#[derive(Clone, Default)]
pub struct Link {
    current: Arc<Mutex<Option<mpsc::Sender<SessionRequest>>>>,
}

impl Link {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<mpsc::Sender<SessionRequest>>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn attach(&self, sender: mpsc::Sender<SessionRequest>) {
        *self.lock() = Some(sender);
    }

    pub fn detach(&self) {
        *self.lock() = None;
    }

    /// Queues `message` on the current stream; false if there is none or it is full.
    pub fn try_send(&self, message: SessionRequest) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|sender| sender.try_send(message).is_ok())
    }

    /// Queues `message`, waiting for room; false if there is no stream.
    pub async fn send(&self, message: SessionRequest) -> bool {
        let sender = self.lock().clone();
        match sender {
            Some(sender) => sender.send(message).await.is_ok(),
            None => false,
        }
    }
}
