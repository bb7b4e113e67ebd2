use sea_orm::entity::prelude::*;

/// One deployment: CodeDeploy's DeploymentInfo, plus what the orchestrator needs to drive it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployments")]
pub struct Model {
    /// `d-` and nine upper-case letters or digits.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub application_name: String,
    pub deployment_group_name: String,
    pub deployment_group_id: String,
    /// The group's id while the deployment is not terminal; unique, so one active deployment
    /// per group.
    pub active_group_id: Option<String>,
    pub deployment_config_name: String,
    /// JSON: the configuration's minimum healthy hosts when the deployment was created.
    pub health_rule: String,
    /// JSON: CodeDeploy's RevisionLocation.
    pub revision: String,
    pub revision_sha256: Option<String>,
    pub revision_size: Option<i64>,
    pub bundle_type: Option<String>,
    pub app_spec_file_name: Option<String>,
    pub previous_revision: Option<String>,
    /// CodeDeploy's DeploymentStatus value.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// CodeDeploy's DeploymentCreator value.
    pub creator: String,
    pub description: String,
    pub ignore_application_stop_failures: bool,
    pub update_outdated_instances_only: bool,
    pub file_exists_behavior: String,
    pub auto_rollback_configuration: Option<String>,
    pub override_alarm_configuration: Option<String>,
    pub rollback_deployment_id: Option<String>,
    pub rollback_triggering_deployment_id: Option<String>,
    pub rollback_message: Option<String>,
    /// JSON array of strings, oldest first.
    pub status_messages: String,
    pub create_time: i64,
    pub start_time: Option<i64>,
    pub complete_time: Option<i64>,
    /// JSON object: lifecycle event name → the sum of its hooks' timeouts in seconds.
    pub event_timeouts: Option<String>,
    /// JSON array: the group's trigger configurations when the deployment was created.
    pub trigger_configurations: Option<String>,
    /// W3C traceparent of the deployment's trace.
    pub trace_context: Option<String>,
    /// Whether the traffic lifecycle events run (a group WITH_TRAFFIC_CONTROL).
    pub traffic_control: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
