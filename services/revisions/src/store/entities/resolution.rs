use sea_orm::entity::prelude::*;

/// The blob a location that cannot change (a commit, a versioned or ETag-pinned S3 object, an
/// upload, inline content) resolved to, so it is fetched once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resolutions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub revision_key: String,
    pub digest: String,
    pub resolve_time: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
