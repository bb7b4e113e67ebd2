//! The orchestrator's database: its rows and migrations (the tables are described in the
//! README's design section); connection, pools and error translation come from ferry-store.

pub mod entities;
mod migration;

use std::path::Path;

pub use ferry_store::{Pools, begin_write, internal, is_unique_violation, ping};
pub use migration::Migrator;

/// The SQLite file used when no database URL is configured.
pub const SQLITE_FILE: &str = "orchestrator.sqlite";

/// `database_url` when set, else a SQLite file under `data_dir` (created on first start).
pub fn database_url(database_url: Option<&str>, data_dir: &Path) -> std::io::Result<String> {
    ferry_store::database_url(database_url, data_dir, SQLITE_FILE)
}

/// Connects, with the orchestrator's migrations applied.
pub async fn connect(url: &str) -> Result<Pools, sea_orm::DbErr> {
    ferry_store::connect::<Migrator>(url).await
}

/// Microseconds since the epoch, as every time column stores them.
pub fn micros(time: std::time::SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// [`micros`] of now.
pub fn now_micros() -> i64 {
    micros(std::time::SystemTime::now())
}
