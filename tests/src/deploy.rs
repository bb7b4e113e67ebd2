//! The gRPC calls the process tests share: setting up an application, its group and its
//! instances in the registry, uploading a bundle, creating a deployment and polling it.

use std::net::SocketAddr;
use std::time::Duration;

use ferry_proto::common::v1::{
    BundleType, ComputePlatform, DeploymentStatus, RevisionLocation, Tag, TagFilter, TagFilterType,
};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{
    BatchGetDeploymentTargetsRequest, CreateDeploymentRequest, DeploymentInfo,
    GetDeploymentRequest, InstanceTarget,
};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, AutoRollbackConfiguration, AutoRollbackEvent,
    CreateApplicationRequest, CreateDeploymentGroupRequest, RegisterOnPremisesInstanceRequest,
};
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::channel;

/// An in-place deployment's lifecycle events, in CodeDeploy's order: one agent command each.
pub const ALL_EVENTS: [&str; 7] = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// The application (Server platform) and a group of the on-premises instances tagged
/// `group=<group>`, with deployment configuration `config` and, when `rollback`, automatic
/// rollback on DEPLOYMENT_FAILURE.
pub async fn create_group(
    registry: SocketAddr,
    app: &str,
    group: &str,
    config: &str,
    rollback: bool,
) {
    let mut registry = RegistryServiceClient::new(channel(registry).await);
    registry
        .create_application(CreateApplicationRequest {
            application_name: app.into(),
            compute_platform: ComputePlatform::Server as i32,
            ..Default::default()
        })
        .await
        .expect("CreateApplication");
    registry
        .create_deployment_group(CreateDeploymentGroupRequest {
            application_name: app.into(),
            deployment_group_name: group.into(),
            deployment_config_name: config.into(),
            service_role_arn: "arn:aws:iam::000000000000:role/ferry".into(),
            on_premises_instance_tag_filters: vec![TagFilter {
                key: "group".into(),
                value: group.into(),
                r#type: TagFilterType::KeyAndValue as i32,
            }],
            auto_rollback_configuration: rollback.then(|| AutoRollbackConfiguration {
                enabled: true,
                events: vec![AutoRollbackEvent::DeploymentFailure as i32],
            }),
            ..Default::default()
        })
        .await
        .expect("CreateDeploymentGroup");
}

/// Registers the on-premises instance `name`, tagged `group=<group>`; returns its credential.
pub async fn register_instance(registry: SocketAddr, name: &str, group: &str) -> String {
    let mut registry = RegistryServiceClient::new(channel(registry).await);
    let credential = registry
        .register_on_premises_instance(RegisterOnPremisesInstanceRequest {
            instance_name: name.into(),
            ..Default::default()
        })
        .await
        .expect("RegisterOnPremisesInstance")
        .into_inner()
        .instance_credential;
    registry
        .add_tags_to_on_premises_instances(AddTagsToOnPremisesInstancesRequest {
            tags: vec![Tag {
                key: "group".into(),
                value: group.into(),
            }],
            instance_names: vec![name.into()],
        })
        .await
        .expect("AddTagsToOnPremisesInstances");
    credential
}

/// Uploads `tar` as a bundle of `app` with UploadBundle: its location.
pub async fn upload_tar(revisions: SocketAddr, app: &str, tar: Vec<u8>) -> RevisionLocation {
    let messages = vec![
        UploadBundleRequest {
            part: Some(Part::Header(UploadBundleHeader {
                application_name: app.into(),
                bundle_type: BundleType::Tar as i32,
                ..Default::default()
            })),
        },
        UploadBundleRequest {
            part: Some(Part::Chunk(tar)),
        },
    ];
    RevisionServiceClient::new(channel(revisions).await)
        .upload_bundle(tokio_stream::iter(messages))
        .await
        .expect("UploadBundle")
        .into_inner()
        .location
        .expect("a location")
}

/// Creates a deployment of `revision` to `app`'s `group`: its id.
pub async fn create_deployment(
    deployments: &mut DeploymentServiceClient<Channel>,
    app: &str,
    group: &str,
    revision: RevisionLocation,
) -> String {
    deployments
        .create_deployment(CreateDeploymentRequest {
            application_name: app.into(),
            deployment_group_name: group.into(),
            revision: Some(revision),
            ..Default::default()
        })
        .await
        .expect("CreateDeployment")
        .into_inner()
        .deployment_id
}

/// GetDeployment.
pub async fn get(deployments: &mut DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    deployments
        .get_deployment(GetDeploymentRequest {
            deployment_id: id.into(),
        })
        .await
        .expect("GetDeployment")
        .into_inner()
        .deployment_info
        .expect("deployment_info")
}

pub fn status(info: &DeploymentInfo) -> DeploymentStatus {
    DeploymentStatus::try_from(info.status).expect("a known status")
}

/// Succeeded, Failed or Stopped.
pub fn is_terminal(info: &DeploymentInfo) -> bool {
    matches!(
        status(info),
        DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped
    )
}

/// Polls GetDeployment every 100 ms until the deployment has ended, or fails after `timeout`;
/// returns it.
pub async fn ended(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
    timeout: Duration,
) -> DeploymentInfo {
    let deadline = Instant::now() + timeout;
    loop {
        let info = get(deployments, id).await;
        if is_terminal(&info) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "{id} did not end within {timeout:?}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The deployment's instance targets `names`, in target-id order.
pub async fn targets(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
    names: &[&str],
) -> Vec<InstanceTarget> {
    let mut targets: Vec<InstanceTarget> = deployments
        .batch_get_deployment_targets(BatchGetDeploymentTargetsRequest {
            deployment_id: id.into(),
            target_ids: names.iter().map(|&n| n.to_owned()).collect(),
        })
        .await
        .expect("BatchGetDeploymentTargets")
        .into_inner()
        .deployment_targets
        .into_iter()
        .map(|t| t.instance_target.expect("an instance target"))
        .collect();
    assert_eq!(targets.len(), names.len(), "{targets:?}");
    targets.sort_by(|a, b| a.target_id.cmp(&b.target_id));
    targets
}
