//! The read side of `ferry.deploy.v1.DeploymentService`: GetDeployment, BatchGetDeployments,
//! ListDeployments and the three deployment-target reads, with CodeDeploy's checks and
//! exceptions. Everything here reads the read pool; nothing writes.
//!
//! Listings are keyset-paginated with `ferry_runtime::pagination`: deployments newest first by
//! (create_time, id), targets by (position, target_id). A token carries the last key of its
//! page and is checked against a scope naming the listing and every filter, so a token from
//! another listing (or the same one with other filters) is InvalidNextTokenException.

use std::collections::{BTreeSet, HashMap};

use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::{
    BatchGetDeploymentTargetsRequest, BatchGetDeploymentTargetsResponse,
    BatchGetDeploymentsRequest, BatchGetDeploymentsResponse, DeploymentTarget,
    DeploymentTargetType, GetDeploymentRequest, GetDeploymentResponse, GetDeploymentTargetRequest,
    GetDeploymentTargetResponse, ListDeploymentTargetsRequest, ListDeploymentTargetsResponse,
    ListDeploymentsRequest, ListDeploymentsResponse, TargetLabel, TargetStatus, TimeRange,
};
use ferry_runtime::error::{ApiError, Exception};
use ferry_runtime::pagination;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tonic::Status;

use crate::events::EventLog;
use crate::store::entities::{deployment, deployment_target, lifecycle_event};
use crate::store::{Pools, internal};

use super::stored::name;
use super::view;

/// Most deployment ids one BatchGetDeployments takes, as in CodeDeploy.
pub const MAX_BATCH_DEPLOYMENTS: usize = 25;
/// Most target ids one BatchGetDeploymentTargets takes, as in CodeDeploy.
pub const MAX_BATCH_TARGETS: usize = 25;
/// Longest application or deployment group name (CodeDeploy's 1–100).
const MAX_NAME_LEN: usize = 100;

/// Whether `id` has the form of a deployment id: "d-" and nine upper-case letters or digits.
pub fn is_deployment_id(id: &str) -> bool {
    id.strip_prefix("d-").is_some_and(|rest| {
        rest.len() == 9
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
}

/// The checks every single-deployment call makes on its id: present, then well formed.
pub fn check_deployment_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::new(
            Exception::DeploymentIdRequired,
            "deployment_id is required",
        ));
    }
    if !is_deployment_id(id) {
        return Err(invalid_id(id));
    }
    Ok(())
}

fn invalid_id(id: &str) -> ApiError {
    ApiError::new(
        Exception::InvalidDeploymentId,
        format!("{id:?} is not a deployment id (\"d-\" and nine upper-case letters or digits)"),
    )
    .with_metadata("deployment_id", id)
}

fn does_not_exist(id: &str) -> ApiError {
    ApiError::new(
        Exception::DeploymentDoesNotExist,
        format!("deployment {id} does not exist"),
    )
    .with_metadata("deployment_id", id)
}

/// The deployment's row; DeploymentDoesNotExistException when there is none.
async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<deployment::Model, ApiError> {
    deployment::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(internal)?
        .ok_or_else(|| does_not_exist(id))
}

/// The deployment's status (its CodeDeploy name) after checking `id` (required, well formed,
/// existing), for the calls that only need to know the deployment is there.
pub async fn status_of<C: ConnectionTrait>(db: &C, id: &str) -> Result<String, ApiError> {
    check_deployment_id(id)?;
    let status: Option<String> = deployment::Entity::find_by_id(id)
        .select_only()
        .column(deployment::Column::Status)
        .into_tuple()
        .one(db)
        .await
        .map_err(internal)?;
    status.ok_or_else(|| does_not_exist(id))
}

/// GetDeployment. The response's `sequence` is the last event of the deployment's log that
/// the snapshot includes, so WatchDeployment from it continues where the snapshot ends.
pub async fn get_deployment(
    pools: &Pools,
    events: &EventLog,
    request: GetDeploymentRequest,
) -> Result<GetDeploymentResponse, Status> {
    let id = request.deployment_id;
    check_deployment_id(&id)?;
    // The sequence is read before the row, and the order matters. Each event is stored in the
    // transaction that makes the change it describes, so every event up to `sequence` was
    // committed before the row is read: the snapshot includes all of them, and a watcher
    // resuming after `sequence` misses nothing. (Read the other way round, a change committed
    // between the two reads would be counted in `sequence` without being in the snapshot,
    // and the watcher would never see it.) A change committed between the two reads is both
    // in the snapshot and sent to the watcher; events carry absolute states (a status, not a
    // difference), so applying one again changes nothing.
    let sequence = events.last_sequence(&id).await.map_err(internal)?;
    let row = find(&pools.read, &id).await?;
    let overview = view::overviews(&pools.read, std::slice::from_ref(&id))
        .await
        .map_err(internal)?
        .remove(&id)
        .unwrap_or_default();
    Ok(GetDeploymentResponse {
        deployment_info: Some(view::deployment_info(&row, overview)),
        sequence,
    })
}

/// BatchGetDeployments: the deployments found, in the order asked (each once); ids that do
/// not exist are left out, as CodeDeploy does.
pub async fn batch_get_deployments(
    pools: &Pools,
    request: BatchGetDeploymentsRequest,
) -> Result<BatchGetDeploymentsResponse, Status> {
    let ids = request.deployment_ids;
    if ids.is_empty() {
        return Err(ApiError::new(
            Exception::DeploymentIdRequired,
            "deployment_ids lists no deployment id",
        )
        .into());
    }
    if ids.len() > MAX_BATCH_DEPLOYMENTS {
        return Err(ApiError::new(
            Exception::BatchLimitExceeded,
            format!(
                "{} deployment ids given; ask for at most {MAX_BATCH_DEPLOYMENTS}",
                ids.len()
            ),
        )
        .into());
    }
    if let Some(bad) = ids.iter().find(|id| !is_deployment_id(id)) {
        return Err(invalid_id(bad).into());
    }
    let mut seen = BTreeSet::new();
    let ids: Vec<String> = ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect();
    let mut rows: HashMap<String, deployment::Model> = deployment::Entity::find()
        .filter(deployment::Column::Id.is_in(ids.iter().cloned()))
        .all(&pools.read)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect();
    let found: Vec<String> = ids.into_iter().filter(|id| rows.contains_key(id)).collect();
    let mut overviews = view::overviews(&pools.read, &found)
        .await
        .map_err(internal)?;
    let deployments_info = found
        .iter()
        .filter_map(|id| {
            let row = rows.remove(id)?;
            let overview = overviews.remove(id).unwrap_or_default();
            Some(view::deployment_info(&row, overview))
        })
        .collect();
    Ok(BatchGetDeploymentsResponse { deployments_info })
}

/// A Timestamp's microseconds since the epoch, rounded up (`ceil`) or down; `None` when it is
/// not a valid Timestamp.
fn micros_of(seconds: i64, nanos: i32, ceil: bool) -> Option<i64> {
    if !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    let sub = i64::from(nanos) / 1000 + i64::from(ceil && nanos % 1000 != 0);
    seconds.checked_mul(1_000_000)?.checked_add(sub)
}

/// The inclusive bounds of a create-time range in microseconds (an unset bound is open).
fn time_bounds(range: Option<&TimeRange>) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let Some(range) = range else {
        return Ok((None, None));
    };
    let invalid = |what: &str| ApiError::new(Exception::InvalidTimeRange, what.to_owned());
    let start = range
        .start
        .as_ref()
        .map(|t| {
            micros_of(t.seconds, t.nanos, true).ok_or_else(|| invalid("start is not a valid time"))
        })
        .transpose()?;
    let end = range
        .end
        .as_ref()
        .map(|t| {
            micros_of(t.seconds, t.nanos, false).ok_or_else(|| invalid("end is not a valid time"))
        })
        .transpose()?;
    let reversed = match (&range.start, &range.end) {
        (Some(s), Some(e)) => (s.seconds, s.nanos) > (e.seconds, e.nanos),
        _ => false,
    };
    if reversed {
        return Err(invalid("create_time_range ends before it starts"));
    }
    Ok((start, end))
}

/// The statuses of `include_only_statuses`, sorted and each once; an unknown or unspecified
/// value is InvalidDeploymentStatusException.
fn statuses(values: &[i32]) -> Result<Vec<DeploymentStatus>, ApiError> {
    let mut statuses = values
        .iter()
        .map(|v| match DeploymentStatus::try_from(*v) {
            Ok(DeploymentStatus::Unspecified) | Err(_) => Err(ApiError::new(
                Exception::InvalidDeploymentStatus,
                format!("include_only_statuses holds {v}, which is not a deployment status"),
            )),
            Ok(status) => Ok(status),
        })
        .collect::<Result<Vec<_>, _>>()?;
    statuses.sort_unstable();
    statuses.dedup();
    Ok(statuses)
}

/// An application or deployment group name to filter on: at most 100 characters. (Its other
/// rules are the registry's; a name it would refuse matches no deployment.)
fn check_name(value: &str, exception: Exception, what: &str) -> Result<(), ApiError> {
    if value.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::new(
            exception,
            format!("the {what} is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(())
}

/// A "<number>:<string>" page key (the number first: the string may hold colons).
fn split_key(key: &str) -> Option<(i64, String)> {
    let (number, rest) = key.split_once(':')?;
    Some((number.parse().ok()?, rest.to_owned()))
}

fn bad_token() -> ApiError {
    ApiError::new(
        Exception::InvalidNextToken,
        "the next token is not valid for this call",
    )
}

/// ListDeployments: deployment ids newest first. The deployment group is not looked up: the
/// orchestrator holds no registry client on its read path, so an application or group that
/// does not exist lists nothing instead of raising ApplicationDoesNotExistException or
/// DeploymentGroupDoesNotExistException as CodeDeploy's model allows.
pub async fn list_deployments(
    pools: &Pools,
    request: ListDeploymentsRequest,
) -> Result<ListDeploymentsResponse, Status> {
    let app = request.application_name.as_str();
    let group = request.deployment_group_name.as_str();
    match (app.is_empty(), group.is_empty()) {
        (false, true) => {
            return Err(ApiError::new(
                Exception::DeploymentGroupNameRequired,
                "deployment_group_name is required with application_name",
            )
            .into());
        }
        (true, false) => {
            return Err(ApiError::new(
                Exception::ApplicationNameRequired,
                "application_name is required with deployment_group_name",
            )
            .into());
        }
        _ => {}
    }
    check_name(app, Exception::InvalidApplicationName, "application name")?;
    check_name(
        group,
        Exception::InvalidDeploymentGroupName,
        "deployment group name",
    )?;
    let statuses = statuses(&request.include_only_statuses)?;
    let (start, end) = time_bounds(request.create_time_range.as_ref())?;
    let size = pagination::page_size(request.page_size)?;
    let status_names: Vec<String> = statuses.iter().map(|s| name(*s)).collect();
    let scope = format!(
        "deployments:{}",
        serde_json::to_string(&(app, group, &status_names, start, end, &request.external_id))
            .unwrap_or_default()
    );
    let after = pagination::decode(&scope, &request.next_token)?
        .map(|key| split_key(&key).ok_or_else(bad_token))
        .transpose()?;
    // ferry never links a deployment to an external resource: no deployment has this id.
    if !request.external_id.is_empty() {
        return Ok(ListDeploymentsResponse::default());
    }

    let mut query = deployment::Entity::find()
        .select_only()
        .column(deployment::Column::Id)
        .column(deployment::Column::CreateTime)
        .order_by_desc(deployment::Column::CreateTime)
        .order_by_desc(deployment::Column::Id)
        .limit(size as u64 + 1);
    if !app.is_empty() {
        query = query
            .filter(deployment::Column::ApplicationName.eq(app))
            .filter(deployment::Column::DeploymentGroupName.eq(group));
    }
    if !status_names.is_empty() {
        query = query.filter(deployment::Column::Status.is_in(status_names));
    }
    if let Some(start) = start {
        query = query.filter(deployment::Column::CreateTime.gte(start));
    }
    if let Some(end) = end {
        query = query.filter(deployment::Column::CreateTime.lte(end));
    }
    if let Some((time, id)) = after {
        query = query.filter(
            Condition::any()
                .add(deployment::Column::CreateTime.lt(time))
                .add(
                    Condition::all()
                        .add(deployment::Column::CreateTime.eq(time))
                        .add(deployment::Column::Id.lt(id)),
                ),
        );
    }
    let rows: Vec<(String, i64)> = query
        .into_tuple()
        .all(&pools.read)
        .await
        .map_err(internal)?;
    let (rows, next_token) =
        pagination::finish(&scope, rows, size, |(id, time)| format!("{time}:{id}"));
    Ok(ListDeploymentsResponse {
        deployments: rows.into_iter().map(|(id, _)| id).collect(),
        next_token,
    })
}

mod targets;

pub use targets::{batch_get_deployment_targets, get_deployment_target, list_deployment_targets};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ids_have_codedeploys_form() {
        assert!(is_deployment_id("d-ABCDEF123"));
        for bad in [
            "",
            "d-",
            "d-ABCDEF12",
            "d-ABCDEF1234",
            "d-abcdef123",
            "x-ABCDEF123",
            "d-ABCDEF12-",
        ] {
            assert!(!is_deployment_id(bad), "{bad}");
        }
        assert_eq!(
            check_deployment_id("").unwrap_err().exception(),
            Some(Exception::DeploymentIdRequired)
        );
        assert_eq!(
            check_deployment_id("d-1").unwrap_err().exception(),
            Some(Exception::InvalidDeploymentId)
        );
    }

    #[test]
    fn time_bounds_round_inwards_and_refuse_reversed_ranges() {
        assert_eq!(micros_of(2, 1500, true), Some(2_000_002));
        assert_eq!(micros_of(2, 1500, false), Some(2_000_001));
        assert_eq!(micros_of(2, 3000, true), Some(2_000_003));
        assert_eq!(micros_of(2, -1, true), None);
        assert_eq!(micros_of(2, 1_000_000_000, true), None);
        let at = |seconds| {
            Some((std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)).into())
        };
        let range = TimeRange {
            start: at(5),
            end: at(4),
        };
        assert_eq!(
            time_bounds(Some(&range)).unwrap_err().exception(),
            Some(Exception::InvalidTimeRange)
        );
        let range = TimeRange {
            start: at(4),
            end: None,
        };
        assert_eq!(time_bounds(Some(&range)).unwrap(), (Some(4_000_000), None));
    }

    #[test]
    fn keys_split_at_the_first_colon() {
        assert_eq!(split_key("12:a:b"), Some((12, "a:b".to_owned())));
        assert_eq!(split_key("-3:d-X"), Some((-3, "d-X".to_owned())));
        assert_eq!(split_key("x:d-X"), None);
        assert_eq!(split_key("12"), None);
    }
}
