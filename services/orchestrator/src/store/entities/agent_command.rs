use sea_orm::entity::prelude::*;

/// A command to an agent: a stored row first, a message second.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_commands")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub command_id: String,
    pub deployment_id: String,
    pub target_id: String,
    pub instance_name: String,
    pub lifecycle_event: String,
    pub attempt: i32,
    /// `pending`, `sent`, `acknowledged` or `finished`.
    pub state: String,
    pub created_at: i64,
    pub deadline: Option<i64>,
    pub sent_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// JSON of the agent's CommandResult once finished.
    pub result: Option<String>,
    /// The encoded ferry.agent.v1.Command.
    pub command: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
