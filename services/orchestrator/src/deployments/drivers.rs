//! The deployments this process is driving: one task each, woken when one of its results
//! arrives and asked to stop through a channel, so a deployment's state has one writer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ferry_proto::deploy::v1::StopDeploymentResponse;
use ferry_runtime::error::ApiError;
use tokio::sync::{Notify, mpsc, oneshot};

/// A request to a running deployment's task.
pub enum Control {
    Stop {
        /// StopDeployment's `autoRollbackEnabled`: unset follows the deployment's auto-rollback
        /// configuration.
        rollback: Option<bool>,
        reply: oneshot::Sender<Result<StopDeploymentResponse, ApiError>>,
    },
}

struct Handle {
    wake: Arc<Notify>,
    control: mpsc::Sender<Control>,
}

/// What a deployment's task holds: its wake-up and its requests.
pub struct Inbox {
    pub wake: Arc<Notify>,
    pub control: mpsc::Receiver<Control>,
}

#[derive(Clone, Default)]
pub struct Drivers {
    running: Arc<Mutex<HashMap<String, Handle>>>,
}

impl Drivers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Handle>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims `deployment_id` for a new task; `None` when a task already drives it.
    pub fn claim(&self, deployment_id: &str) -> Option<Inbox> {
        let mut running = self.lock();
        if running.contains_key(deployment_id) {
            return None;
        }
        let wake = Arc::new(Notify::new());
        let (control, receiver) = mpsc::channel(8);
        running.insert(
            deployment_id.to_owned(),
            Handle {
                wake: wake.clone(),
                control,
            },
        );
        Some(Inbox {
            wake,
            control: receiver,
        })
    }

    pub fn release(&self, deployment_id: &str) {
        self.lock().remove(deployment_id);
    }

    /// Wakes the task of `deployment_id` (a result arrived), if it runs here.
    pub fn wake(&self, deployment_id: &str) {
        if let Some(handle) = self.lock().get(deployment_id) {
            handle.wake.notify_one();
        }
    }

    pub fn is_running(&self, deployment_id: &str) -> bool {
        self.lock().contains_key(deployment_id)
    }

    /// Asks the task of `deployment_id` to stop; `None` when no task drives it (the deployment
    /// has completed, or is not this process's).
    pub async fn stop(
        &self,
        deployment_id: &str,
        rollback: Option<bool>,
    ) -> Option<Result<StopDeploymentResponse, ApiError>> {
        let control = self.lock().get(deployment_id)?.control.clone();
        let (reply, answer) = oneshot::channel();
        control.send(Control::Stop { rollback, reply }).await.ok()?;
        answer.await.ok()
    }
}
