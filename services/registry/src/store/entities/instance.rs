use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Unique when present.
    pub iam_session_arn: Option<String>,
    /// Unique when present.
    pub iam_user_arn: Option<String>,
    /// sha256 of the agent credential (hex); the credential itself is never stored.
    pub credential_hash: String,
    pub register_time: DateTimeUtc,
    /// Set when the instance is deregistered; the row stays so it can still be listed.
    pub deregister_time: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
