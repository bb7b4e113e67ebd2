//! Numbered migrations, applied at start-up on SQLite and PostgreSQL alike. A migration, once
//! released, never changes: later schema changes are new migrations appended to the list.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, string, string_null, text, text_null,
};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Initial)]
    }

    /// Its own table name, so ferry's services can share one PostgreSQL database.
    fn migration_table_name() -> DynIden {
        "revisions_migrations".into_iden()
    }
}

struct M0001Initial;

impl MigrationName for M0001Initial {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("revisions")
                    .col(string("id").primary_key())
                    .col(string("application_name"))
                    .col(string("revision_key"))
                    .col(string("revision_type"))
                    .col(string_null("s3_bucket"))
                    .col(text_null("s3_key"))
                    .col(text("location"))
                    .col(text("description"))
                    // Microseconds since the epoch: sortable and comparable alike on both back
                    // ends, which keyset pagination needs.
                    .col(big_integer("register_time"))
                    .col(big_integer_null("first_used_time"))
                    .col(big_integer_null("last_used_time"))
                    .col(text("deployment_groups"))
                    .col(string_null("digest"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("revisions_application_key")
                    .table("revisions")
                    .col("application_name")
                    .col("revision_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("revisions_register_time", "register_time"),
            ("revisions_first_used_time", "first_used_time"),
            ("revisions_last_used_time", "last_used_time"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("revisions")
                        .col("application_name")
                        .col(column)
                        .col("id")
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("blobs")
                    .col(string("digest").primary_key())
                    .col(big_integer("size"))
                    .col(string_null("bundle_type"))
                    .col(text_null("app_spec_summary"))
                    .col(big_integer("created"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("resolutions")
                    .col(string("revision_key").primary_key())
                    .col(string("digest"))
                    .col(big_integer("resolve_time"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["resolutions", "blobs", "revisions"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
