use sea_orm::entity::prelude::*;

/// One tag of an on-premises instance; a key appears at most once per instance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instance_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_name: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
