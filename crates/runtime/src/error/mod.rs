//! The single error → `tonic::Status` table.
//!
//! Services answer with an [`ApiError`]: a CodeDeploy [`Exception`] plus a message (a user's
//! mistake), or [`ApiError::internal`] (ours). Converting it into a [`tonic::Status`] picks
//! the gRPC code from the generated table in [`exceptions`] and attaches a
//! `google.rpc.ErrorInfo` whose `reason` is the CodeDeploy exception name and whose `domain`
//! is `"ferry"`, so clients (and the future AWS JSON gateway) recover the exact exception.

mod exceptions;

use std::collections::BTreeMap;
use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use exceptions::Exception;

/// The `ErrorInfo.domain` of every error ferry raises.
pub const ERROR_DOMAIN: &str = "ferry";

/// The `ErrorInfo.reason` of an internal error (not a CodeDeploy exception).
pub const INTERNAL_REASON: &str = "InternalError";

/// An error a service returns to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `None` means an internal error: the caller did nothing wrong.
    exception: Option<Exception>,
    message: String,
    metadata: BTreeMap<String, String>,
}

impl ApiError {
    /// A CodeDeploy exception with a message for the caller.
    pub fn new(exception: Exception, message: impl Into<String>) -> Self {
        Self {
            exception: Some(exception),
            message: message.into(),
            metadata: BTreeMap::new(),
        }
    }

    /// An internal error. The cause is logged here, with the current span, and never sent to
    /// the caller: it may hold SQL, paths or other details that are ours to know.
    pub fn internal(err: impl fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self {
            exception: None,
            message: "internal error".to_owned(),
            metadata: BTreeMap::new(),
        }
    }

    /// Adds a key to the `ErrorInfo.metadata` (for example the name that was not found).
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The CodeDeploy exception, or `None` for an internal error.
    pub fn exception(&self) -> Option<Exception> {
        self.exception
    }

    /// The message sent to the caller.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `ErrorInfo.metadata` sent to the caller.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The gRPC code the caller sees.
    pub fn code(&self) -> Code {
        self.exception.map_or(Code::Internal, Exception::code)
    }

    /// The `ErrorInfo.reason` the caller sees.
    pub fn reason(&self) -> &'static str {
        self.exception.map_or(INTERNAL_REASON, Exception::name)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        let metadata: std::collections::HashMap<String, String> =
            err.metadata.into_iter().collect();
        let details = ErrorDetails::with_error_info(
            err.exception.map_or(INTERNAL_REASON, Exception::name),
            ERROR_DOMAIN,
            metadata,
        );
        Status::with_error_details(
            err.exception.map_or(Code::Internal, Exception::code),
            err.message,
            details,
        )
    }
}

/// The `ErrorInfo.reason` of a status, when it carries one (for clients and tests).
pub fn error_reason(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// The CodeDeploy exception a status carries, when its reason names one.
pub fn error_exception(status: &Status) -> Option<Exception> {
    error_reason(status).and_then(|reason| Exception::from_name(&reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_code_reason_domain_and_metadata() {
        let err = ApiError::new(
            Exception::ApplicationAlreadyExists,
            "application app exists",
        )
        .with_metadata("application_name", "app");
        let status = Status::from(err);
        assert_eq!(status.code(), Code::AlreadyExists);
        assert_eq!(status.message(), "application app exists");
        let info = status
            .get_details_error_info()
            .expect("error info attached");
        assert_eq!(info.reason, "ApplicationAlreadyExistsException");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(
            info.metadata.get("application_name").map(String::as_str),
            Some("app")
        );
        assert_eq!(
            error_exception(&status),
            Some(Exception::ApplicationAlreadyExists)
        );
    }

    #[test]
    fn reason_survives_the_wire_encoding() {
        // What a client decodes: the status rebuilt from its header form.
        let status = Status::from(ApiError::new(
            Exception::DeploymentDoesNotExist,
            "no such deployment",
        ));
        let response = status.into_http::<()>();
        let decoded = Status::from_header_map(response.headers()).expect("status decodes");
        assert_eq!(decoded.code(), Code::NotFound);
        assert_eq!(
            error_reason(&decoded).as_deref(),
            Some("DeploymentDoesNotExistException")
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status = Status::from(ApiError::internal("connection refused to 10.0.0.1:5432"));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
        assert_eq!(error_reason(&status).as_deref(), Some(INTERNAL_REASON));
        assert_eq!(error_exception(&status), None);
    }

    #[test]
    fn a_status_without_details_has_no_reason() {
        assert_eq!(error_reason(&Status::not_found("x")), None);
    }

    #[test]
    fn every_name_is_a_codedeploy_exception_name_and_round_trips() {
        assert_eq!(Exception::ALL.len(), 113);
        for &e in Exception::ALL {
            assert!(e.name().ends_with("Exception"), "{}", e.name());
            assert_eq!(Exception::from_name(e.name()), Some(e));
        }
        assert_eq!(Exception::Throttling.name(), "ThrottlingException");
        assert_eq!(Exception::from_name("Throttling"), None);
    }

    #[test]
    fn a_users_mistake_is_never_internal() {
        for &e in Exception::ALL {
            assert_ne!(e.code(), Code::Internal, "{}", e.name());
            assert_ne!(e.code(), Code::Unknown, "{}", e.name());
        }
    }

    #[test]
    fn table_spot_checks() {
        use Exception as E;
        let cases = [
            (E::ApplicationDoesNotExist, Code::NotFound),
            (E::InstanceNameAlreadyRegistered, Code::AlreadyExists),
            (E::InvalidApplicationName, Code::InvalidArgument),
            (E::BatchLimitExceeded, Code::InvalidArgument),
            (E::ApplicationLimitExceeded, Code::ResourceExhausted),
            (E::DeploymentLimitExceeded, Code::ResourceExhausted),
            (E::Throttling, Code::ResourceExhausted),
            (E::DeploymentConfigInUse, Code::FailedPrecondition),
            (E::DeploymentAlreadyCompleted, Code::FailedPrecondition),
            (E::OperationNotSupported, Code::Unimplemented),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{}", e.name());
        }
    }
}
