//! `ferry create-deployment`: CodeDeploy's CreateDeployment with `aws deploy`'s flags, and
//! `--watch` to follow the deployment to its end (exit status by its outcome).

use clap::{ArgGroup, Args};
use ferry_proto::common::v1::{
    FileExistsBehavior, GitHubLocation, RevisionLocation, RevisionLocationType, S3Location,
};
use ferry_proto::deploy::v1::{CreateDeploymentRequest, TargetInstances};
use ferry_proto::registry::v1::{AlarmConfiguration, AutoRollbackConfiguration};

use super::watch::{self, Options, Sink};
use super::{deployments, input};
use crate::commands::api::input::{codedeploy, structure};
use crate::commands::api::{Global, print_message, refused};

#[derive(Args)]
#[command(group(
    ArgGroup::new("revision_source")
        .required(true)
        .args(["revision", "s3_location", "github_location"])
))]
pub struct CreateDeploymentArgs {
    /// The application.
    #[arg(long)]
    application_name: String,
    /// The deployment group to deploy to.
    #[arg(long)]
    deployment_group_name: String,
    /// The revision: JSON (what `ferry push` printed, or its `revision`), or shorthand
    /// `revisionType=S3,s3Location={bucket=…,key=…,bundleType=zip}`; `file://PATH` reads it.
    #[arg(long, value_parser = input::revision)]
    revision: Option<RevisionLocation>,
    /// An S3 revision: `bucket=…,key=…,bundleType=tar|tgz|zip|YAML|JSON[,version=…,eTag=…]`.
    #[arg(long, value_parser = structure::<S3Location>)]
    s3_location: Option<S3Location>,
    /// A GitHub revision: `repository=owner/name,commitId=…`.
    #[arg(long, value_parser = structure::<GitHubLocation>)]
    github_location: Option<GitHubLocation>,
    /// Defaults to the deployment group's.
    #[arg(long)]
    deployment_config_name: Option<String>,
    /// A description of the deployment.
    #[arg(long)]
    description: Option<String>,
    /// A failing ApplicationStop, BeforeBlockTraffic or AfterBlockTraffic does not fail the
    /// target.
    #[arg(long, overrides_with = "no_ignore_application_stop_failures")]
    ignore_application_stop_failures: bool,
    #[arg(long, hide = true, overrides_with = "ignore_application_stop_failures")]
    no_ignore_application_stop_failures: bool,
    /// Deploy only to the instances not already running this revision.
    #[arg(long, overrides_with = "no_update_outdated_instances_only")]
    update_outdated_instances_only: bool,
    #[arg(long, hide = true, overrides_with = "update_outdated_instances_only")]
    no_update_outdated_instances_only: bool,
    /// What Install does with a file already at a destination.
    #[arg(long, value_parser = codedeploy::<FileExistsBehavior>())]
    file_exists_behavior: Option<FileExistsBehavior>,
    /// Overrides the group's: `enabled=true,events=DEPLOYMENT_FAILURE[,…]`, or JSON.
    #[arg(long, value_parser = structure::<AutoRollbackConfiguration>)]
    auto_rollback_configuration: Option<AutoRollbackConfiguration>,
    /// Narrows the group's instances: JSON (`{"tagFilters": [{"Key": …, "Value": …,
    /// "Type": "KEY_AND_VALUE"}]}`) or shorthand.
    #[arg(long, value_parser = structure::<TargetInstances>)]
    target_instances: Option<TargetInstances>,
    /// Overrides the group's alarm configuration: JSON or shorthand.
    #[arg(long, value_parser = structure::<AlarmConfiguration>)]
    override_alarm_configuration: Option<AlarmConfiguration>,
    /// Then follow the deployment on stderr as `ferry deployment watch` does; the exit
    /// status is its outcome (0 succeeded, 1 failed or stopped).
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    global: Global,
}

pub async fn run(args: CreateDeploymentArgs) -> anyhow::Result<u8> {
    let revision = match (args.revision, args.s3_location, args.github_location) {
        (Some(revision), _, _) => revision,
        (None, Some(s3), _) => RevisionLocation {
            revision_type: RevisionLocationType::S3 as i32,
            s3_location: Some(s3),
            ..Default::default()
        },
        (None, None, github) => RevisionLocation {
            revision_type: RevisionLocationType::GitHub as i32,
            git_hub_location: github,
            ..Default::default()
        },
    };
    let request = CreateDeploymentRequest {
        application_name: args.application_name,
        deployment_group_name: args.deployment_group_name,
        revision: Some(revision),
        deployment_config_name: args.deployment_config_name.unwrap_or_default(),
        description: args.description.unwrap_or_default(),
        ignore_application_stop_failures: args.ignore_application_stop_failures,
        target_instances: args.target_instances,
        auto_rollback_configuration: args.auto_rollback_configuration,
        update_outdated_instances_only: args.update_outdated_instances_only,
        file_exists_behavior: args.file_exists_behavior.map_or(0, |b| b as i32),
        override_alarm_configuration: args.override_alarm_configuration,
    };
    let mut client = deployments(&args.global)?;
    let response = match client.create_deployment(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Ok(refused("CreateDeployment", &status)),
    };
    print_message(
        args.global.output,
        &response,
        "ferry.deploy.v1.CreateDeploymentResponse",
    )?;
    if !args.watch {
        return Ok(0);
    }
    let options = Options {
        sink: Sink::Stderr,
        json: false,
        exclude_output: false,
    };
    watch::watch(client, &response.deployment_id, &options).await
}
