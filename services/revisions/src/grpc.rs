//! The tonic adapter: every RPC hands its request to [`Revisions`] and turns an [`ApiError`]
//! into a `tonic::Status` through the one table in ferry-runtime. Nothing else lives here.
//!
//! [`ApiError`]: ferry_runtime::error::ApiError

use ferry_proto::revision::v1::revision_service_server::RevisionService;
use ferry_proto::revision::v1::*;
use futures::stream::{BoxStream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::Revisions;

/// The gRPC face of the revisions service.
#[derive(Clone)]
pub struct RevisionsApi {
    revisions: Revisions,
}

impl RevisionsApi {
    pub fn new(revisions: Revisions) -> Self {
        Self { revisions }
    }
}

macro_rules! delegate {
    ($($method:ident($request:ty) -> $response:ty;)+ { $($streaming:tt)* }) => {
        #[tonic::async_trait]
        impl RevisionService for RevisionsApi {
            $(
                async fn $method(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                    Ok(Response::new(self.revisions.$method(request.into_inner()).await?))
                }
            )+
            $($streaming)*
        }
    };
}

delegate! {
    register_application_revision(RegisterApplicationRevisionRequest) -> RegisterApplicationRevisionResponse;
    get_application_revision(GetApplicationRevisionRequest) -> GetApplicationRevisionResponse;
    batch_get_application_revisions(BatchGetApplicationRevisionsRequest) -> BatchGetApplicationRevisionsResponse;
    list_application_revisions(ListApplicationRevisionsRequest) -> ListApplicationRevisionsResponse;
    resolve_revision(ResolveRevisionRequest) -> ResolveRevisionResponse;
    validate_app_spec(ValidateAppSpecRequest) -> ValidateAppSpecResponse;
    {
        async fn upload_bundle(
            &self,
            request: Request<Streaming<UploadBundleRequest>>,
        ) -> Result<Response<UploadBundleResponse>, Status> {
            let stream = request.into_inner().boxed();
            Ok(Response::new(self.revisions.upload_bundle(stream).await?))
        }

        type DownloadBundleStream = BoxStream<'static, Result<DownloadBundleResponse, Status>>;

        async fn download_bundle(
            &self,
            request: Request<DownloadBundleRequest>,
        ) -> Result<Response<Self::DownloadBundleStream>, Status> {
            let stream = self.revisions.download_bundle(request.into_inner()).await?;
            Ok(Response::new(stream.map(|item| item.map_err(Status::from)).boxed()))
        }
    }
}
