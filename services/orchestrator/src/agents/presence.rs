//! Which agents hold a session on this orchestrator, and how to wake a session when its
//! instance has a new command (the in-process implementation; a Redis one comes with scale-out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Presence {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

#[derive(Clone)]
struct Session {
    id: u64,
    wake: Arc<Notify>,
}

/// Held by a session; removes its entry when dropped (unless a newer session replaced it).
pub struct Registration {
    presence: Presence,
    instance: String,
    id: u64,
    pub wake: Arc<Notify>,
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a session of `instance`. A newer session of the same instance replaces an
    /// older one, which is woken to notice and end.
    pub fn register(&self, instance: &str) -> Registration {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        let old = self.lock().insert(
            instance.to_owned(),
            Session {
                id,
                wake: wake.clone(),
            },
        );
        if let Some(old) = old {
            old.wake.notify_one();
        }
        Registration {
            presence: self.clone(),
            instance: instance.to_owned(),
            id,
            wake,
        }
    }

    /// Wakes the session of `instance`, if it has one here.
    pub fn notify(&self, instance: &str) {
        if let Some(session) = self.lock().get(instance) {
            session.wake.notify_one();
        }
    }

    pub fn is_connected(&self, instance: &str) -> bool {
        self.lock().contains_key(instance)
    }
}

impl Registration {
    /// False once a newer session of the same instance took over.
    pub fn is_current(&self) -> bool {
        self.presence
            .lock()
            .get(&self.instance)
            .is_some_and(|s| s.id == self.id)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut sessions = self.presence.lock();
        if sessions
            .get(&self.instance)
            .is_some_and(|s| s.id == self.id)
        {
            sessions.remove(&self.instance);
        }
    }
}
