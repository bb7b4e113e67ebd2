use sea_orm::entity::prelude::*;

/// One target of a deployment: for the Server platform, one on-premises instance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployment_targets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub deployment_id: String,
    /// The instance name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_id: String,
    pub target_arn: String,
    /// CodeDeploy's TargetStatus value.
    pub status: String,
    /// Start order within the deployment.
    pub position: i32,
    pub instance_label: Option<String>,
    pub last_updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
