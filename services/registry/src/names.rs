//! CodeDeploy's rules for names and batch sizes, checked once at the edge.

use ferry_runtime::error::{ApiError, Exception};

/// Longest application, deployment group, deployment configuration or instance name.
pub const MAX_NAME_LEN: usize = 100;
/// Most names one Batch* call may ask for.
pub const MAX_BATCH: usize = 100;

/// What a name names, with the exceptions CodeDeploy raises for it when missing or malformed.
#[derive(Clone, Copy, Debug)]
pub enum NameKind {
    Application,
    DeploymentGroup,
    DeploymentConfig,
    Instance,
}

impl NameKind {
    fn label(self) -> &'static str {
        match self {
            Self::Application => "application name",
            Self::DeploymentGroup => "deployment group name",
            Self::DeploymentConfig => "deployment configuration name",
            Self::Instance => "instance name",
        }
    }

    fn required(self) -> Exception {
        match self {
            Self::Application => Exception::ApplicationNameRequired,
            Self::DeploymentGroup => Exception::DeploymentGroupNameRequired,
            Self::DeploymentConfig => Exception::DeploymentConfigNameRequired,
            Self::Instance => Exception::InstanceNameRequired,
        }
    }

    fn invalid(self) -> Exception {
        match self {
            Self::Application => Exception::InvalidApplicationName,
            Self::DeploymentGroup => Exception::InvalidDeploymentGroupName,
            Self::DeploymentConfig => Exception::InvalidDeploymentConfigName,
            Self::Instance => Exception::InvalidInstanceName,
        }
    }
}

/// True for the characters CodeDeploy allows in a name: letters, digits and `._+=,@-`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._+=,@-".contains(c)
}

/// Checks a name: present, 1–100 characters, only `[A-Za-z0-9._+=,@-]`.
pub fn check(kind: NameKind, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::new(
            kind.required(),
            format!("the {} is required", kind.label()),
        ));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::new(
            kind.invalid(),
            format!(
                "the {} is longer than {MAX_NAME_LEN} characters",
                kind.label()
            ),
        ));
    }
    if let Some(bad) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(ApiError::new(
            kind.invalid(),
            format!(
                "the {} {name:?} contains {bad:?}; use letters, digits and ._+=,@- only",
                kind.label()
            ),
        ));
    }
    Ok(())
}

/// Checks every name of a Batch* call: at least one, at most 100, each valid.
pub fn check_batch(kind: NameKind, names: &[String]) -> Result<(), ApiError> {
    if names.is_empty() {
        return Err(ApiError::new(
            kind.required(),
            format!("at least one {} is required", kind.label()),
        ));
    }
    if names.len() > MAX_BATCH {
        return Err(ApiError::new(
            Exception::BatchLimitExceeded,
            format!(
                "{} names given; a batch call takes at most {MAX_BATCH}",
                names.len()
            ),
        ));
    }
    names.iter().try_for_each(|name| check(kind, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<(), ApiError>) -> Option<&'static str> {
        result
            .err()
            .and_then(|e| e.exception())
            .map(Exception::name)
    }

    #[test]
    fn accepts_every_allowed_character() {
        assert!(check(NameKind::Application, "a-Z_0.9+=,@").is_ok());
        assert!(check(NameKind::Application, &"x".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn rejects_missing_long_and_odd_names_with_codedeploy_reasons() {
        assert_eq!(
            reason(check(NameKind::Application, "")),
            Some("ApplicationNameRequiredException")
        );
        assert_eq!(
            reason(check(
                NameKind::DeploymentGroup,
                &"x".repeat(MAX_NAME_LEN + 1)
            )),
            Some("InvalidDeploymentGroupNameException")
        );
        assert_eq!(
            reason(check(NameKind::Instance, "a b")),
            Some("InvalidInstanceNameException")
        );
        assert_eq!(
            reason(check(NameKind::DeploymentConfig, "a/b")),
            Some("InvalidDeploymentConfigNameException")
        );
    }

    #[test]
    fn batch_limits() {
        let many: Vec<String> = (0..=MAX_BATCH).map(|i| format!("n{i}")).collect();
        assert_eq!(
            reason(check_batch(NameKind::Application, &many)),
            Some("BatchLimitExceededException")
        );
        assert_eq!(
            reason(check_batch(NameKind::Application, &[])),
            Some("ApplicationNameRequiredException")
        );
        assert!(check_batch(NameKind::Application, &many[..MAX_BATCH]).is_ok());
    }
}
