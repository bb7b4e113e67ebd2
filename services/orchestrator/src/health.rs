//! CodeDeploy's minimum-healthy-hosts rules for in-place deployments to Server targets, as pure
//! arithmetic: how many targets a deployment may work on at once, and the moment its outcome
//! is decided. No I/O and no clock; the scheduler keeps a [`Progress`] tally per deployment and
//! asks its [`Plan`] after every change.
//!
//! The rules, and the CodeDeploy documentation each comes from (titles of the AWS pages; the
//! crate README repeats them with the places ferry deliberately differs):
//!
//! - *CodeDeploy instance health* (User Guide), "Minimum healthy instances and deployments": a
//!   percentage becomes a number of instances at the start of the deployment, rounding
//!   fractions up; a deployment must never take the number of healthy instances below the
//!   minimum, so it deploys to as many at once as it can without that risk; if the number of
//!   healthy instances falls to the minimum while instances remain to be deployed to, the
//!   deployment stops (fails); if the minimum is not below the number of instances, the
//!   deployment fails at once without deploying anything; and at least one instance must
//!   succeed even when the minimum is 0.
//! - *MinimumHealthyHosts* (API Reference): HOST_COUNT and FLEET_PERCENT, with the nine-instance
//!   examples; MOST_CONCURRENCY 1 is what `CodeDeployDefault.OneAtATime` reports — one instance
//!   at a time, all but one kept healthy, so a failure of the last instance still succeeds.
//! - *Working with deployment configurations in CodeDeploy* (User Guide), "Predefined deployment
//!   configurations for an EC2/on-premises compute platform", and the `deploymentConfigName`
//!   documentation of *CreateDeploymentGroup* (API Reference): the success rules of AllAtOnce,
//!   HalfAtATime and OneAtATime.
//! - *ErrorInformation* (API Reference) and *Error codes for CodeDeploy* (User Guide):
//!   `HEALTH_CONSTRAINTS` and `HEALTH_CONSTRAINTS_INVALID` and their messages.
//!
//! "Healthy" here is per deployment: a target is healthy unless its deployment failed or is in
//! progress (taken offline). Pending, succeeded and skipped targets are healthy. Every target
//! starts the deployment healthy; see the README for how that differs from CodeDeploy's
//! cross-deployment instance health.

use thiserror::Error;

/// `ErrorInformation.code` of a deployment that failed on too many targets to go on within its
/// minimum healthy hosts.
pub const HEALTH_CONSTRAINTS: &str = "HEALTH_CONSTRAINTS";
/// `ErrorInformation.code` of a deployment whose minimum healthy hosts leaves no target that
/// could be deployed to.
pub const HEALTH_CONSTRAINTS_INVALID: &str = "HEALTH_CONSTRAINTS_INVALID";
/// `ErrorInformation.code` of a deployment with no targets.
pub const NO_INSTANCES: &str = "NO_INSTANCES";

/// The message CodeDeploy gives with `HEALTH_CONSTRAINTS` ("Error codes for CodeDeploy"; the
/// service returns this sentence in `errorInformation.message`).
pub const HEALTH_CONSTRAINTS_MESSAGE: &str = "The overall deployment failed because too many \
    individual instances failed deployment, too few healthy instances are available for \
    deployment, or some instances in your deployment group are experiencing problems.";

/// The description "Error codes for CodeDeploy" gives `HEALTH_CONSTRAINTS_INVALID`.
pub const HEALTH_CONSTRAINTS_INVALID_MESSAGE: &str = "The deployment can't start because the \
    minimum number of healthy instances, as defined by your deployment configuration, are not \
    available. You can reduce the required number of healthy instances by updating your \
    deployment configuration or increase the number of instances in this deployment group.";

/// A deployment configuration's minimum healthy hosts, as the registry stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MinimumHealthy {
    /// `HOST_COUNT`: at least this many targets stay healthy ("the minimum number of healthy
    /// instances as an absolute value", MinimumHealthyHosts).
    HostCount(u32),
    /// `FLEET_PERCENT`: at least this percentage of the targets stays healthy, converted to a
    /// number of targets at the start of the deployment with fractions rounded up (CodeDeploy
    /// instance health). The registry accepts 0-99; 100 or more is refused here as
    /// `HEALTH_CONSTRAINTS_INVALID`.
    FleetPercent(u32),
    /// `MOST_CONCURRENCY`: deploy to at most this many targets at once and keep all the others
    /// healthy. CodeDeploy reports it only for `CodeDeployDefault.OneAtATime`, with 1, and it
    /// cannot be set through the API (MinimumHealthyHosts); other values are a ferry extension
    /// with the same meaning.
    MostConcurrency(u32),
}

impl MinimumHealthy {
    /// `CodeDeployDefault.OneAtATime`: MOST_CONCURRENCY 1.
    pub const ONE_AT_A_TIME: Self = Self::MostConcurrency(1);
    /// `CodeDeployDefault.HalfAtATime`: FLEET_PERCENT 50.
    pub const HALF_AT_A_TIME: Self = Self::FleetPercent(50);
    /// `CodeDeployDefault.AllAtOnce`: HOST_COUNT 0.
    pub const ALL_AT_ONCE: Self = Self::HostCount(0);
}

/// Why a deployment cannot start under its minimum healthy hosts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HealthError {
    /// The minimum is not below the number of targets, so not even one target could be taken
    /// offline: CodeDeploy fails such a deployment at its start without deploying to any
    /// instance (CodeDeploy instance health, the "95%" example), with
    /// `HEALTH_CONSTRAINTS_INVALID`.
    #[error("{message}")]
    Invalid {
        /// The `errorInformation.message` to record.
        message: String,
        /// Targets in the deployment.
        total: u32,
        /// The minimum healthy hosts as a number of targets.
        min_healthy: u32,
    },
    /// The deployment has no targets (`NO_INSTANCES`).
    #[error("the deployment has no targets to deploy to")]
    NoInstances,
}

impl HealthError {
    /// The `ErrorInformation.code` to record on the deployment.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => HEALTH_CONSTRAINTS_INVALID,
            Self::NoInstances => NO_INSTANCES,
        }
    }
}

/// The constraint of one deployment, worked out from its target count at its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Targets in the deployment.
    pub total: u32,
    /// Targets that must stay healthy throughout, and that must succeed for the deployment to
    /// succeed.
    pub min_healthy: u32,
    /// Most targets deployed to at once: `total - min_healthy`, at least 1.
    pub max_in_progress: u32,
}

/// A deployment's outcome, as far as the health constraint decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not decided: targets are pending or in progress and success is still possible.
    Running,
    /// Every target has finished and enough of them succeeded.
    Succeeded,
    /// The deployment has failed; start no more targets and mark the pending ones Skipped.
    Failed {
        /// The `ErrorInformation.code`: [`HEALTH_CONSTRAINTS`].
        code: &'static str,
        /// The `ErrorInformation.message`.
        message: &'static str,
    },
}

/// The running tally the scheduler keeps per deployment: how many of its targets are in each
/// state. The counts add up to the deployment's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Targets whose deployment succeeded.
    pub succeeded: u32,
    /// Targets whose deployment failed.
    pub failed: u32,
    /// Targets being deployed to now.
    pub in_progress: u32,
    /// Targets not started yet.
    pub pending: u32,
    /// Targets that will not be deployed to (the deployment failed before reaching them).
    pub skipped: u32,
}

impl Progress {
    /// A deployment of `total` targets, none started.
    pub fn new(total: u32) -> Self {
        Self {
            pending: total,
            ..Self::default()
        }
    }

    /// The number of targets counted.
    pub fn total(&self) -> u32 {
        self.succeeded
            .saturating_add(self.failed)
            .saturating_add(self.in_progress)
            .saturating_add(self.pending)
            .saturating_add(self.skipped)
    }

    /// Targets healthy now: all but the failed ones and the ones taken offline to deploy to.
    pub fn healthy(&self) -> u32 {
        self.total()
            .saturating_sub(self.failed)
            .saturating_sub(self.in_progress)
    }
}

/// Works out the constraint for a deployment of `total` targets.
///
/// - HOST_COUNT n: at least n healthy, so at most `total - n` at once (MinimumHealthyHosts: 6 of
///   9 deploys to up to three at a time).
/// - FLEET_PERCENT p: `ceil(total * p / 100)` healthy (CodeDeploy instance health: "rounding up
///   any fractional instances"); HalfAtATime on 9 needs 5 and deploys to 4 at a time.
/// - MOST_CONCURRENCY n: at most n at once and all the others healthy, so `total - n` healthy;
///   OneAtATime on 9 needs 8 ("all instances but one are kept in a healthy state").
///
/// A minimum that is not below `total` (HOST_COUNT ≥ total, FLEET_PERCENT that rounds up to
/// total, MOST_CONCURRENCY 0) leaves nothing to deploy to: [`HealthError::Invalid`]
/// (`HEALTH_CONSTRAINTS_INVALID`). No targets at all is [`HealthError::NoInstances`].
pub fn plan(total: u32, rule: MinimumHealthy) -> Result<Plan, HealthError> {
    if total == 0 {
        return Err(HealthError::NoInstances);
    }
    let min_healthy = match rule {
        MinimumHealthy::HostCount(n) => n,
        MinimumHealthy::FleetPercent(p) => percent_rounded_up(total, p),
        MinimumHealthy::MostConcurrency(n) => total.saturating_sub(n),
    };
    // CodeDeploy instance health: "Make sure the minimum number of healthy instances you
    // specify is less than the total number of instances … Otherwise … CodeDeploy will
    // immediately fail the overall deployment." With MOST_CONCURRENCY 0, nothing may run at
    // once, which comes to the same thing.
    let max_in_progress = match rule {
        MinimumHealthy::MostConcurrency(n) => n.min(total),
        _ => total.saturating_sub(min_healthy),
    };
    if max_in_progress == 0 {
        return Err(HealthError::Invalid {
            message: HEALTH_CONSTRAINTS_INVALID_MESSAGE.to_owned(),
            total,
            min_healthy,
        });
    }
    Ok(Plan {
        total,
        min_healthy,
        max_in_progress,
    })
}

/// `ceil(total * percent / 100)`, without overflow.
fn percent_rounded_up(total: u32, percent: u32) -> u32 {
    let scaled = u64::from(total) * u64::from(percent);
    u32::try_from(scaled.div_ceil(100)).unwrap_or(u32::MAX)
}

impl Plan {
    /// Targets that must succeed for the deployment to succeed: the minimum healthy hosts, but
    /// never fewer than one — CodeDeploy instance health: "even if the minimum healthy hosts
    /// value is 0, deployment to at least one instance must succeed".
    pub fn required_successes(&self) -> u32 {
        self.min_healthy.max(1)
    }

    /// How many more targets may start now: as many as are pending, up to
    /// [`max_in_progress`](Self::max_in_progress) at once, and no more than keeps the healthy
    /// targets at or above the minimum once they are taken offline ("a deployment must never
    /// cause the number of healthy instances to fall below the minimum number you have
    /// specified", CodeDeploy instance health). Zero once the verdict is not
    /// [`Verdict::Running`].
    ///
    /// When nothing is in progress and the verdict is Running this is at least 1, so a
    /// deployment never stalls.
    pub fn may_start(&self, progress: &Progress) -> u32 {
        debug_assert_eq!(
            progress.total(),
            self.total,
            "progress counts another deployment"
        );
        if self.verdict(progress) != Verdict::Running {
            return 0;
        }
        let headroom = progress.healthy().saturating_sub(self.min_healthy);
        let slots = self.max_in_progress.saturating_sub(progress.in_progress);
        progress.pending.min(slots).min(headroom)
    }

    /// The outcome, as soon as it is certain.
    ///
    /// - Failed (`HEALTH_CONSTRAINTS`) when targets are pending but no more can ever start:
    ///   even if every target in progress succeeds, taking one more offline would leave fewer
    ///   healthy than the minimum. This is CodeDeploy instance health's "if the number of
    ///   healthy instances falls to the specified minimum number at any point in the deployment
    ///   process, CodeDeploy stops the deployment"; for OneAtATime it is "the overall
    ///   deployment fails as soon as the application revision fails to be deployed to any but
    ///   the last instance" (CreateDeploymentGroup).
    /// - Failed (`HEALTH_CONSTRAINTS`) when fewer than
    ///   [`required_successes`](Self::required_successes) targets can still succeed.
    /// - Succeeded when nothing is pending or in progress and at least `required_successes`
    ///   targets succeeded. A failure of the last target is therefore fine whenever the others
    ///   reach the minimum: OneAtATime's last instance, the "second to fail is the last
    ///   instance" case of CodeDeploy instance health's minimum-8-of-10 example, and AllAtOnce
    ///   succeeding when any one target succeeds.
    /// - Running otherwise.
    ///
    /// With a scheduler that starts only what [`may_start`](Self::may_start) allows, a failure
    /// is always decided with nothing in progress.
    pub fn verdict(&self, progress: &Progress) -> Verdict {
        let failed = Verdict::Failed {
            code: HEALTH_CONSTRAINTS,
            message: HEALTH_CONSTRAINTS_MESSAGE,
        };
        let can_still_succeed = progress
            .succeeded
            .saturating_add(progress.in_progress)
            .saturating_add(progress.pending);
        if can_still_succeed < self.required_successes() {
            return failed;
        }
        // Healthy if every target in progress succeeds; starting another needs one more than
        // the minimum.
        let best_healthy = progress.total().saturating_sub(progress.failed);
        if progress.pending > 0 && best_healthy <= self.min_healthy {
            return failed;
        }
        if progress.pending == 0 && progress.in_progress == 0 {
            return Verdict::Succeeded;
        }
        Verdict::Running
    }
}

#[cfg(test)]
mod tests;
