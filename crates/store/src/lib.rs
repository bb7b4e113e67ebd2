//! What every ferry service's database layer shares: the connection (embedded SQLite by
//! default, PostgreSQL by URL) with its read and write pools, migrations at start-up, write
//! transactions, and the translation of database errors a service must tell apart. Each
//! service keeps its own entities and migrations (with its own migration table).

#[cfg(feature = "testing")]
pub mod testing;

use std::path::Path;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use ferry_runtime::error::ApiError;

/// Where a service keeps its rows: `database_url` when set, else the SQLite file `file` under
/// `data_dir` (created, with the directory, on first start).
pub fn database_url(
    database_url: Option<&str>,
    data_dir: &Path,
    file: &str,
) -> std::io::Result<String> {
    match database_url {
        Some(url) => Ok(url.to_owned()),
        None => {
            std::fs::create_dir_all(data_dir)?;
            Ok(format!(
                "sqlite://{}?mode=rwc",
                data_dir.join(file).display()
            ))
        }
    }
}

/// A service's connections: `read` for queries, `write` for write transactions.
#[derive(Clone, Debug)]
pub struct Pools {
    pub read: DatabaseConnection,
    pub write: DatabaseConnection,
}

/// Connects and applies every pending migration.
///
/// SQLite allows one writer at a time. Writers that race for its lock wait in its busy
/// handler, which sleeps and retries, so 32 concurrent writers were slower than one. Writes
/// therefore go through a pool of exactly one connection, where they queue in order without
/// sleeping, while reads use their own pool (WAL lets them proceed during a write).
/// PostgreSQL handles concurrent writers itself: both pools are the same.
pub async fn connect<M: MigratorTrait>(url: &str) -> Result<Pools, DbErr> {
    if !url.starts_with("sqlite:") {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(32);
        let db = Database::connect(options).await?;
        M::up(&db, None).await?;
        return Ok(Pools {
            read: db.clone(),
            write: db,
        });
    }
    let sqlite = |max: u32| {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .max_connections(max)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
        options
    };
    let write = Database::connect(sqlite(1)).await?;
    M::up(&write, None).await?;
    let read = Database::connect(sqlite(4)).await?;
    Ok(Pools { read, write })
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
