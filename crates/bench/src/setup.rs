//! The registry and revisions calls every scenario starts with: the application, a group
//! selecting its instances by the tag `group=<name>`, registered and tagged instances, and an
//! uploaded tar bundle.

use anyhow::Context as _;
use ferry_proto::common::v1::{ComputePlatform, RevisionLocation, Tag, TagFilter, TagFilterType};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, CreateApplicationRequest, CreateDeploymentGroupRequest,
    RegisterOnPremisesInstanceRequest,
};
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use futures::{StreamExt as _, TryStreamExt as _};
use tonic::transport::Channel;

/// The application every scenario deploys.
pub const APP: &str = "bench";

/// Instances registered at once.
const REGISTERING: usize = 32;
/// The most instances AddTagsToOnPremisesInstances takes in one call.
const TAGGED_PER_CALL: usize = 100;

pub async fn create_application(
    registry: &mut RegistryServiceClient<Channel>,
) -> anyhow::Result<()> {
    registry
        .create_application(CreateApplicationRequest {
            application_name: APP.into(),
            compute_platform: ComputePlatform::Server as i32,
            ..Default::default()
        })
        .await
        .context("CreateApplication")?;
    Ok(())
}

/// A group with the deployment configuration `config` whose instances carry the tag
/// `group=<name>`.
pub async fn create_group(
    registry: &mut RegistryServiceClient<Channel>,
    name: &str,
    config: &str,
) -> anyhow::Result<()> {
    registry
        .create_deployment_group(CreateDeploymentGroupRequest {
            application_name: APP.into(),
            deployment_group_name: name.into(),
            deployment_config_name: config.into(),
            service_role_arn: "arn:aws:iam::000000000000:role/ferry".into(),
            on_premises_instance_tag_filters: vec![TagFilter {
                key: "group".into(),
                value: name.into(),
                r#type: TagFilterType::KeyAndValue as i32,
            }],
            ..Default::default()
        })
        .await
        .context("CreateDeploymentGroup")?;
    Ok(())
}

/// Registers `names` (several at once) and tags them `group=<group>`; each name with its
/// credential, in the order given.
pub async fn register_instances(
    registry: &RegistryServiceClient<Channel>,
    names: Vec<String>,
    group: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let instances: Vec<(String, String)> = futures::stream::iter(names)
        .map(|name| {
            let mut registry = registry.clone();
            async move {
                let credential = registry
                    .register_on_premises_instance(RegisterOnPremisesInstanceRequest {
                        instance_name: name.clone(),
                        ..Default::default()
                    })
                    .await
                    .context("RegisterOnPremisesInstance")?
                    .into_inner()
                    .instance_credential;
                anyhow::Ok((name, credential))
            }
        })
        .buffered(REGISTERING)
        .try_collect()
        .await?;
    let mut registry = registry.clone();
    for chunk in instances.chunks(TAGGED_PER_CALL) {
        registry
            .add_tags_to_on_premises_instances(AddTagsToOnPremisesInstancesRequest {
                tags: vec![Tag {
                    key: "group".into(),
                    value: group.into(),
                }],
                instance_names: chunk.iter().map(|(name, _)| name.clone()).collect(),
            })
            .await
            .context("AddTagsToOnPremisesInstances")?;
    }
    Ok(instances)
}

/// Uploads `bundle` (a tar) for the application; its location.
pub async fn upload(
    revisions: &mut RevisionServiceClient<Channel>,
    bundle: Vec<u8>,
) -> anyhow::Result<RevisionLocation> {
    let header = UploadBundleRequest {
        part: Some(Part::Header(UploadBundleHeader {
            application_name: APP.into(),
            ..Default::default()
        })),
    };
    let chunk = UploadBundleRequest {
        part: Some(Part::Chunk(bundle)),
    };
    revisions
        .upload_bundle(futures::stream::iter([header, chunk]))
        .await
        .context("UploadBundle")?
        .into_inner()
        .location
        .context("UploadBundle returned no location")
}

/// A tar of `files`: path, content, mode.
pub fn tar<P: AsRef<str>, C: AsRef<[u8]>>(files: &[(P, C, u32)]) -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let content = content.as_ref();
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path.as_ref(), content)?;
    }
    Ok(builder.into_inner()?)
}
