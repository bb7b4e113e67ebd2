use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revisions")]
pub struct Model {
    /// A UUID, the tie-breaker of keyset pagination.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub application_name: String,
    /// Hex sha256 of the location's canonical identity (see `location::Location::key`).
    pub revision_key: String,
    /// CodeDeploy's RevisionLocationType value.
    pub revision_type: String,
    /// For the s3_bucket / s3_key_prefix filters of ListApplicationRevisions.
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    /// The location as JSON (CodeDeploy's RevisionLocation).
    pub location: String,
    pub description: String,
    pub register_time: i64,
    pub first_used_time: Option<i64>,
    pub last_used_time: Option<i64>,
    /// JSON list of the deployment groups whose target revision this is, sorted.
    pub deployment_groups: String,
    /// Hex sha256 of the bundle, once resolved.
    pub digest: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
