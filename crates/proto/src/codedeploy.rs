//! The one place where every ferry enum meets CodeDeploy's string value, one-to-one. The CLI's
//! output and the future AWS JSON gateway use this table; nothing else spells these strings.

use crate::common::v1 as common;
use crate::deploy::v1 as deploy;
use crate::registry::v1 as registry;
use crate::revision::v1 as revision;

/// An enum with a CodeDeploy string value for every variant but `Unspecified`.
pub trait CodeDeployName: Sized + Copy {
    /// CodeDeploy's value, or `None` for `Unspecified`.
    fn codedeploy_name(self) -> Option<&'static str>;
    /// The variant for CodeDeploy's value, or `None` when the value is not one of CodeDeploy's.
    fn from_codedeploy_name(name: &str) -> Option<Self>;
    /// Every variant but `Unspecified`, in declaration order.
    fn all() -> &'static [Self];
}

macro_rules! codedeploy_names {
    ($($enum:ty { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
        impl CodeDeployName for $enum {
            fn codedeploy_name(self) -> Option<&'static str> {
                match self {
                    Self::Unspecified => None,
                    $(Self::$variant => Some($name),)+
                }
            }
            fn from_codedeploy_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$variant),)+
                    _ => None,
                }
            }
            fn all() -> &'static [Self] {
                &[$(Self::$variant),+]
            }
        }
    )+};
}

codedeploy_names! {
    common::ComputePlatform { Server => "Server", Lambda => "Lambda", Ecs => "ECS" }
    common::TagFilterType {
        KeyOnly => "KEY_ONLY", ValueOnly => "VALUE_ONLY", KeyAndValue => "KEY_AND_VALUE",
    }
    common::DeploymentStatus {
        Created => "Created", Queued => "Queued", InProgress => "InProgress", Baking => "Baking",
        Succeeded => "Succeeded", Failed => "Failed", Stopped => "Stopped", Ready => "Ready",
    }
    common::RevisionLocationType {
        S3 => "S3", GitHub => "GitHub", String => "String", AppSpecContent => "AppSpecContent",
        Bitbucket => "Bitbucket", Git => "Git", Uploaded => "Uploaded",
    }
    common::BundleType { Tar => "tar", Tgz => "tgz", Zip => "zip", Yaml => "YAML", Json => "JSON" }
    common::FileExistsBehavior { Disallow => "DISALLOW", Overwrite => "OVERWRITE", Retain => "RETAIN" }
    common::LifecycleEventStatus {
        Pending => "Pending", InProgress => "InProgress", Succeeded => "Succeeded",
        Failed => "Failed", Skipped => "Skipped", Unknown => "Unknown",
    }
    common::LifecycleErrorCode {
        Success => "Success", ScriptMissing => "ScriptMissing",
        ScriptNotExecutable => "ScriptNotExecutable", ScriptTimedOut => "ScriptTimedOut",
        ScriptFailed => "ScriptFailed", UnknownError => "UnknownError",
    }
    registry::MinimumHealthyHostsType {
        HostCount => "HOST_COUNT", FleetPercent => "FLEET_PERCENT",
        MostConcurrency => "MOST_CONCURRENCY",
    }
    registry::MinimumHealthyHostsPerZoneType {
        HostCount => "HOST_COUNT", FleetPercent => "FLEET_PERCENT",
    }
    registry::TrafficRoutingType {
        TimeBasedCanary => "TimeBasedCanary", TimeBasedLinear => "TimeBasedLinear",
        AllAtOnce => "AllAtOnce",
    }
    registry::TriggerEventType {
        DeploymentStart => "DeploymentStart", DeploymentSuccess => "DeploymentSuccess",
        DeploymentFailure => "DeploymentFailure", DeploymentStop => "DeploymentStop",
        DeploymentRollback => "DeploymentRollback", DeploymentReady => "DeploymentReady",
        InstanceStart => "InstanceStart", InstanceSuccess => "InstanceSuccess",
        InstanceFailure => "InstanceFailure", InstanceReady => "InstanceReady",
    }
    registry::AutoRollbackEvent {
        DeploymentFailure => "DEPLOYMENT_FAILURE",
        DeploymentStopOnAlarm => "DEPLOYMENT_STOP_ON_ALARM",
        DeploymentStopOnRequest => "DEPLOYMENT_STOP_ON_REQUEST",
    }
    registry::DeploymentType { InPlace => "IN_PLACE", BlueGreen => "BLUE_GREEN" }
    registry::DeploymentOption {
        WithTrafficControl => "WITH_TRAFFIC_CONTROL",
        WithoutTrafficControl => "WITHOUT_TRAFFIC_CONTROL",
    }
    registry::InstanceAction { Terminate => "TERMINATE", KeepAlive => "KEEP_ALIVE" }
    registry::DeploymentReadyAction {
        ContinueDeployment => "CONTINUE_DEPLOYMENT", StopDeployment => "STOP_DEPLOYMENT",
    }
    registry::GreenFleetProvisioningAction {
        DiscoverExisting => "DISCOVER_EXISTING", CopyAutoScalingGroup => "COPY_AUTO_SCALING_GROUP",
    }
    registry::OutdatedInstancesStrategy { Update => "UPDATE", Ignore => "IGNORE" }
    registry::RegistrationStatus { Registered => "Registered", Deregistered => "Deregistered" }
    revision::ApplicationRevisionSortBy {
        RegisterTime => "registerTime", FirstUsedTime => "firstUsedTime", LastUsedTime => "lastUsedTime",
    }
    revision::SortOrder { Ascending => "ascending", Descending => "descending" }
    revision::ListStateFilterAction { Include => "include", Exclude => "exclude", Ignore => "ignore" }
    deploy::ErrorCode {
        AgentIssue => "AGENT_ISSUE", AlarmActive => "ALARM_ACTIVE", ApplicationMissing => "APPLICATION_MISSING", AutoscalingValidationError => "AUTOSCALING_VALIDATION_ERROR", AutoScalingConfiguration => "AUTO_SCALING_CONFIGURATION", AutoScalingIamRolePermissions => "AUTO_SCALING_IAM_ROLE_PERMISSIONS", CodedeployResourceCannotBeFound => "CODEDEPLOY_RESOURCE_CANNOT_BE_FOUND", CustomerApplicationUnhealthy => "CUSTOMER_APPLICATION_UNHEALTHY", DeploymentGroupMissing => "DEPLOYMENT_GROUP_MISSING", EcsUpdateError => "ECS_UPDATE_ERROR", ElasticLoadBalancingInvalid => "ELASTIC_LOAD_BALANCING_INVALID", ElbInvalidInstance => "ELB_INVALID_INSTANCE", HealthConstraints => "HEALTH_CONSTRAINTS", HealthConstraintsInvalid => "HEALTH_CONSTRAINTS_INVALID", HookExecutionFailure => "HOOK_EXECUTION_FAILURE", IamRoleMissing => "IAM_ROLE_MISSING", IamRolePermissions => "IAM_ROLE_PERMISSIONS", InternalError => "INTERNAL_ERROR", InvalidEcsService => "INVALID_ECS_SERVICE", InvalidLambdaConfiguration => "INVALID_LAMBDA_CONFIGURATION", InvalidLambdaFunction => "INVALID_LAMBDA_FUNCTION", InvalidRevision => "INVALID_REVISION", ManualStop => "MANUAL_STOP", MissingBlueGreenDeploymentConfiguration => "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION", MissingElbInformation => "MISSING_ELB_INFORMATION", MissingGithubToken => "MISSING_GITHUB_TOKEN", NoEc2Subscription => "NO_EC2_SUBSCRIPTION", NoInstances => "NO_INSTANCES", OverMaxInstances => "OVER_MAX_INSTANCES", ResourceLimitExceeded => "RESOURCE_LIMIT_EXCEEDED", RevisionMissing => "REVISION_MISSING", Throttled => "THROTTLED", Timeout => "TIMEOUT", CloudformationStackFailure => "CLOUDFORMATION_STACK_FAILURE",
    }
    deploy::DeploymentCreator {
        User => "user", Autoscaling => "autoscaling", CodeDeployRollback => "codeDeployRollback", CodeDeploy => "CodeDeploy", CodeDeployAutoUpdate => "CodeDeployAutoUpdate", CloudFormation => "CloudFormation", CloudFormationRollback => "CloudFormationRollback", AutoscalingTermination => "autoscalingTermination",
    }
    deploy::StopStatus {
        Pending => "Pending", Succeeded => "Succeeded",
    }
    deploy::DeploymentWaitType {
        ReadyWait => "READY_WAIT", TerminationWait => "TERMINATION_WAIT",
    }
    deploy::TargetStatus {
        Pending => "Pending", InProgress => "InProgress", Succeeded => "Succeeded", Failed => "Failed", Skipped => "Skipped", Unknown => "Unknown", Ready => "Ready",
    }
    deploy::TargetLabel {
        Blue => "Blue", Green => "Green",
    }
    deploy::DeploymentTargetType {
        InstanceTarget => "InstanceTarget", LambdaTarget => "LambdaTarget", EcsTarget => "ECSTarget", CloudFormationTarget => "CloudFormationTarget",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<E: CodeDeployName + PartialEq + std::fmt::Debug + 'static>() {
        for &variant in E::all() {
            let name = variant
                .codedeploy_name()
                .expect("every listed variant has a name");
            assert_eq!(E::from_codedeploy_name(name), Some(variant), "{name}");
        }
        assert_eq!(E::from_codedeploy_name("NotAValue"), None);
    }

    #[test]
    fn every_enum_round_trips_through_its_codedeploy_name() {
        round_trips::<deploy::ErrorCode>();
        round_trips::<deploy::DeploymentCreator>();
        round_trips::<deploy::StopStatus>();
        round_trips::<deploy::DeploymentWaitType>();
        round_trips::<deploy::TargetStatus>();
        round_trips::<deploy::TargetLabel>();
        round_trips::<deploy::DeploymentTargetType>();
        round_trips::<common::ComputePlatform>();
        round_trips::<common::TagFilterType>();
        round_trips::<common::DeploymentStatus>();
        round_trips::<common::RevisionLocationType>();
        round_trips::<common::BundleType>();
        round_trips::<common::FileExistsBehavior>();
        round_trips::<common::LifecycleEventStatus>();
        round_trips::<common::LifecycleErrorCode>();
        round_trips::<registry::MinimumHealthyHostsType>();
        round_trips::<registry::MinimumHealthyHostsPerZoneType>();
        round_trips::<registry::TrafficRoutingType>();
        round_trips::<registry::TriggerEventType>();
        round_trips::<registry::AutoRollbackEvent>();
        round_trips::<registry::DeploymentType>();
        round_trips::<registry::DeploymentOption>();
        round_trips::<registry::InstanceAction>();
        round_trips::<registry::DeploymentReadyAction>();
        round_trips::<registry::GreenFleetProvisioningAction>();
        round_trips::<registry::OutdatedInstancesStrategy>();
        round_trips::<registry::RegistrationStatus>();
        round_trips::<revision::ApplicationRevisionSortBy>();
        round_trips::<revision::SortOrder>();
        round_trips::<revision::ListStateFilterAction>();
    }

    #[test]
    fn unspecified_has_no_codedeploy_name() {
        assert_eq!(common::ComputePlatform::Unspecified.codedeploy_name(), None);
    }
}
