use sea_orm::entity::prelude::*;

/// One lifecycle event of one target, in CodeDeploy's order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lifecycle_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub deployment_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_id: String,
    /// The event's place in the target's order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ordinal: i32,
    pub name: String,
    /// CodeDeploy's LifecycleEventStatus value.
    pub status: String,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    /// JSON: CodeDeploy's Diagnostics (errorCode, scriptName, message, logTail).
    pub diagnostics: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
