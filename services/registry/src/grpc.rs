//! The tonic adapter: every RPC hands its request to [`Registry`] and turns an [`ApiError`]
//! into a `tonic::Status` through the one table in ferry-runtime. Nothing else lives here.
//!
//! [`ApiError`]: ferry_runtime::error::ApiError

use ferry_proto::registry::v1::registry_service_server::RegistryService;
use ferry_proto::registry::v1::*;
use tonic::{Request, Response, Status};

use crate::Registry;

/// The gRPC face of the registry.
#[derive(Clone)]
pub struct RegistryApi {
    registry: Registry,
}

impl RegistryApi {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

macro_rules! delegate {
    ($($method:ident($request:ty) -> $response:ty;)+) => {
        #[tonic::async_trait]
        impl RegistryService for RegistryApi {
            $(
                async fn $method(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                    Ok(Response::new(self.registry.$method(request.into_inner()).await?))
                }
            )+
        }
    };
}

delegate! {
    create_application(CreateApplicationRequest) -> CreateApplicationResponse;
    get_application(GetApplicationRequest) -> GetApplicationResponse;
    batch_get_applications(BatchGetApplicationsRequest) -> BatchGetApplicationsResponse;
    list_applications(ListApplicationsRequest) -> ListApplicationsResponse;
    update_application(UpdateApplicationRequest) -> UpdateApplicationResponse;
    delete_application(DeleteApplicationRequest) -> DeleteApplicationResponse;

    create_deployment_config(CreateDeploymentConfigRequest) -> CreateDeploymentConfigResponse;
    get_deployment_config(GetDeploymentConfigRequest) -> GetDeploymentConfigResponse;
    list_deployment_configs(ListDeploymentConfigsRequest) -> ListDeploymentConfigsResponse;
    delete_deployment_config(DeleteDeploymentConfigRequest) -> DeleteDeploymentConfigResponse;

    create_deployment_group(CreateDeploymentGroupRequest) -> CreateDeploymentGroupResponse;
    get_deployment_group(GetDeploymentGroupRequest) -> GetDeploymentGroupResponse;
    batch_get_deployment_groups(BatchGetDeploymentGroupsRequest) -> BatchGetDeploymentGroupsResponse;
    list_deployment_groups(ListDeploymentGroupsRequest) -> ListDeploymentGroupsResponse;
    update_deployment_group(UpdateDeploymentGroupRequest) -> UpdateDeploymentGroupResponse;
    delete_deployment_group(DeleteDeploymentGroupRequest) -> DeleteDeploymentGroupResponse;

    register_on_premises_instance(RegisterOnPremisesInstanceRequest) -> RegisterOnPremisesInstanceResponse;
    deregister_on_premises_instance(DeregisterOnPremisesInstanceRequest) -> DeregisterOnPremisesInstanceResponse;
    get_on_premises_instance(GetOnPremisesInstanceRequest) -> GetOnPremisesInstanceResponse;
    batch_get_on_premises_instances(BatchGetOnPremisesInstancesRequest) -> BatchGetOnPremisesInstancesResponse;
    list_on_premises_instances(ListOnPremisesInstancesRequest) -> ListOnPremisesInstancesResponse;
    add_tags_to_on_premises_instances(AddTagsToOnPremisesInstancesRequest) -> AddTagsToOnPremisesInstancesResponse;
    remove_tags_from_on_premises_instances(RemoveTagsFromOnPremisesInstancesRequest) -> RemoveTagsFromOnPremisesInstancesResponse;
    authenticate_on_premises_instance(AuthenticateOnPremisesInstanceRequest) -> AuthenticateOnPremisesInstanceResponse;
    list_deployment_group_instances(ListDeploymentGroupInstancesRequest) -> ListDeploymentGroupInstancesResponse;

    tag_resource(TagResourceRequest) -> TagResourceResponse;
    untag_resource(UntagResourceRequest) -> UntagResourceResponse;
    list_tags_for_resource(ListTagsForResourceRequest) -> ListTagsForResourceResponse;
}
