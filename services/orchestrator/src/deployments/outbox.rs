//! What one of the engine's transactions leaves to do once it has committed: wake watchers,
//! wake the agents that have new commands, wake the trigger deliveries, start the tasks of new
//! deployments (rollbacks). Nothing here runs before the state it announces is stored.

use std::collections::BTreeSet;

use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::registry::v1::{TriggerConfig, TriggerEventType};
use sea_orm::{ConnectionTrait, DbErr};

use crate::events::EventLog;
use crate::triggers::{self, Notice};

use super::context::Context;

#[derive(Default)]
pub struct Outbox {
    logged: bool,
    agents: BTreeSet<String>,
    notifications: usize,
    deployments: Vec<String>,
}

impl Outbox {
    /// Appends `event` to the deployment's log in the transaction.
    pub async fn log<C: ConnectionTrait>(
        &mut self,
        db: &C,
        deployment_id: &str,
        event: Event,
    ) -> Result<(), DbErr> {
        EventLog::append_in(db, deployment_id, event).await?;
        self.logged = true;
        Ok(())
    }

    /// The agent of `instance` has a new command or cancellation.
    pub fn wake_agent(&mut self, instance: &str) {
        self.agents.insert(instance.to_owned());
    }

    /// Queues the notifications of `event` for the triggers that list it.
    pub async fn notify<C: ConnectionTrait>(
        &mut self,
        db: &C,
        ctx: &Context,
        triggers: &[TriggerConfig],
        event: TriggerEventType,
        notice: &Notice,
    ) -> Result<(), DbErr> {
        if triggers.is_empty() {
            return Ok(());
        }
        self.notifications += triggers::enqueue(db, &ctx.identity, triggers, event, notice).await?;
        Ok(())
    }

    /// Starts the task of a deployment created in the transaction.
    pub fn start(&mut self, deployment_id: &str) {
        self.deployments.push(deployment_id.to_owned());
    }

    /// Once the transaction has committed.
    pub fn deliver(self, ctx: &Context) {
        if self.logged {
            ctx.events.announce();
        }
        for instance in &self.agents {
            ctx.sessions.notify(instance);
        }
        if self.notifications > 0 {
            ctx.deliveries.wake();
        }
        for deployment in self.deployments {
            super::driver::spawn(ctx.clone(), deployment);
        }
    }
}
