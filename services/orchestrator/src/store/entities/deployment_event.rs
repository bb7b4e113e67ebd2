use sea_orm::entity::prelude::*;

/// One event of a deployment's log, read by WatchDeployment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployment_events")]
pub struct Model {
    /// Global and increasing: the row's id.
    #[sea_orm(primary_key)]
    pub sequence: i64,
    pub deployment_id: String,
    pub time: i64,
    /// The event's kind (`deployment_status_changed`, `hook_output`, …), so output can be
    /// left out without decoding.
    pub kind: String,
    /// The encoded ferry.deploy.v1.WatchDeploymentResponse, without its sequence.
    pub payload: Vec<u8>,
    /// The event's place in its deployment's log (1, 2, …), committed in order: the
    /// `sequence` WatchDeployment sends and resumes from.
    pub position: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
