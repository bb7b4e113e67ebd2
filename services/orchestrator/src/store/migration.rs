//! Numbered migrations, applied at start-up on SQLite and PostgreSQL alike. A migration, once
//! released, never changes: later schema changes are new migrations appended to the list.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, binary, boolean, boolean_null, integer, string, string_null,
    text, text_null,
};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Initial), Box::new(M0002DriveState)]
    }

    /// Its own table name, so ferry's services can share one PostgreSQL database.
    fn migration_table_name() -> DynIden {
        "orchestrator_migrations".into_iden()
    }
}

struct M0001Initial;

impl MigrationName for M0001Initial {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &str,
    columns: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table.to_owned());
    for column in columns {
        index.col(ToString::to_string(column));
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Times are microseconds since the epoch: sortable and comparable alike on both back
        // ends. Structured CodeDeploy values (revision locations, configurations, diagnostics)
        // are JSON text with CodeDeploy's member names.
        manager
            .create_table(
                Table::create()
                    .table("deployments")
                    .col(string("id").primary_key())
                    .col(string("application_name"))
                    .col(string("deployment_group_name"))
                    .col(string("deployment_group_id"))
                    // The group's id while the deployment is not terminal, NULL after: the unique
                    // index below allows one active deployment per group, whoever races.
                    .col(string_null("active_group_id"))
                    .col(string("deployment_config_name"))
                    .col(text("health_rule"))
                    .col(text("revision"))
                    .col(string_null("revision_sha256"))
                    .col(big_integer_null("revision_size"))
                    .col(string_null("bundle_type"))
                    .col(string_null("app_spec_file_name"))
                    .col(text_null("previous_revision"))
                    .col(string("status"))
                    .col(string_null("error_code"))
                    .col(text_null("error_message"))
                    .col(string("creator"))
                    .col(text("description"))
                    .col(boolean("ignore_application_stop_failures"))
                    .col(boolean("update_outdated_instances_only"))
                    .col(string("file_exists_behavior"))
                    .col(text_null("auto_rollback_configuration"))
                    .col(text_null("override_alarm_configuration"))
                    .col(string_null("rollback_deployment_id"))
                    .col(string_null("rollback_triggering_deployment_id"))
                    .col(text_null("rollback_message"))
                    .col(text("status_messages"))
                    .col(big_integer("create_time"))
                    .col(big_integer_null("start_time"))
                    .col(big_integer_null("complete_time"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "deployments_active_group",
            "deployments",
            &["active_group_id"],
            true,
        )
        .await?;
        index(
            manager,
            "deployments_group_time",
            "deployments",
            &[
                "application_name",
                "deployment_group_name",
                "create_time",
                "id",
            ],
            false,
        )
        .await?;
        index(
            manager,
            "deployments_status",
            "deployments",
            &["status"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("deployment_targets")
                    .col(string("deployment_id"))
                    .col(string("target_id"))
                    .col(string("target_arn"))
                    .col(string("status"))
                    // Start order within the deployment.
                    .col(integer("position"))
                    .col(string_null("instance_label"))
                    .col(big_integer("last_updated_at"))
                    .primary_key(Index::create().col("deployment_id").col("target_id"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "deployment_targets_status",
            "deployment_targets",
            &["deployment_id", "status"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("lifecycle_events")
                    .col(string("deployment_id"))
                    .col(string("target_id"))
                    // The event's place in CodeDeploy's order for this target.
                    .col(integer("ordinal"))
                    .col(string("name"))
                    .col(string("status"))
                    .col(big_integer_null("start_time"))
                    .col(big_integer_null("end_time"))
                    .col(text_null("diagnostics"))
                    .primary_key(
                        Index::create()
                            .col("deployment_id")
                            .col("target_id")
                            .col("ordinal"),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("agent_commands")
                    .col(string("command_id").primary_key())
                    .col(string("deployment_id"))
                    .col(string("target_id"))
                    .col(string("instance_name"))
                    .col(string("lifecycle_event"))
                    .col(integer("attempt"))
                    // pending → sent → acknowledged → finished.
                    .col(string("state"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("deadline"))
                    .col(big_integer_null("sent_at"))
                    .col(big_integer_null("acknowledged_at"))
                    .col(big_integer_null("finished_at"))
                    .col(text_null("result"))
                    // The encoded ferry.agent.v1.Command, pushed as stored.
                    .col(binary("command"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "agent_commands_instance_state",
            "agent_commands",
            &["instance_name", "state"],
            false,
        )
        .await?;
        index(
            manager,
            "agent_commands_deployment",
            "agent_commands",
            &["deployment_id", "target_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("deployment_events")
                    .col(
                        ColumnDef::new("sequence")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string("deployment_id"))
                    .col(big_integer("time"))
                    .col(string("kind"))
                    // The encoded ferry.deploy.v1 event message.
                    .col(binary("payload"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "deployment_events_deployment",
            "deployment_events",
            &["deployment_id", "sequence"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("trigger_deliveries")
                    .col(string("id").primary_key())
                    .col(string("deployment_id"))
                    .col(string("trigger_name"))
                    .col(string("event_type"))
                    .col(text("target_url"))
                    .col(text("payload"))
                    .col(integer("attempts"))
                    .col(string("state"))
                    .col(big_integer("next_attempt_at"))
                    .col(text_null("last_error"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "trigger_deliveries_due",
            "trigger_deliveries",
            &["state", "next_attempt_at"],
            false,
        )
        .await
    }
}

/// What driving a deployment needs beyond M0001: the per-event time limits and the triggers
/// copied from the group at creation, the deployment's trace context, an index for the
/// results a deployment's driver has yet to apply, and per-deployment event positions.
struct M0002DriveState;

impl MigrationName for M0002DriveState {
    fn name(&self) -> &str {
        "m0002_drive_state"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for M0002DriveState {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column per statement.
        for column in [
            // JSON object: lifecycle event name → the sum of its hooks' timeouts, in seconds.
            text_null("event_timeouts"),
            // JSON array of the group's TriggerConfig, CodeDeploy member names.
            text_null("trigger_configurations"),
            // W3C traceparent of the deployment's trace.
            string_null("trace_context"),
            // Whether the group routes traffic (the traffic lifecycle events run).
            boolean_null("traffic_control"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("deployments")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        index(
            manager,
            "agent_commands_deployment_state",
            "agent_commands",
            &["deployment_id", "state"],
            false,
        )
        .await?;
        // An event's position in its deployment's log. The counter row is locked by the
        // transaction that appends, so positions commit in the order they are given: a
        // watcher that has read position n never later finds an n-1 it missed, on PostgreSQL
        // as on SQLite (the global sequence alone does not promise that under concurrent
        // writers).
        manager
            .create_table(
                Table::create()
                    .table("event_counters")
                    .col(string("deployment_id").primary_key())
                    .col(big_integer("last"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("deployment_events")
                    .add_column(big_integer_null("position"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "deployment_events_position",
            "deployment_events",
            &["deployment_id", "position"],
            true,
        )
        .await
    }
}
