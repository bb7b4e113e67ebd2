use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployment_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning application's id; (application_id, name) is unique.
    pub application_id: String,
    pub name: String,
    /// Kept as a column so "is this configuration in use" is one indexed query.
    pub deployment_config_name: String,
    pub compute_platform: String,
    /// JSON: every other CodeDeploy field of the group (tag filters and sets, triggers, alarms,
    /// auto-rollback, deployment style, blue/green, load balancers, ECS services, …).
    pub spec: String,
    /// JSON of the target revision and of the last successful / attempted deployments; written
    /// by the orchestrator.
    pub target_revision: Option<String>,
    pub last_successful_deployment: Option<String>,
    pub last_attempted_deployment: Option<String>,
    pub create_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
