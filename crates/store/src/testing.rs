//! For test suites that run every test on SQLite and on PostgreSQL: a fresh PostgreSQL
//! database per test, and the sweep of databases that finished test processes left behind.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

/// The PostgreSQL server test databases are created on: the machine's local one unless
/// `FERRY_TEST_POSTGRES_URL` says otherwise. A PostgreSQL test fails, never skips, when it is
/// down.
pub fn postgres_admin_url() -> String {
    std::env::var("FERRY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty PostgreSQL database with a unique name and returns its URL. The name
/// carries this process's id, so databases left by test processes that have exited are
/// dropped here (tests run in parallel processes, so a live process's databases are kept).
pub async fn fresh_postgres() -> String {
    let admin_url = postgres_admin_url();
    let admin = Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("postgres at {admin_url}: {e}"));
    sweep_stale_databases(&admin).await;
    let name = format!(
        "ferry_test_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base.to_owned())
        .unwrap_or(admin_url);
    format!("{base}/{name}")
}

async fn sweep_stale_databases(admin: &DatabaseConnection) {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let rows = admin
                .query_all_raw(Statement::from_string(
                    admin.get_database_backend(),
                    "SELECT datname FROM pg_database WHERE datname LIKE 'ferry\\_test\\_%'",
                ))
                .await
                .unwrap_or_default();
            for row in rows {
                let Ok(name) = row.try_get::<String>("", "datname") else {
                    continue;
                };
                let pid = name.split('_').nth(2).unwrap_or_default();
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    // Another process may be sweeping the same database: either drop wins.
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            }
        })
        .await;
}
