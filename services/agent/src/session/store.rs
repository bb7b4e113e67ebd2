//! Command records on disk: the idempotency of commands, and results that survive a lost
//! stream or an agent restart.
//!
//! Each command the agent accepts is recorded (`running`) before it is acknowledged, and its
//! result recorded (`finished`) before it is sent. A result stays unacknowledged until the
//! server's ResultAck; until then every Hello carries it. A record still `running` when the
//! agent starts belongs to a process that died: it becomes a failed result, with the reason.
//! Acknowledged records are kept a while so a repeated command is answered, not re-run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::outcome::Failure;

/// Acknowledged records older than this are forgotten at start-up.
const KEEP_ACKNOWLEDGED: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    /// `None` when the event succeeded.
    pub failure: Option<Failure>,
    pub log_tail: String,
    pub start_time: SystemTime,
    pub end_time: SystemTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    command_id: String,
    received_at: SystemTime,
    /// `None` while running.
    result: Option<StoredResult>,
    acknowledged: bool,
}

/// What the store knows of a command id.
#[derive(Clone, Debug, PartialEq)]
pub enum Known {
    New,
    Running,
    Finished(StoredResult),
}

pub struct CommandStore {
    dir: PathBuf,
    records: Mutex<HashMap<String, Record>>,
}

impl CommandStore {
    /// Loads every record under `dir`; records left `running` by a previous process become
    /// failed results.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let mut records = HashMap::new();
        let now = SystemTime::now();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let record: Record = match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
            {
                Ok(record) => record,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "unreadable command record; removing it");
                    std::fs::remove_file(&path)?;
                    continue;
                }
            };
            let old = now
                .duration_since(record.received_at)
                .is_ok_and(|age| age > KEEP_ACKNOWLEDGED);
            if record.acknowledged && old {
                std::fs::remove_file(&path)?;
                continue;
            }
            records.insert(record.command_id.clone(), record);
        }
        let store = Self {
            dir,
            records: Mutex::new(records),
        };
        store.fail_interrupted()?;
        Ok(store)
    }

    fn fail_interrupted(&self) -> std::io::Result<()> {
        let interrupted: Vec<Record> = self
            .lock()
            .values()
            .filter(|r| r.result.is_none())
            .cloned()
            .collect();
        for mut record in interrupted {
            tracing::warn!(command_id = %record.command_id, "command was running when the agent stopped; reporting it failed");
            record.result = Some(StoredResult {
                failure: Some(Failure::unknown(
                    "the agent restarted while this command was running; its scripts were stopped",
                )),
                log_tail: String::new(),
                start_time: record.received_at,
                end_time: SystemTime::now(),
            });
            self.save(record)?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock cannot leave a record half-updated in memory: every
        // update is a single insert.
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save(&self, record: Record) -> std::io::Result<()> {
        atomic::write_json(
            &self.dir.join(format!("{}.json", record.command_id)),
            &record,
        )?;
        self.lock().insert(record.command_id.clone(), record);
        Ok(())
    }

    pub fn known(&self, command_id: &str) -> Known {
        match self.lock().get(command_id) {
            None => Known::New,
            Some(Record { result: None, .. }) => Known::Running,
            Some(Record {
                result: Some(result),
                ..
            }) => Known::Finished(result.clone()),
        }
    }

    /// Records an accepted command, before it is acknowledged or started.
    pub fn begin(&self, command_id: &str) -> std::io::Result<()> {
        self.save(Record {
            command_id: command_id.to_owned(),
            received_at: SystemTime::now(),
            result: None,
            acknowledged: false,
        })
    }

    /// Records a command's result, before it is sent.
    pub fn finish(&self, command_id: &str, result: StoredResult) -> std::io::Result<()> {
        let received_at = self
            .lock()
            .get(command_id)
            .map_or(result.start_time, |r| r.received_at);
        self.save(Record {
            command_id: command_id.to_owned(),
            received_at,
            result: Some(result),
            acknowledged: false,
        })
    }

    /// The server stored the result: stop sending it.
    pub fn acknowledge(&self, command_id: &str) -> std::io::Result<()> {
        let record = self.lock().get(command_id).cloned();
        match record {
            Some(mut record) if record.result.is_some() && !record.acknowledged => {
                record.acknowledged = true;
                self.save(record)
            }
            _ => Ok(()),
        }
    }

    /// Results the server has not acknowledged, oldest first.
    pub fn unacknowledged(&self) -> Vec<(String, StoredResult)> {
        let mut out: Vec<(SystemTime, String, StoredResult)> = self
            .lock()
            .values()
            .filter(|r| !r.acknowledged)
            .filter_map(|r| Some((r.received_at, r.command_id.clone(), r.result.clone()?)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        out.into_iter()
            .map(|(_, id, result)| (id, result))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_result() -> StoredResult {
        StoredResult {
            failure: None,
            log_tail: "done\n".into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
        }
    }

    #[test]
    fn results_survive_a_restart_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = CommandStore::open(dir.path()).unwrap();
        store.begin("c-1").unwrap();
        assert_eq!(store.known("c-1"), Known::Running);
        store.finish("c-1", ok_result()).unwrap();
        drop(store);

        let store = CommandStore::open(dir.path()).unwrap();
        assert!(matches!(store.known("c-1"), Known::Finished(_)));
        assert_eq!(store.unacknowledged().len(), 1);
        store.acknowledge("c-1").unwrap();
        drop(store);

        let store = CommandStore::open(dir.path()).unwrap();
        assert!(store.unacknowledged().is_empty());
        assert!(matches!(store.known("c-1"), Known::Finished(_)));
        assert_eq!(store.known("c-2"), Known::New);
    }

    #[test]
    fn a_command_running_at_restart_is_reported_failed() {
        let dir = tempfile::tempdir().unwrap();
        CommandStore::open(dir.path())
            .unwrap()
            .begin("c-9")
            .unwrap();
        let store = CommandStore::open(dir.path()).unwrap();
        let results = store.unacknowledged();
        assert_eq!(results.len(), 1);
        let failure = results[0].1.failure.clone().unwrap();
        assert!(failure.message.contains("agent restarted"), "{failure}");
    }
}
