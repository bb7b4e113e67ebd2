//! The lifecycle events of an in-place deployment to the Server platform, in the order
//! CodeDeploy runs them on each instance (User Guide, "AppSpec 'hooks' section", run order for
//! an in-place deployment).

/// Without a load balancer: the seven events CodeDeploy lists for an in-place deployment.
pub const IN_PLACE: &[&str] = &[
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// With traffic control: the instance is taken out of service first and put back last.
pub const IN_PLACE_WITH_TRAFFIC: &[&str] = &[
    "BeforeBlockTraffic",
    "BlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
];

/// The events run for a deployment.
pub fn events(traffic_control: bool) -> &'static [&'static str] {
    if traffic_control {
        IN_PLACE_WITH_TRAFFIC
    } else {
        IN_PLACE
    }
}

/// Events whose failure `ignoreApplicationStopFailures` lets the instance go past: they run
/// the scripts of the revision being replaced, which may be what is broken (CreateDeployment,
/// `ignoreApplicationStopFailures`).
pub fn failure_may_be_ignored(event: &str) -> bool {
    matches!(
        event,
        "ApplicationStop" | "BeforeBlockTraffic" | "AfterBlockTraffic"
    )
}
