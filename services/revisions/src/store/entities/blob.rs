use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blobs")]
pub struct Model {
    /// Hex sha256 of the bytes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: String,
    pub size: i64,
    /// CodeDeploy's BundleType value, once known.
    pub bundle_type: Option<String>,
    /// JSON of what the bundle's AppSpec says and every problem found in it (`inspect::Inspection`),
    /// once inspected as `bundle_type`.
    pub app_spec_summary: Option<String>,
    pub created: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
