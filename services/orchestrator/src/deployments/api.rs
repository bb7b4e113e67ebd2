//! `ferry.deploy.v1.DeploymentService`: each call checks its input and hands over to the part
//! that owns it (create, the deployment's task for stop, the read side, the event log).

use ferry_proto::deploy::v1::deployment_service_server::DeploymentService;
use ferry_proto::deploy::v1::*;
use ferry_runtime::error::{ApiError, Exception};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::context::Context;
use super::{create, read, watch};

#[derive(Clone)]
pub struct DeploymentApi {
    ctx: Context,
}

impl DeploymentApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl DeploymentService for DeploymentApi {
    async fn create_deployment(
        &self,
        request: Request<CreateDeploymentRequest>,
    ) -> Result<Response<CreateDeploymentResponse>, Status> {
        let deployment_id = create::create(&self.ctx, request.into_inner()).await?;
        Ok(Response::new(CreateDeploymentResponse { deployment_id }))
    }

    async fn get_deployment(
        &self,
        request: Request<GetDeploymentRequest>,
    ) -> Result<Response<GetDeploymentResponse>, Status> {
        read::get_deployment(&self.ctx.pools, &self.ctx.events, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn batch_get_deployments(
        &self,
        request: Request<BatchGetDeploymentsRequest>,
    ) -> Result<Response<BatchGetDeploymentsResponse>, Status> {
        read::batch_get_deployments(&self.ctx.pools, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_deployments(
        &self,
        request: Request<ListDeploymentsRequest>,
    ) -> Result<Response<ListDeploymentsResponse>, Status> {
        read::list_deployments(&self.ctx.pools, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn stop_deployment(
        &self,
        request: Request<StopDeploymentRequest>,
    ) -> Result<Response<StopDeploymentResponse>, Status> {
        let request = request.into_inner();
        // Validates the id and answers DeploymentDoesNotExist for an unknown one.
        let info = read::get_deployment(
            &self.ctx.pools,
            &self.ctx.events,
            GetDeploymentRequest {
                deployment_id: request.deployment_id.clone(),
            },
        )
        .await?;
        let answer = self
            .ctx
            .drivers
            .stop(&request.deployment_id, request.auto_rollback_enabled)
            .await;
        match answer {
            Some(answer) => answer.map(Response::new).map_err(Status::from),
            None if info
                .deployment_info
                .as_ref()
                .is_some_and(|d| super::driver::is_terminal_status(d.status)) =>
            {
                Err(super::driver::already_completed(&request.deployment_id).into())
            }
            // Not terminal but not driven here: its task is starting (or another replica
            // drives it, once there are replicas).
            None => Err(ApiError::new(
                Exception::InvalidDeploymentStatus,
                "the deployment is not being driven by this orchestrator yet; try again",
            )
            .into()),
        }
    }

    async fn continue_deployment(
        &self,
        request: Request<ContinueDeploymentRequest>,
    ) -> Result<Response<ContinueDeploymentResponse>, Status> {
        let request = request.into_inner();
        if DeploymentWaitType::try_from(request.deployment_wait_type).is_err() {
            return Err(ApiError::new(
                Exception::InvalidDeploymentWaitType,
                "deployment_wait_type is not READY_WAIT or TERMINATION_WAIT",
            )
            .into());
        }
        read::get_deployment(
            &self.ctx.pools,
            &self.ctx.events,
            GetDeploymentRequest {
                deployment_id: request.deployment_id.clone(),
            },
        )
        .await?;
        // Only blue/green deployments wait to be continued, and ferry runs in-place ones.
        Err(ApiError::new(
            Exception::DeploymentIsNotInReadyState,
            format!(
                "deployment {} is an in-place deployment: it never waits in Ready",
                request.deployment_id
            ),
        )
        .into())
    }

    async fn get_deployment_target(
        &self,
        request: Request<GetDeploymentTargetRequest>,
    ) -> Result<Response<GetDeploymentTargetResponse>, Status> {
        read::get_deployment_target(&self.ctx.pools, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn batch_get_deployment_targets(
        &self,
        request: Request<BatchGetDeploymentTargetsRequest>,
    ) -> Result<Response<BatchGetDeploymentTargetsResponse>, Status> {
        read::batch_get_deployment_targets(&self.ctx.pools, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_deployment_targets(
        &self,
        request: Request<ListDeploymentTargetsRequest>,
    ) -> Result<Response<ListDeploymentTargetsResponse>, Status> {
        read::list_deployment_targets(&self.ctx.pools, request.into_inner())
            .await
            .map(Response::new)
    }

    type WatchDeploymentStream = ReceiverStream<Result<WatchDeploymentResponse, Status>>;

    async fn watch_deployment(
        &self,
        request: Request<WatchDeploymentRequest>,
    ) -> Result<Response<Self::WatchDeploymentStream>, Status> {
        watch::watch(
            self.ctx.pools.clone(),
            self.ctx.events.clone(),
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }
}
