//! The registry's database: connection (embedded SQLite by default, PostgreSQL by URL),
//! migrations at start-up, and the translation of database errors the service must tell apart.

pub mod entities;
mod migration;

use std::path::Path;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use ferry_runtime::error::ApiError;

pub use migration::Migrator;

/// The SQLite file used when no database URL is configured.
pub const SQLITE_FILE: &str = "registry.sqlite";

/// Where the registry keeps its rows: `database_url` when set, else a SQLite file under
/// `data_dir` (created, with the directory, on first start).
pub fn database_url(database_url: Option<&str>, data_dir: &Path) -> std::io::Result<String> {
    match database_url {
        Some(url) => Ok(url.to_owned()),
        None => {
            std::fs::create_dir_all(data_dir)?;
            Ok(format!(
                "sqlite://{}?mode=rwc",
                data_dir.join(SQLITE_FILE).display()
            ))
        }
    }
}

/// Connects and applies every pending migration.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        // SQLite allows one writer: a small pool avoids lock churn, WAL lets readers proceed
        // while it writes, and the busy timeout turns a brief lock into a wait, not an error.
        options.max_connections(4).min_connections(1);
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    } else {
        options.max_connections(32);
    }
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Answers when the database does: the readiness check behind grpc.health.v1.
pub async fn ping(db: &DatabaseConnection) -> Result<(), String> {
    db.ping().await.map_err(|e| e.to_string())
}

/// True when the error is a unique-constraint violation: two writers raced for one name.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A database failure the caller cannot fix: logged, and answered as `Internal`.
pub fn internal(err: DbErr) -> ApiError {
    ApiError::internal(err)
}

/// Begins a transaction that will write. On SQLite it takes the write lock at BEGIN
/// (IMMEDIATE), so concurrent writers queue on the busy timeout instead of one of them failing
/// when it upgrades a read snapshot; PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, ApiError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    db.begin_with_options(options).await.map_err(internal)
}
