use sea_orm::entity::prelude::*;

/// One webhook notification of a deployment trigger: what is sent, where, and how its
/// delivery went.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trigger_deliveries")]
pub struct Model {
    /// Sorts in enqueue order; sent as `x-ferry-delivery` so a receiver can drop a repeat.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub deployment_id: String,
    pub trigger_name: String,
    /// CodeDeploy's TriggerEventType value (`DeploymentSuccess`, `InstanceFailure`, …).
    pub event_type: String,
    pub target_url: String,
    /// The JSON body, as posted.
    pub payload: String,
    /// POSTs made so far.
    pub attempts: i32,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// When a pending delivery may next be tried.
    pub next_attempt_at: i64,
    /// Why the last failed attempt failed (kept when a later attempt delivers).
    pub last_error: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
