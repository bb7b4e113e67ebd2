//! Resource names shaped like CodeDeploy's ARNs: `arn:PARTITION:codedeploy:REGION:ACCOUNT:…`
//! with `application:NAME`, `deploymentgroup:APP/GROUP`, `deploymentconfig:NAME` and, for
//! on-premises instances, `instance/NAME`. Partition, region and account come from config.

use serde::{Deserialize, Serialize};

use ferry_runtime::error::{ApiError, Exception};

/// The ARN prefix settings of this ferry installation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArnConfig {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl Default for ArnConfig {
    fn default() -> Self {
        Self {
            partition: "ferry".into(),
            region: "local".into(),
            account: "000000000000".into(),
        }
    }
}

/// A resource that TagResource, UntagResource and ListTagsForResource accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Application(String),
    DeploymentGroup { application: String, group: String },
    DeploymentConfig(String),
}

impl ArnConfig {
    fn prefix(&self) -> String {
        format!(
            "arn:{}:codedeploy:{}:{}:",
            self.partition, self.region, self.account
        )
    }

    pub fn application(&self, name: &str) -> String {
        format!("{}application:{name}", self.prefix())
    }

    pub fn deployment_group(&self, application: &str, group: &str) -> String {
        format!("{}deploymentgroup:{application}/{group}", self.prefix())
    }

    pub fn deployment_config(&self, name: &str) -> String {
        format!("{}deploymentconfig:{name}", self.prefix())
    }

    pub fn instance(&self, name: &str) -> String {
        format!("{}instance/{name}", self.prefix())
    }

    /// Parses a resource ARN of this installation.
    pub fn parse(&self, arn: &str) -> Result<Resource, ApiError> {
        if arn.is_empty() {
            return Err(ApiError::new(
                Exception::ResourceArnRequired,
                "a resource ARN is required",
            ));
        }
        let invalid = |why: &str| {
            ApiError::new(
                Exception::InvalidArn,
                format!("{arn:?} is not a valid ARN: {why}"),
            )
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [scheme, partition, service, region, account, resource] = parts[..] else {
            return Err(invalid(
                "expected arn:PARTITION:codedeploy:REGION:ACCOUNT:RESOURCE",
            ));
        };
        if scheme != "arn" || service != "codedeploy" {
            return Err(invalid(
                "expected arn:PARTITION:codedeploy:REGION:ACCOUNT:RESOURCE",
            ));
        }
        if partition != self.partition || region != self.region || account != self.account {
            return Err(invalid(&format!(
                "this installation's resources are under {}",
                self.prefix().trim_end_matches(':')
            )));
        }
        let (kind, name) = resource.split_once(':').ok_or_else(|| {
            ApiError::new(
                Exception::ArnNotSupported,
                format!("{arn:?}: tags are not supported on this resource"),
            )
        })?;
        let resource = match kind {
            "application" => Resource::Application(name.to_owned()),
            "deploymentconfig" => Resource::DeploymentConfig(name.to_owned()),
            "deploymentgroup" => {
                let (application, group) = name
                    .split_once('/')
                    .ok_or_else(|| invalid("a deployment group ARN ends in APPLICATION/GROUP"))?;
                Resource::DeploymentGroup {
                    application: application.to_owned(),
                    group: group.to_owned(),
                }
            }
            other => {
                return Err(ApiError::new(
                    Exception::ArnNotSupported,
                    format!("{arn:?}: tags are not supported on {other:?} resources"),
                ));
            }
        };
        Ok(resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_each_kind() {
        let arns = ArnConfig::default();
        assert_eq!(
            arns.application("web"),
            "arn:ferry:codedeploy:local:000000000000:application:web"
        );
        assert_eq!(
            arns.parse(&arns.application("web")).unwrap(),
            Resource::Application("web".into())
        );
        assert_eq!(
            arns.parse(&arns.deployment_group("web", "prod")).unwrap(),
            Resource::DeploymentGroup {
                application: "web".into(),
                group: "prod".into()
            }
        );
        assert_eq!(
            arns.parse(&arns.deployment_config("Fast")).unwrap(),
            Resource::DeploymentConfig("Fast".into())
        );
    }

    #[test]
    fn rejects_with_codedeploy_reasons() {
        let arns = ArnConfig::default();
        let reason = |arn: &str| {
            arns.parse(arn)
                .unwrap_err()
                .exception()
                .map(Exception::name)
        };
        assert_eq!(reason(""), Some("ResourceArnRequiredException"));
        assert_eq!(reason("not-an-arn"), Some("InvalidArnException"));
        assert_eq!(
            reason("arn:aws:s3:::bucket/key:x"),
            Some("InvalidArnException")
        );
        assert_eq!(
            reason("arn:ferry:codedeploy:other:000000000000:application:web"),
            Some("InvalidArnException")
        );
        assert_eq!(
            reason(&arns.instance("host-1")),
            Some("ArnNotSupportedException")
        );
        assert_eq!(
            reason("arn:ferry:codedeploy:local:000000000000:deploymentgroup:web"),
            Some("InvalidArnException")
        );
    }
}
