//! Which agents hold a session on this orchestrator, and how a session learns of its
//! instance's new commands (the in-process implementation; a Redis one comes with scale-out).
//!
//! A command a step has just committed is handed to its session in memory ([`deliver`]), so
//! a fleet of sessions does not read its rows back one session at a time; the rows stay the
//! record, read again after a reconnect. Anything else that changed an instance's commands
//! ([`notify`]: a cancellation, a newer session) makes the session read its rows.
//!
//! [`deliver`]: Presence::deliver
//! [`notify`]: Presence::notify

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_proto::agent::v1::Command;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Presence {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

#[derive(Clone)]
struct Session {
    id: u64,
    mailbox: Arc<Mailbox>,
}

/// What a session is to send, and the bell that wakes it.
#[derive(Default)]
pub struct Mailbox {
    pub wake: Notify,
    post: Mutex<Post>,
}

#[derive(Default)]
struct Post {
    commands: Vec<Command>,
    /// The instance's rows changed in a way only they say: read them.
    read_rows: bool,
}

/// What a woken session has to do.
pub enum Mail {
    /// Send these commands, committed and pending.
    Commands(Vec<Command>),
    /// Read the instance's pending commands and cancellations from the database.
    ReadRows,
}

impl Mailbox {
    fn post(&self) -> std::sync::MutexGuard<'_, Post> {
        self.post
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Empties the mailbox. Reading the rows covers the delivered commands too (they are
    /// committed), so they are dropped then.
    pub fn take(&self) -> Mail {
        let mut post = self.post();
        let commands = std::mem::take(&mut post.commands);
        if std::mem::take(&mut post.read_rows) {
            Mail::ReadRows
        } else {
            Mail::Commands(commands)
        }
    }
}

/// Held by a session; removes its entry when dropped (unless a newer session replaced it).
pub struct Registration {
    presence: Presence,
    instance: String,
    id: u64,
    pub mailbox: Arc<Mailbox>,
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mailbox(&self, instance: &str) -> Option<Arc<Mailbox>> {
        self.lock().get(instance).map(|s| s.mailbox.clone())
    }

    /// Registers a session of `instance`. A newer session of the same instance replaces an
    /// older one, which is woken to notice and end.
    pub fn register(&self, instance: &str) -> Registration {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mailbox = Arc::new(Mailbox::default());
        let old = self.lock().insert(
            instance.to_owned(),
            Session {
                id,
                mailbox: mailbox.clone(),
            },
        );
        if let Some(old) = old {
            old.mailbox.wake.notify_one();
        }
        Registration {
            presence: self.clone(),
            instance: instance.to_owned(),
            id,
            mailbox,
        }
    }

    /// Wakes the session of `instance`, if it has one here, to read its rows.
    pub fn notify(&self, instance: &str) {
        if let Some(mailbox) = self.mailbox(instance) {
            mailbox.post().read_rows = true;
            mailbox.wake.notify_one();
        }
    }

    /// Hands `command` (committed, pending) to the session of `instance`, if it has one here;
    /// without one, the agent's next session reads it from the rows.
    pub fn deliver(&self, instance: &str, command: Command) {
        if let Some(mailbox) = self.mailbox(instance) {
            mailbox.post().commands.push(command);
            mailbox.wake.notify_one();
        }
    }

    /// Takes back a delivered command not sent yet (the deployment gave up on it before it
    /// went out).
    pub fn withdraw(&self, instance: &str, command_id: &str) {
        if let Some(mailbox) = self.mailbox(instance) {
            mailbox
                .post()
                .commands
                .retain(|command| command.command_id != command_id);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn command(id: &str) -> Command {
        Command {
            command_id: id.to_owned(),
            ..Default::default()
        }
    }

    fn ids(mail: Mail) -> Option<Vec<String>> {
        match mail {
            Mail::Commands(commands) => Some(commands.into_iter().map(|c| c.command_id).collect()),
            Mail::ReadRows => None,
        }
    }

    #[test]
    fn delivered_commands_are_taken_once_in_order() {
        let presence = Presence::default();
        let session = presence.register("web-1");
        presence.deliver("web-1", command("a"));
        presence.deliver("web-1", command("b"));
        presence.deliver("web-2", command("c"));
        assert_eq!(
            ids(session.mailbox.take()),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(ids(session.mailbox.take()), Some(vec![]));
    }

    #[test]
    fn a_notice_means_reading_the_rows_instead() {
        let presence = Presence::default();
        let session = presence.register("web-1");
        presence.deliver("web-1", command("a"));
        presence.notify("web-1");
        assert!(ids(session.mailbox.take()).is_none());
        assert_eq!(ids(session.mailbox.take()), Some(vec![]));
    }

    #[test]
    fn a_withdrawn_command_is_not_sent() {
        let presence = Presence::default();
        let session = presence.register("web-1");
        presence.deliver("web-1", command("a"));
        presence.deliver("web-1", command("b"));
        presence.withdraw("web-1", "a");
        assert_eq!(ids(session.mailbox.take()), Some(vec!["b".into()]));
    }

    #[test]
    fn a_newer_session_gets_the_mail() {
        let presence = Presence::default();
        let old = presence.register("web-1");
        let new = presence.register("web-1");
        assert!(!old.is_current() && new.is_current());
        presence.deliver("web-1", command("a"));
        assert_eq!(ids(old.mailbox.take()), Some(vec![]));
        assert_eq!(ids(new.mailbox.take()), Some(vec!["a".into()]));
        drop(old);
        assert!(presence.is_connected("web-1"));
    }
}
