//! The deployment-target reads: GetDeploymentTarget, BatchGetDeploymentTargets and
//! ListDeploymentTargets (targets in start order, by (position, target_id)).

use super::*;

fn instance(
    target: &deployment_target::Model,
    events: Vec<lifecycle_event::Model>,
) -> DeploymentTarget {
    DeploymentTarget {
        deployment_target_type: DeploymentTargetType::InstanceTarget as i32,
        instance_target: Some(view::instance_target(target, events)),
        ..Default::default()
    }
}

fn target_does_not_exist(deployment_id: &str, target_id: &str) -> ApiError {
    ApiError::new(
        Exception::DeploymentTargetDoesNotExist,
        format!("deployment {deployment_id} has no target {target_id:?}"),
    )
    .with_metadata("deployment_id", deployment_id)
    .with_metadata("target_id", target_id)
}

/// GetDeploymentTarget. ferry stores a deployment's targets when it creates the deployment,
/// so a deployment that has not started yet answers its Pending targets rather than
/// DeploymentNotStartedException.
pub async fn get_deployment_target(
    pools: &Pools,
    request: GetDeploymentTargetRequest,
) -> Result<GetDeploymentTargetResponse, Status> {
    let id = request.deployment_id.as_str();
    check_deployment_id(id)?;
    if request.target_id.is_empty() {
        return Err(ApiError::new(
            Exception::DeploymentTargetIdRequired,
            "target_id is required",
        )
        .into());
    }
    status_of(&pools.read, id).await?;
    let target = deployment_target::Entity::find_by_id((id.to_owned(), request.target_id.clone()))
        .one(&pools.read)
        .await
        .map_err(internal)?
        .ok_or_else(|| target_does_not_exist(id, &request.target_id))?;
    let events = lifecycle_event::Entity::find()
        .filter(lifecycle_event::Column::DeploymentId.eq(id))
        .filter(lifecycle_event::Column::TargetId.eq(&request.target_id))
        .all(&pools.read)
        .await
        .map_err(internal)?;
    Ok(GetDeploymentTargetResponse {
        deployment_target: Some(instance(&target, events)),
    })
}

/// BatchGetDeploymentTargets: the targets asked for, in the order asked (each once). As in
/// CodeDeploy, one id that is not a target of the deployment fails the whole call.
pub async fn batch_get_deployment_targets(
    pools: &Pools,
    request: BatchGetDeploymentTargetsRequest,
) -> Result<BatchGetDeploymentTargetsResponse, Status> {
    let id = request.deployment_id.as_str();
    check_deployment_id(id)?;
    if request.target_ids.is_empty() {
        return Err(ApiError::new(
            Exception::DeploymentTargetIdRequired,
            "target_ids lists no target id",
        )
        .into());
    }
    if request.target_ids.len() > MAX_BATCH_TARGETS {
        return Err(ApiError::new(
            Exception::DeploymentTargetListSizeExceeded,
            format!(
                "{} target ids given; ask for at most {MAX_BATCH_TARGETS}",
                request.target_ids.len()
            ),
        )
        .into());
    }
    if request.target_ids.iter().any(String::is_empty) {
        return Err(ApiError::new(
            Exception::InvalidDeploymentTargetId,
            "target_ids holds an empty target id",
        )
        .into());
    }
    status_of(&pools.read, id).await?;
    let mut seen = BTreeSet::new();
    let target_ids: Vec<&String> = request
        .target_ids
        .iter()
        .filter(|t| seen.insert(t.as_str()))
        .collect();
    let targets: HashMap<String, deployment_target::Model> = deployment_target::Entity::find()
        .filter(deployment_target::Column::DeploymentId.eq(id))
        .filter(deployment_target::Column::TargetId.is_in(target_ids.iter().map(|t| (*t).clone())))
        .all(&pools.read)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|t| (t.target_id.clone(), t))
        .collect();
    if let Some(missing) = target_ids
        .iter()
        .find(|t| !targets.contains_key(t.as_str()))
    {
        return Err(target_does_not_exist(id, missing).into());
    }
    let mut events: HashMap<String, Vec<lifecycle_event::Model>> = HashMap::new();
    for event in lifecycle_event::Entity::find()
        .filter(lifecycle_event::Column::DeploymentId.eq(id))
        .filter(lifecycle_event::Column::TargetId.is_in(target_ids.iter().map(|t| (*t).clone())))
        .all(&pools.read)
        .await
        .map_err(internal)?
    {
        events
            .entry(event.target_id.clone())
            .or_default()
            .push(event);
    }
    let deployment_targets = target_ids
        .iter()
        .filter_map(|t| {
            let target = targets.get(t.as_str())?;
            Some(instance(
                target,
                events.remove(t.as_str()).unwrap_or_default(),
            ))
        })
        .collect();
    Ok(BatchGetDeploymentTargetsResponse { deployment_targets })
}

/// The values of a target filter, sorted and each once; an unknown or unspecified value is
/// `exception`.
fn filter_values<E>(
    values: &[i32],
    exception: Exception,
    what: &str,
) -> Result<Vec<String>, ApiError>
where
    E: TryFrom<i32> + ferry_proto::codedeploy::CodeDeployName,
{
    let mut names = values
        .iter()
        .map(|v| {
            E::try_from(*v)
                .ok()
                .and_then(|e| e.codedeploy_name())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::new(exception, format!("{what} holds {v}, which is not valid"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

/// ListDeploymentTargets: the deployment's target ids in the order they start, filtered by
/// status and by blue/green label (an in-place target has none, so a label filter lists
/// nothing).
pub async fn list_deployment_targets(
    pools: &Pools,
    request: ListDeploymentTargetsRequest,
) -> Result<ListDeploymentTargetsResponse, Status> {
    let id = request.deployment_id.as_str();
    check_deployment_id(id)?;
    let filters = request.target_filters.unwrap_or_default();
    let statuses = filter_values::<TargetStatus>(
        &filters.target_status,
        Exception::InvalidInstanceStatus,
        "target_filters.target_status",
    )?;
    let labels = filter_values::<TargetLabel>(
        &filters.server_instance_label,
        Exception::InvalidInstanceType,
        "target_filters.server_instance_label",
    )?;
    let size = pagination::page_size(request.page_size)?;
    let scope = format!(
        "deployment-targets:{}",
        serde_json::to_string(&(id, &statuses, &labels)).unwrap_or_default()
    );
    let after = pagination::decode(&scope, &request.next_token)?
        .map(|key| split_key(&key).ok_or_else(bad_token))
        .transpose()?;
    status_of(&pools.read, id).await?;

    let mut query = deployment_target::Entity::find()
        .select_only()
        .column(deployment_target::Column::TargetId)
        .column(deployment_target::Column::Position)
        .filter(deployment_target::Column::DeploymentId.eq(id))
        .order_by_asc(deployment_target::Column::Position)
        .order_by_asc(deployment_target::Column::TargetId)
        .limit(size as u64 + 1);
    if !statuses.is_empty() {
        query = query.filter(deployment_target::Column::Status.is_in(statuses));
    }
    if !labels.is_empty() {
        query = query.filter(deployment_target::Column::InstanceLabel.is_in(labels));
    }
    if let Some((position, target_id)) = after {
        let position = i32::try_from(position).map_err(|_| bad_token())?;
        query = query.filter(
            Condition::any()
                .add(deployment_target::Column::Position.gt(position))
                .add(
                    Condition::all()
                        .add(deployment_target::Column::Position.eq(position))
                        .add(deployment_target::Column::TargetId.gt(target_id)),
                ),
        );
    }
    let rows: Vec<(String, i32)> = query
        .into_tuple()
        .all(&pools.read)
        .await
        .map_err(internal)?;
    let (rows, next_token) = pagination::finish(&scope, rows, size, |(target_id, position)| {
        format!("{position}:{target_id}")
    });
    Ok(ListDeploymentTargetsResponse {
        target_ids: rows.into_iter().map(|(target_id, _)| target_id).collect(),
        next_token,
    })
}
