//! What one of the engine's transactions leaves to do once it has committed: wake watchers,
//! wake the agents that have new commands, wake the trigger deliveries, start the tasks of new
//! deployments (rollbacks). Nothing here runs before the state it announces is stored.

use std::collections::BTreeSet;

use ferry_proto::agent::v1::Command;
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
    /// Instances whose rows changed otherwise (cancellations): their sessions read them.
    agents: BTreeSet<String>,
    /// New commands, handed to their instances' sessions.
    commands: Vec<(String, Command)>,
    /// Commands the deployment gave up on before they were sent: taken back from sessions.
    withdrawn: Vec<(String, String)>,
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

    /// The agent of `instance` has a cancellation: its session reads its rows.
    pub fn wake_agent(&mut self, instance: &str) {
        self.agents.insert(instance.to_owned());
    }

    /// `command`, stored in this transaction, goes to the session of `instance`.
    pub fn send_command(&mut self, instance: &str, command: Command) {
        self.commands.push((instance.to_owned(), command));
    }

    /// The command `command_id` of `instance` will not be sent: dropped if it was created in
    /// this transaction, else taken back from the session if it has not gone out yet.
    pub fn withdraw_command(&mut self, instance: &str, command_id: &str) {
        let before = self.commands.len();
        self.commands.retain(|(_, c)| c.command_id != command_id);
        if self.commands.len() == before {
            self.withdrawn
                .push((instance.to_owned(), command_id.to_owned()));
        }
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
        for (instance, command_id) in &self.withdrawn {
            ctx.sessions.presence.withdraw(instance, command_id);
        }
        for (instance, command) in self.commands {
            ctx.sessions.presence.deliver(&instance, command);
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
