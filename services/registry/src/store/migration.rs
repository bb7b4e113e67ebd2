//! Numbered migrations, applied at start-up on SQLite and PostgreSQL alike. A migration, once
//! released, never changes: later schema changes are new migrations appended to the list.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, string, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Initial)]
    }

    /// Its own table name, so ferry's services can share one PostgreSQL database.
    fn migration_table_name() -> DynIden {
        "registry_migrations".into_iden()
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
                    .table("applications")
                    .col(string("id").primary_key())
                    .col(string("name").unique_key())
                    .col(string("compute_platform"))
                    .col(timestamp_with_time_zone("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deployment_configs")
                    .col(string("id").primary_key())
                    .col(string("name").unique_key())
                    .col(string("compute_platform"))
                    .col(boolean("predefined"))
                    .col(text("spec"))
                    .col(timestamp_with_time_zone("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deployment_groups")
                    .col(string("id").primary_key())
                    .col(string("application_id"))
                    .col(string("name"))
                    .col(string("deployment_config_name"))
                    .col(string("compute_platform"))
                    .col(text("spec"))
                    .col(text_null("target_revision"))
                    .col(text_null("last_successful_deployment"))
                    .col(text_null("last_attempted_deployment"))
                    .col(timestamp_with_time_zone("create_time"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("deployment_groups", "application_id")
                            .to("applications", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("deployment_groups_application_name")
                    .table("deployment_groups")
                    .col("application_id")
                    .col("name")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("deployment_groups_config")
                    .table("deployment_groups")
                    .col("deployment_config_name")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("instances")
                    .col(string("name").primary_key())
                    .col(string("iam_session_arn").null().unique_key())
                    .col(string("iam_user_arn").null().unique_key())
                    .col(string("credential_hash"))
                    .col(timestamp_with_time_zone("register_time"))
                    .col(timestamp_with_time_zone_null("deregister_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("instance_tags")
                    .col(string("instance_name"))
                    .col(string("key"))
                    .col(string("value"))
                    .primary_key(Index::create().col("instance_name").col("key"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("instance_tags", "instance_name")
                            .to("instances", "name")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instance_tags_key_value")
                    .table("instance_tags")
                    .col("key")
                    .col("value")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("resource_tags")
                    .col(string("resource_kind"))
                    .col(string("resource_id"))
                    .col(string("key"))
                    .col(string("value"))
                    .primary_key(
                        Index::create()
                            .col("resource_kind")
                            .col("resource_id")
                            .col("key"),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "resource_tags",
            "instance_tags",
            "instances",
            "deployment_groups",
            "deployment_configs",
            "applications",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
