use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployment_configs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    /// CodeDeploy's value: Server, Lambda or ECS.
    pub compute_platform: String,
    /// The predefined `CodeDeployDefault.*` configurations: neither created nor deleted by users.
    pub predefined: bool,
    /// JSON: minimum healthy hosts, traffic routing and zonal configuration.
    pub spec: String,
    pub create_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
