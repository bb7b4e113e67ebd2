//! A configuration that deployment groups use cannot be deleted, also when the delete races
//! the creation of a group that names it.

use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{get, server};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error, error_reason};

backend_tests!(
    a_config_in_use_cannot_be_deleted,
    delete_racing_a_group_create_never_leaves_a_dangling_group,
);

const ROLE: &str = "arn:ferry:iam::000000000000:role/deployer";

async fn create_app_and_group(
    r: &mut TestRegistry,
    app: &str,
    group: &str,
    config: &str,
) -> Result<(), tonic::Status> {
    let app_req = CreateApplicationRequest {
        application_name: app.into(),
        ..Default::default()
    };
    if let Err(status) = r.client.create_application(app_req).await {
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    }
    r.client
        .create_deployment_group(CreateDeploymentGroupRequest {
            application_name: app.into(),
            deployment_group_name: group.into(),
            deployment_config_name: config.into(),
            service_role_arn: ROLE.into(),
            ..Default::default()
        })
        .await
        .map(drop)
}

async fn a_config_in_use_cannot_be_deleted(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    r.client
        .create_deployment_config(server("Used", MinimumHealthyHostsType::HostCount, 1))
        .await
        .unwrap();
    create_app_and_group(&mut r, "web", "prod", "Used")
        .await
        .unwrap();
    let delete = DeleteDeploymentConfigRequest {
        deployment_config_name: "Used".into(),
    };
    assert_error(
        r.client.delete_deployment_config(delete.clone()).await,
        Code::FailedPrecondition,
        "DeploymentConfigInUseException",
    );
    assert!(get(&mut r, "Used").await.is_ok());
    // Once no group uses it, it goes.
    let req = DeleteDeploymentGroupRequest {
        application_name: "web".into(),
        deployment_group_name: "prod".into(),
    };
    r.client.delete_deployment_group(req).await.unwrap();
    r.client.delete_deployment_config(delete).await.unwrap();
    assert_error(
        get(&mut r, "Used").await,
        Code::NotFound,
        "DeploymentConfigDoesNotExistException",
    );
}

/// DeleteDeploymentConfig and CreateDeploymentGroup naming the same configuration, at once:
/// either the group is created and the configuration stays (in use), or the configuration is
/// deleted and the group is refused. Never a group naming a deleted configuration.
async fn delete_racing_a_group_create_never_leaves_a_dangling_group(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    for round in 0..6 {
        let config = format!("Racy{round}");
        let group = format!("g{round}");
        r.client
            .create_deployment_config(server(&config, MinimumHealthyHostsType::HostCount, 1))
            .await
            .unwrap();
        let app_req = CreateApplicationRequest {
            application_name: "web".into(),
            ..Default::default()
        };
        let _ = r.client.create_application(app_req).await;
        let (mut deleter, mut creator) = (r.another_client().await, r.another_client().await);
        let delete_req = DeleteDeploymentConfigRequest {
            deployment_config_name: config.clone(),
        };
        let create_req = CreateDeploymentGroupRequest {
            application_name: "web".into(),
            deployment_group_name: group.clone(),
            deployment_config_name: config.clone(),
            service_role_arn: ROLE.into(),
            ..Default::default()
        };
        let delete =
            tokio::spawn(async move { deleter.delete_deployment_config(delete_req).await });
        let create = tokio::spawn(async move { creator.create_deployment_group(create_req).await });
        let (deleted, created) = (delete.await.unwrap(), create.await.unwrap());
        let config_exists = get(&mut r, &config).await.is_ok();
        match (deleted, created) {
            (Ok(_), Err(status)) => {
                assert_eq!(
                    error_reason(&status).as_deref(),
                    Some("DeploymentConfigDoesNotExistException")
                );
                assert!(!config_exists);
            }
            (Err(status), Ok(_)) => {
                assert_eq!(
                    error_reason(&status).as_deref(),
                    Some("DeploymentConfigInUseException")
                );
                assert!(config_exists);
            }
            other => panic!("round {round}: exactly one call wins, got {other:?}"),
        }
    }
}
