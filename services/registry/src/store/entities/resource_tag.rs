use sea_orm::entity::prelude::*;

/// One tag of an application, deployment group or deployment configuration. Keyed by the
/// resource's id rather than its ARN, so tags follow a rename.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resource_tags")]
pub struct Model {
    /// "application", "deploymentgroup" or "deploymentconfig".
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
