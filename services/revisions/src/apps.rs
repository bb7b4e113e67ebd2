//! Whether an application exists, as the registry says: revisions belong to applications the
//! registry owns. The registry's own exceptions (ApplicationDoesNotExistException,
//! InvalidApplicationNameException, …) reach the caller unchanged.

use ferry_proto::registry::v1::GetApplicationRequest;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_runtime::error::{ApiError, Exception, error_exception};
use ferry_runtime::telemetry::{TraceContextInterceptor, TracedChannel, endpoint};
use tonic::service::interceptor::InterceptedService;

/// Longest application name (CodeDeploy's rule; the registry checks the characters).
pub const MAX_NAME_LEN: usize = 100;

/// A client of the registry, connected on first use (so the services may start in any order).
#[derive(Clone, Debug)]
pub struct Applications {
    client: RegistryServiceClient<TracedChannel>,
}

impl Applications {
    pub fn new(registry_endpoint: &str) -> anyhow::Result<Self> {
        let channel = endpoint(registry_endpoint)?.connect_lazy();
        Ok(Self {
            client: RegistryServiceClient::new(InterceptedService::new(
                channel,
                TraceContextInterceptor,
            )),
        })
    }

    /// Ok when the application exists.
    pub async fn check(&self, name: &str) -> Result<(), ApiError> {
        check_name(name)?;
        let request = GetApplicationRequest {
            application_name: name.to_owned(),
        };
        match self.client.clone().get_application(request).await {
            Ok(_) => Ok(()),
            Err(status) => match error_exception(&status) {
                Some(exception) => Err(ApiError::new(exception, status.message())),
                None => Err(ApiError::internal(format!(
                    "asking the registry for application {name:?}: {status}"
                ))),
            },
        }
    }
}

/// An application name is required and at most 100 characters; the registry checks the rest.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::new(
            Exception::ApplicationNameRequired,
            "the application name is required",
        ));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::new(
            Exception::InvalidApplicationName,
            format!("the application name is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(())
}
