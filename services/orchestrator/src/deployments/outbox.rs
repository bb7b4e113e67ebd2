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
    /// Log events not yet written, in order, with their deployment.
    log: Vec<(String, Event)>,
    logged: bool,
    agents: BTreeSet<String>,
    notifications: usize,
    deployments: Vec<String>,
}

impl Outbox {
    /// Appends `event` to the deployment's log; written by [`flush`](Self::flush).
    pub fn log(&mut self, deployment_id: &str, event: Event) {
        self.log.push((deployment_id.to_owned(), event));
    }

    /// Writes the logged events in the transaction, each deployment's in order, with as few
    /// statements as possible. Call it last before committing.
    pub async fn flush<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), DbErr> {
        let mut by_deployment: Vec<(String, Vec<Event>)> = Vec::new();
        for (deployment_id, event) in self.log.drain(..) {
            match by_deployment
                .iter_mut()
                .find(|(id, _)| *id == deployment_id)
            {
                Some((_, events)) => events.push(event),
                None => by_deployment.push((deployment_id, vec![event])),
            }
        }
        for (deployment_id, events) in by_deployment {
            EventLog::append_many_in(db, &deployment_id, events).await?;
            self.logged = true;
        }
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
        debug_assert!(self.log.is_empty(), "log events were not flushed");
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
