//! The deployment and deployment-target operations that take a request and print its answer:
//! get, batch-get, list (every page, as the AWS CLI does by default), stop, continue.

use clap::Args;
use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::{
    BatchGetDeploymentTargetsRequest, BatchGetDeploymentsRequest, ContinueDeploymentRequest,
    DeploymentWaitType, GetDeploymentRequest, GetDeploymentTargetRequest,
    ListDeploymentTargetsRequest, ListDeploymentTargetsResponse, ListDeploymentsRequest,
    ListDeploymentsResponse, StopDeploymentRequest, TargetFilters, TimeRange,
};

use super::deployments;
use crate::commands::api::input::{codedeploy, structure};
use crate::commands::api::{Global, answer, print_message, refused};

#[derive(Args)]
pub struct GetDeploymentArgs {
    /// The deployment's id (d-…).
    #[arg(long)]
    deployment_id: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct BatchGetDeploymentsArgs {
    /// Deployment ids (at most 25).
    #[arg(long, required = true, num_args = 1..)]
    deployment_ids: Vec<String>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ListDeploymentsArgs {
    /// With --deployment-group-name: the group's deployments only.
    #[arg(long, requires = "deployment_group_name")]
    application_name: Option<String>,
    /// With --application-name.
    #[arg(long, requires = "application_name")]
    deployment_group_name: Option<String>,
    /// Only deployments linked to this external resource.
    #[arg(long)]
    external_id: Option<String>,
    /// Only deployments in these statuses.
    #[arg(long, num_args = 1.., value_parser = codedeploy::<DeploymentStatus>())]
    include_only_statuses: Vec<DeploymentStatus>,
    /// `start=…,end=…` (RFC 3339, a date, or epoch seconds), or JSON.
    #[arg(long, value_parser = structure::<TimeRange>)]
    create_time_range: Option<TimeRange>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct StopDeploymentArgs {
    /// The deployment's id (d-…).
    #[arg(long)]
    deployment_id: String,
    /// Roll back the targets already updated (unset: as the deployment's auto-rollback
    /// configuration says for DEPLOYMENT_STOP_ON_REQUEST).
    #[arg(long, conflicts_with = "no_auto_rollback_enabled")]
    auto_rollback_enabled: bool,
    /// Do not roll back.
    #[arg(long)]
    no_auto_rollback_enabled: bool,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ContinueDeploymentArgs {
    /// The deployment's id (d-…).
    #[arg(long)]
    deployment_id: Option<String>,
    /// READY_WAIT (the default) or TERMINATION_WAIT.
    #[arg(long, value_parser = codedeploy::<DeploymentWaitType>())]
    deployment_wait_type: Option<DeploymentWaitType>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ListDeploymentTargetsArgs {
    /// The deployment's id (d-…).
    #[arg(long)]
    deployment_id: String,
    /// `TargetStatus=Failed,Skipped` and/or `ServerInstanceLabel=Blue`, or JSON.
    #[arg(long, num_args = 1.., value_parser = structure::<TargetFilters>)]
    target_filters: Vec<TargetFilters>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct GetDeploymentTargetArgs {
    /// The deployment's id (d-…).
    #[arg(long)]
    deployment_id: String,
    /// The instance name, for an EC2/on-premises deployment.
    #[arg(long)]
    target_id: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct BatchGetDeploymentTargetsArgs {
    /// The deployment's id (d-…).
    #[arg(long)]
    deployment_id: String,
    /// Target ids, instance names for EC2/on-premises (at most 25).
    #[arg(long, required = true, num_args = 1..)]
    target_ids: Vec<String>,
    #[command(flatten)]
    global: Global,
}

pub async fn get_deployment(args: GetDeploymentArgs) -> anyhow::Result<u8> {
    let request = GetDeploymentRequest {
        deployment_id: args.deployment_id,
    };
    let result = deployments(&args.global)?.get_deployment(request).await;
    answer(
        &args.global,
        "GetDeployment",
        "ferry.deploy.v1.GetDeploymentResponse",
        result,
    )
}

pub async fn batch_get_deployments(args: BatchGetDeploymentsArgs) -> anyhow::Result<u8> {
    let request = BatchGetDeploymentsRequest {
        deployment_ids: args.deployment_ids,
    };
    let result = deployments(&args.global)?
        .batch_get_deployments(request)
        .await;
    answer(
        &args.global,
        "BatchGetDeployments",
        "ferry.deploy.v1.BatchGetDeploymentsResponse",
        result,
    )
}

pub async fn list_deployments(args: ListDeploymentsArgs) -> anyhow::Result<u8> {
    let mut client = deployments(&args.global)?;
    let mut request = ListDeploymentsRequest {
        application_name: args.application_name.unwrap_or_default(),
        deployment_group_name: args.deployment_group_name.unwrap_or_default(),
        external_id: args.external_id.unwrap_or_default(),
        include_only_statuses: args
            .include_only_statuses
            .iter()
            .map(|s| *s as i32)
            .collect(),
        create_time_range: args.create_time_range,
        ..Default::default()
    };
    let mut all = ListDeploymentsResponse::default();
    loop {
        let page = match client.list_deployments(request.clone()).await {
            Ok(page) => page.into_inner(),
            Err(status) => return Ok(refused("ListDeployments", &status)),
        };
        all.deployments.extend(page.deployments);
        if page.next_token.is_empty() {
            break;
        }
        request.next_token = page.next_token;
    }
    print_message(
        args.global.output,
        &all,
        "ferry.deploy.v1.ListDeploymentsResponse",
    )?;
    Ok(0)
}

pub async fn stop_deployment(args: StopDeploymentArgs) -> anyhow::Result<u8> {
    let auto_rollback_enabled = if args.auto_rollback_enabled {
        Some(true)
    } else if args.no_auto_rollback_enabled {
        Some(false)
    } else {
        None
    };
    let request = StopDeploymentRequest {
        deployment_id: args.deployment_id,
        auto_rollback_enabled,
    };
    let result = deployments(&args.global)?.stop_deployment(request).await;
    answer(
        &args.global,
        "StopDeployment",
        "ferry.deploy.v1.StopDeploymentResponse",
        result,
    )
}

/// ContinueDeployment has no output: nothing is printed when it is accepted.
pub async fn continue_deployment(args: ContinueDeploymentArgs) -> anyhow::Result<u8> {
    let request = ContinueDeploymentRequest {
        deployment_id: args.deployment_id.unwrap_or_default(),
        deployment_wait_type: args.deployment_wait_type.map_or(0, |t| t as i32),
    };
    match deployments(&args.global)?
        .continue_deployment(request)
        .await
    {
        Ok(_) => Ok(0),
        Err(status) => Ok(refused("ContinueDeployment", &status)),
    }
}

pub async fn list_deployment_targets(args: ListDeploymentTargetsArgs) -> anyhow::Result<u8> {
    let filters = (!args.target_filters.is_empty()).then(|| {
        let mut merged = TargetFilters::default();
        for filter in args.target_filters {
            merged.target_status.extend(filter.target_status);
            merged
                .server_instance_label
                .extend(filter.server_instance_label);
        }
        merged
    });
    let mut client = deployments(&args.global)?;
    let mut request = ListDeploymentTargetsRequest {
        deployment_id: args.deployment_id,
        target_filters: filters,
        ..Default::default()
    };
    let mut all = ListDeploymentTargetsResponse::default();
    loop {
        let page = match client.list_deployment_targets(request.clone()).await {
            Ok(page) => page.into_inner(),
            Err(status) => return Ok(refused("ListDeploymentTargets", &status)),
        };
        all.target_ids.extend(page.target_ids);
        if page.next_token.is_empty() {
            break;
        }
        request.next_token = page.next_token;
    }
    print_message(
        args.global.output,
        &all,
        "ferry.deploy.v1.ListDeploymentTargetsResponse",
    )?;
    Ok(0)
}

pub async fn get_deployment_target(args: GetDeploymentTargetArgs) -> anyhow::Result<u8> {
    let request = GetDeploymentTargetRequest {
        deployment_id: args.deployment_id,
        target_id: args.target_id,
    };
    let result = deployments(&args.global)?
        .get_deployment_target(request)
        .await;
    answer(
        &args.global,
        "GetDeploymentTarget",
        "ferry.deploy.v1.GetDeploymentTargetResponse",
        result,
    )
}

pub async fn batch_get_deployment_targets(
    args: BatchGetDeploymentTargetsArgs,
) -> anyhow::Result<u8> {
    let request = BatchGetDeploymentTargetsRequest {
        deployment_id: args.deployment_id,
        target_ids: args.target_ids,
    };
    let result = deployments(&args.global)?
        .batch_get_deployment_targets(request)
        .await;
    answer(
        &args.global,
        "BatchGetDeploymentTargets",
        "ferry.deploy.v1.BatchGetDeploymentTargetsResponse",
        result,
    )
}
