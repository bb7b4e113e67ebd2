//! Writing a new deployment: its row, one row per target and per lifecycle event, and the
//! first events of its log, in the caller's transaction (CreateDeployment and rollbacks).

use ferry_proto::common::v1::{DeploymentStatus, LifecycleEventStatus};
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{DeploymentStatusChanged, TargetStatus, TargetStatusChanged};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, IntoActiveModel};

use crate::store::entities::{deployment, deployment_target, lifecycle_event};
use crate::store::now_micros;

use super::outbox::Outbox;
use super::stored::name;

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
const CHUNK: usize = 500;

/// One instance a deployment goes to.
#[derive(Clone, Debug)]
pub struct NewTarget {
    pub id: String,
    pub arn: String,
}

/// A fresh deployment id: "d-" and nine upper-case letters or digits, as CodeDeploy's.
pub fn new_deployment_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let random = uuid::Uuid::new_v4();
    let suffix: String = random.as_bytes()[..9]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("d-{suffix}")
}

/// Inserts `row` (status Created), its targets (Pending, in the order given) with their
/// lifecycle events (Pending), and logs the creation. A second active deployment of the group
/// fails here with a unique violation on `active_group_id`.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    out: &mut Outbox,
    row: deployment::Model,
    targets: &[NewTarget],
    events: &[&str],
) -> Result<(), DbErr> {
    let id = row.id.clone();
    deployment::Entity::insert(row.into_active_model())
        .exec(db)
        .await?;
    let now = now_micros();
    let target_rows: Vec<_> = targets
        .iter()
        .enumerate()
        .map(|(position, target)| {
            deployment_target::Model {
                deployment_id: id.clone(),
                target_id: target.id.clone(),
                target_arn: target.arn.clone(),
                status: name(TargetStatus::Pending),
                position: i32::try_from(position).unwrap_or(i32::MAX),
                instance_label: None,
                last_updated_at: now,
            }
            .into_active_model()
        })
        .collect();
    for chunk in target_rows.chunks(CHUNK) {
        deployment_target::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    let event_rows: Vec<_> = targets
        .iter()
        .flat_map(|target| {
            events.iter().enumerate().map(|(ordinal, event)| {
                lifecycle_event::Model {
                    deployment_id: id.clone(),
                    target_id: target.id.clone(),
                    ordinal: i32::try_from(ordinal).unwrap_or(i32::MAX),
                    name: (*event).to_owned(),
                    status: name(LifecycleEventStatus::Pending),
                    start_time: None,
                    end_time: None,
                    diagnostics: None,
                }
                .into_active_model()
            })
        })
        .collect();
    for chunk in event_rows.chunks(CHUNK) {
        lifecycle_event::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    out.log(
        &id,
        Event::DeploymentStatusChanged(DeploymentStatusChanged {
            status: DeploymentStatus::Created as i32,
            overview: Some(ferry_proto::deploy::v1::DeploymentOverview {
                pending: i64::try_from(targets.len()).unwrap_or(i64::MAX),
                ..Default::default()
            }),
            ..Default::default()
        }),
    );
    for target in targets {
        out.log(
            &id,
            Event::TargetStatusChanged(TargetStatusChanged {
                target_id: target.id.clone(),
                status: TargetStatus::Pending as i32,
            }),
        );
    }
    Ok(())
}
