//! What a watcher knows of a deployment, rebuilt from its WatchDeployment events, and the text
//! shown for it: lines to log as events arrive, the board a terminal redraws (the deployment,
//! each target's current lifecycle event, a bar and the counts), and the outcome.

use std::collections::BTreeMap;

use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::common::v1::{Diagnostics, LifecycleErrorCode, LifecycleEventStatus};
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{
    DeploymentOverview, ErrorCode, ErrorInformation, TargetStatus, WatchDeploymentResponse,
};

/// Targets shown on a terminal's board; the others are counted.
const BOARD_TARGETS: usize = 20;
/// Width of the progress bar.
const BAR: usize = 20;

/// CodeDeploy's name of an enum value (or the number, for a value this build does not know).
pub fn name<E: CodeDeployName + TryFrom<i32>>(value: i32) -> String {
    E::try_from(value)
        .ok()
        .and_then(CodeDeployName::codedeploy_name)
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// A line produced by an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Hook output: always shown.
    Output(String),
    /// A lifecycle event failed: always shown.
    Failure(String),
    /// A status change: shown line by line, drawn on the board on a terminal.
    Change(String),
}

#[derive(Default)]
struct Target {
    status: i32,
    /// The latest lifecycle event to change, and its status.
    event: Option<(String, i32)>,
}

/// Targets per status.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: i64,
    pub in_progress: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
}

impl Counts {
    fn total(&self) -> i64 {
        self.pending + self.in_progress + self.succeeded + self.failed + self.skipped
    }

    fn done(&self) -> i64 {
        self.succeeded + self.failed + self.skipped
    }
}

pub struct Progress {
    id: String,
    status: i32,
    message: String,
    error: Option<ErrorInformation>,
    overview: Option<DeploymentOverview>,
    targets: BTreeMap<String, Target>,
    failures: Vec<String>,
}

impl Progress {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            status: DeploymentStatus::Unspecified as i32,
            message: String::new(),
            error: None,
            overview: None,
            targets: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// The terminal status (Succeeded, Failed or Stopped) once the deployment has one.
    pub fn ended(&self) -> Option<DeploymentStatus> {
        match DeploymentStatus::try_from(self.status) {
            Ok(
                status @ (DeploymentStatus::Succeeded
                | DeploymentStatus::Failed
                | DeploymentStatus::Stopped),
            ) => Some(status),
            _ => None,
        }
    }

    /// Takes in one event; returns the lines it makes.
    pub fn apply(&mut self, response: &WatchDeploymentResponse) -> Vec<Line> {
        let Some(event) = &response.event else {
            return Vec::new();
        };
        match event {
            Event::DeploymentStatusChanged(changed) => {
                self.status = changed.status;
                if !changed.message.is_empty() {
                    self.message.clone_from(&changed.message);
                }
                if changed.error_information.is_some() {
                    self.error.clone_from(&changed.error_information);
                }
                if changed.overview.is_some() {
                    self.overview = changed.overview;
                }
                if self.ended().is_some() {
                    return Vec::new();
                }
                let mut line = format!("{} {}", self.id, name::<DeploymentStatus>(self.status));
                if !changed.message.is_empty() {
                    line = format!("{line}: {}", changed.message);
                }
                vec![Line::Change(line)]
            }
            Event::TargetStatusChanged(changed) => {
                self.targets
                    .entry(changed.target_id.clone())
                    .or_default()
                    .status = changed.status;
                vec![Line::Change(format!(
                    "{} {}",
                    changed.target_id,
                    name::<TargetStatus>(changed.status)
                ))]
            }
            Event::LifecycleEventChanged(changed) => {
                let target = self.targets.entry(changed.target_id.clone()).or_default();
                target.event = Some((changed.lifecycle_event_name.clone(), changed.status));
                let line = format!(
                    "{} {} {}",
                    changed.target_id,
                    changed.lifecycle_event_name,
                    name::<LifecycleEventStatus>(changed.status)
                );
                if changed.status == LifecycleEventStatus::Failed as i32 {
                    let line = match &changed.diagnostics {
                        Some(diagnostics) => format!("{line}: {}", describe(diagnostics)),
                        None => line,
                    };
                    self.failures.push(line.clone());
                    vec![Line::Failure(line)]
                } else {
                    vec![Line::Change(line)]
                }
            }
            Event::HookOutput(output) => {
                let prefix = format!("[{} {}]", output.target_id, output.lifecycle_event_name);
                let mut lines = Vec::with_capacity(output.lines.len() + 1);
                if output.dropped > 0 {
                    lines.push(Line::Output(format!(
                        "{prefix} ({} lines left out here; they are in the host's log)",
                        output.dropped
                    )));
                }
                lines.extend(
                    output
                        .lines
                        .iter()
                        .map(|l| Line::Output(format!("{prefix} {}", l.text))),
                );
                lines
            }
        }
    }

    /// Targets per status: from the targets' own changes, or the overview before any; the
    /// targets the overview counts but not yet announced are pending.
    pub fn counts(&self) -> Counts {
        let overview = self.overview.unwrap_or_default();
        if self.targets.is_empty() {
            return Counts {
                pending: overview.pending,
                in_progress: overview.in_progress,
                succeeded: overview.succeeded,
                failed: overview.failed,
                skipped: overview.skipped,
            };
        }
        let announced = i64::try_from(self.targets.len()).unwrap_or(i64::MAX);
        let overview_total = overview.pending
            + overview.in_progress
            + overview.succeeded
            + overview.failed
            + overview.skipped;
        let mut counts = Counts {
            pending: (overview_total - announced).max(0),
            ..Counts::default()
        };
        for target in self.targets.values() {
            match TargetStatus::try_from(target.status) {
                Ok(TargetStatus::InProgress) => counts.in_progress += 1,
                Ok(TargetStatus::Succeeded) => counts.succeeded += 1,
                Ok(TargetStatus::Failed) => counts.failed += 1,
                Ok(TargetStatus::Skipped) => counts.skipped += 1,
                _ => counts.pending += 1,
            }
        }
        counts
    }

    /// `[#####---------------] 1/4  pending 2, in progress 1, succeeded 1, failed 0, skipped 0`
    pub fn progress_line(&self) -> String {
        format!("{}  {}", self.bar(), tally(&self.counts()))
    }

    /// `[#####---------------] 1/4`: targets done of all.
    fn bar(&self) -> String {
        let counts = self.counts();
        let total = counts.total();
        let filled = if total == 0 {
            0
        } else {
            usize::try_from(counts.done() * BAR as i64 / total).unwrap_or(BAR)
        };
        format!(
            "[{}{}] {}/{}",
            "#".repeat(filled),
            "-".repeat(BAR.saturating_sub(filled)),
            counts.done(),
            total
        )
    }

    /// What a terminal shows below the log, redrawn on every change.
    pub fn board(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{} {}  {}",
            self.id,
            name::<DeploymentStatus>(self.status),
            self.bar()
        )];
        let shown: Vec<(&String, &Target)> = if self.targets.len() <= BOARD_TARGETS {
            self.targets.iter().collect()
        } else {
            let busy = |t: &Target| {
                t.status == TargetStatus::InProgress as i32
                    || t.status == TargetStatus::Failed as i32
            };
            self.targets
                .iter()
                .filter(|(_, t)| busy(t))
                .take(BOARD_TARGETS)
                .collect()
        };
        let width = shown.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
        for (id, target) in &shown {
            let event = target
                .event
                .as_ref()
                .map_or_else(String::new, |(event, status)| {
                    format!("{event} {}", name::<LifecycleEventStatus>(*status))
                });
            lines.push(format!(
                "  {id:width$}  {:10}  {event}",
                name::<TargetStatus>(target.status)
            ));
        }
        if shown.len() < self.targets.len() {
            lines.push(format!("  … and {} more", self.targets.len() - shown.len()));
        }
        lines.push(format!("  {}", tally(&self.counts())));
        lines
    }

    /// The end: status and counts, the error, and each failed lifecycle event.
    pub fn outcome(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "Deployment {} {}: {}",
            self.id,
            name::<DeploymentStatus>(self.status),
            tally(&self.counts())
        )];
        match &self.error {
            Some(error)
                if error.code != ErrorCode::Unspecified as i32 || !error.message.is_empty() =>
            {
                lines.push(format!(
                    "Error {}: {}",
                    name::<ErrorCode>(error.code),
                    error.message
                ));
            }
            _ if !self.message.is_empty() && self.ended() != Some(DeploymentStatus::Succeeded) => {
                lines.push(self.message.clone());
            }
            _ => {}
        }
        lines.extend(self.failures.iter().cloned());
        lines
    }
}

fn tally(counts: &Counts) -> String {
    format!(
        "pending {}, in progress {}, succeeded {}, failed {}, skipped {}",
        counts.pending, counts.in_progress, counts.succeeded, counts.failed, counts.skipped
    )
}

/// `ScriptFailed: message` (the error code, then the diagnostics' message).
fn describe(diagnostics: &Diagnostics) -> String {
    let code = name::<LifecycleErrorCode>(diagnostics.error_code);
    match (
        diagnostics.message.is_empty(),
        diagnostics.script_name.is_empty(),
    ) {
        (false, _) => format!("{code}: {}", diagnostics.message),
        (true, false) => format!("{code}: {}", diagnostics.script_name),
        (true, true) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::deploy::v1::{
        DeploymentStatusChanged, HookOutput, LifecycleEventChanged, OutputLine, TargetStatusChanged,
    };

    fn event(event: Event) -> WatchDeploymentResponse {
        WatchDeploymentResponse {
            event: Some(event),
            ..Default::default()
        }
    }

    fn target(id: &str, status: TargetStatus) -> WatchDeploymentResponse {
        event(Event::TargetStatusChanged(TargetStatusChanged {
            target_id: id.into(),
            status: status as i32,
        }))
    }

    #[test]
    fn events_become_lines_counts_and_an_outcome() {
        let mut progress = Progress::new("d-ABCDEFGHI");
        for id in ["web-1", "web-2"] {
            progress.apply(&target(id, TargetStatus::Pending));
        }
        progress.apply(&target("web-1", TargetStatus::InProgress));
        let lines = progress.apply(&event(Event::HookOutput(HookOutput {
            target_id: "web-1".into(),
            lifecycle_event_name: "AfterInstall".into(),
            lines: vec![OutputLine {
                text: "hello".into(),
                ..Default::default()
            }],
            ..Default::default()
        })));
        assert_eq!(lines, [Line::Output("[web-1 AfterInstall] hello".into())]);
        let lines = progress.apply(&event(Event::LifecycleEventChanged(
            LifecycleEventChanged {
                target_id: "web-1".into(),
                lifecycle_event_name: "ValidateService".into(),
                status: LifecycleEventStatus::Failed as i32,
                diagnostics: Some(Diagnostics {
                    error_code: LifecycleErrorCode::ScriptFailed as i32,
                    message: "exit code 1".into(),
                    ..Default::default()
                }),
            },
        )));
        let failure = "web-1 ValidateService Failed: ScriptFailed: exit code 1";
        assert_eq!(lines, [Line::Failure(failure.into())]);
        progress.apply(&target("web-1", TargetStatus::Failed));
        assert_eq!(
            progress.progress_line(),
            "[##########----------] 1/2  pending 1, in progress 0, succeeded 0, failed 1, skipped 0"
        );
        assert!(
            progress.board()[2].contains("web-2  Pending"),
            "{:?}",
            progress.board()
        );
        progress.apply(&target("web-2", TargetStatus::Skipped));
        assert_eq!(progress.ended(), None);
        let lines = progress.apply(&event(Event::DeploymentStatusChanged(
            DeploymentStatusChanged {
                status: DeploymentStatus::Failed as i32,
                error_information: Some(ErrorInformation {
                    code: ErrorCode::HealthConstraints as i32,
                    message: "too many failed".into(),
                }),
                ..Default::default()
            },
        )));
        assert!(lines.is_empty());
        assert_eq!(progress.ended(), Some(DeploymentStatus::Failed));
        assert_eq!(
            progress.outcome(),
            [
                "Deployment d-ABCDEFGHI Failed: pending 0, in progress 0, succeeded 0, failed 1, skipped 1",
                "Error HEALTH_CONSTRAINTS: too many failed",
                failure,
            ]
        );
    }
}
