//! One lifecycle event of one deployment on this host, as CodeDeploy's agent runs it:
//!
//! - `DownloadBundle`: prune the group's old revisions, fetch the bundle (verified) and unpack
//!   it into `deployment-archive`, record it as the group's most recent revision;
//! - `Install`: remove what the group's previous Install wrote, copy the `files`, apply the
//!   `permissions`, record the revision as the group's last successful install;
//! - hook events: run the event's scripts in order. `ApplicationStop`, `BeforeBlockTraffic`
//!   and `AfterBlockTraffic` run the scripts of the group's last successful revision (what is
//!   running now); every other event the new revision's. No previous revision: nothing to run.
//!
//! Both the session (commands from the orchestrator) and `ferry-agent local` call
//! [`Host::run_event`]; `--plan` calls [`Host::plan_event`].

use std::path::{Path, PathBuf};

use ferry_appspec::{AppSpec, FileExistsBehavior, Hook, LifecycleEvent, ServerSpec};
use tokio_util::sync::CancellationToken;

use crate::config::{AgentConfig, LogRotation};
use crate::download::{self, Downloader, RemoteRevision};
use crate::hooks::{self, Runner, Script};
use crate::install::{self, InstallRequest};
use crate::layout::{DeploymentRoot, InstallRecord, check_id};
use crate::logs::{DeploymentLog, Tail, Tee};
use crate::outcome::Failure;
use crate::output::OutputSink;
use crate::redact::{Redacting, Redactor};
use crate::revision_env::bundle_env;
use crate::users::Accounts;

/// Lines and bytes of output kept for a failed event's diagnostics.
const TAIL_LINES: usize = 64;
const TAIL_BYTES: usize = 4096;

/// Where a deployment's bundle comes from.
#[derive(Clone, Debug)]
pub enum Source {
    Remote(Box<RemoteRevision>),
    /// A directory or an archive on this host (`ferry-agent local`).
    Local(PathBuf),
}

/// What every event of one deployment shares.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub deployment_id: String,
    pub deployment_group_id: String,
    pub deployment_group_name: String,
    pub application_name: String,
    pub source: Source,
    /// The AppSpec's file name in the bundle; empty means `appspec.yml` (or `appspec.yaml`).
    pub app_spec_file_name: String,
    /// The deployment's choice; an AppSpec's own value wins.
    pub file_exists_behavior: FileExistsBehavior,
}

/// How an event ended, with the tail of its output.
#[derive(Debug)]
pub struct EventOutcome {
    pub result: Result<(), Failure>,
    pub log_tail: String,
}

/// This host's side of deployments: its deployment root and how it runs things.
pub struct Host {
    pub root: DeploymentRoot,
    /// Absolute destinations are re-rooted here; `None` is `/`.
    pub install_root: Option<PathBuf>,
    pub max_revisions: usize,
    /// The aggregate deployment log lives here; `None` keeps only per-deployment logs.
    pub log_dir: Option<PathBuf>,
    pub log_rotation: LogRotation,
    pub accounts: Accounts,
    pub runner: Runner,
    /// For remote revisions; `ferry-agent local` has none.
    pub downloader: Option<Downloader>,
    /// Applied to every output line before any sink sees it.
    pub redactor: Redactor,
}

/// The scripts an event would run, and where.
#[derive(Debug, Default)]
pub struct HookPlan {
    /// The revision the scripts come from (its deployment id).
    pub from_deployment: Option<String>,
    pub bundle_root: PathBuf,
    pub hooks: Vec<Hook>,
}

impl Host {
    /// The host as the agent's configuration describes it.
    pub fn from_config(config: &AgentConfig, downloader: Option<Downloader>) -> Self {
        let accounts = Accounts::default();
        Self {
            root: DeploymentRoot::new(&config.deployment_root),
            install_root: config.install_root().map(PathBuf::from),
            max_revisions: config.max_revisions,
            log_dir: Some(config.log_dir.clone()),
            log_rotation: config.log_rotation.clone(),
            runner: Runner::new(accounts.clone()),
            accounts,
            downloader,
            redactor: Redactor::new(&config.redact),
        }
    }

    /// Runs `event` of `deployment`. Output goes to `sink`, the deployment's log files and
    /// the returned tail.
    pub async fn run_event(
        &self,
        deployment: &Deployment,
        event: &str,
        sink: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> EventOutcome {
        let tail = Tail::new(TAIL_LINES, TAIL_BYTES);
        let result = match self.check_ids(deployment) {
            Ok(()) => {
                let log = self.open_log(deployment);
                log.event(event);
                let tee = Tee(vec![sink, &log, &tail]);
                let redacting = Redacting {
                    redactor: &self.redactor,
                    inner: &tee,
                };
                self.dispatch(deployment, event, &redacting, cancel).await
            }
            Err(failure) => Err(failure),
        };
        if let Err(failure) = &result {
            tracing::warn!(deployment_id = %deployment.deployment_id, event, %failure, "lifecycle event failed");
        }
        EventOutcome {
            result,
            log_tail: tail.text(),
        }
    }

    fn check_ids(&self, deployment: &Deployment) -> Result<(), Failure> {
        check_id("deployment id", &deployment.deployment_id)?;
        check_id("deployment group id", &deployment.deployment_group_id)
    }

    fn open_log(&self, deployment: &Deployment) -> DeploymentLog {
        let mut paths = vec![
            self.root
                .script_log(&deployment.deployment_group_id, &deployment.deployment_id),
        ];
        if let Some(dir) = &self.log_dir {
            paths.push(dir.join("ferry-agent-deployments.log"));
        }
        DeploymentLog::open(&paths, &self.log_rotation, &deployment.deployment_id)
    }

    async fn dispatch(
        &self,
        deployment: &Deployment,
        event: &str,
        sink: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<(), Failure> {
        match event {
            "DownloadBundle" => self.download_bundle(deployment, cancel).await,
            "Install" => self.install(deployment).await,
            "BlockTraffic" | "AllowTraffic" => Err(Failure::unknown(format!(
                "{event} is done by the server, not by an agent"
            ))),
            _ => {
                let Some(hook_event) = LifecycleEvent::from_name(event) else {
                    return Err(Failure::unknown(format!(
                        "{event:?} is not a lifecycle event"
                    )));
                };
                self.run_hooks(deployment, hook_event, sink, cancel).await
            }
        }
    }

    async fn download_bundle(
        &self,
        deployment: &Deployment,
        cancel: &CancellationToken,
    ) -> Result<(), Failure> {
        let group = &deployment.deployment_group_id;
        let id = &deployment.deployment_id;
        let removed = self
            .root
            .prune(group, id, self.max_revisions)
            .map_err(|e| Failure::unknown(format!("cannot prune old revisions: {e}")))?;
        if !removed.is_empty() {
            tracing::info!(group, ?removed, "pruned old revisions");
        }
        let archive = self.root.archive_dir(group, id);
        // A retried DownloadBundle starts over: the archive must be empty to unpack into.
        remove_dir_if_exists(&archive)?;
        let parent = self.root.deployment_dir(group, id);
        std::fs::create_dir_all(&parent)
            .map_err(|e| Failure::unknown(format!("cannot create {}: {e}", parent.display())))?;
        match &deployment.source {
            Source::Local(path) => download::unpack_local(path, &archive).await?,
            Source::Remote(revision) => {
                let downloader = self.downloader.as_ref().ok_or_else(|| {
                    Failure::unknown("this agent has no revisions service to download from")
                })?;
                let file = parent.join("bundle.download");
                let result = async {
                    downloader.download(revision, &file, cancel).await?;
                    download::unpack(&file, revision.bundle_type, &archive).await
                }
                .await;
                // The unpacked tree is what is kept; the archive itself would double the disk used.
                let _ = std::fs::remove_file(&file);
                result?;
            }
        }
        self.root
            .set_most_recent(group, &self.record(deployment))
            .map_err(|e| Failure::unknown(format!("cannot record the revision: {e}")))
    }

    fn record(&self, deployment: &Deployment) -> InstallRecord {
        InstallRecord {
            deployment_id: deployment.deployment_id.clone(),
            app_spec_file_name: deployment.app_spec_file_name.clone(),
        }
    }

    async fn install(&self, deployment: &Deployment) -> Result<(), Failure> {
        let group = deployment.deployment_group_id.clone();
        let bundle_root = self.root.archive_dir(&group, &deployment.deployment_id);
        let spec = load_spec(&bundle_root, &deployment.app_spec_file_name)?;
        let cleanup = self.root.cleanup_record(&group);
        let install_root = self.install_root.clone();
        let accounts = self.accounts.clone();
        let behavior = deployment.file_exists_behavior;
        let installed = tokio::task::spawn_blocking(move || {
            install::install(&InstallRequest {
                spec: &spec,
                bundle_root: &bundle_root,
                install_root: install_root.as_deref(),
                deployment_file_exists_behavior: behavior,
                cleanup_record: &cleanup,
                accounts: &accounts,
            })
        })
        .await
        .map_err(|e| Failure::unknown(format!("install stopped: {e}")))??;
        tracing::info!(deployment_id = %deployment.deployment_id, ?installed, "installed");
        self.root
            .set_last_successful(&group, &self.record(deployment))
            .map_err(|e| Failure::unknown(format!("cannot record the install: {e}")))
    }

    /// The scripts `event` runs for `deployment`, from the revision CodeDeploy takes them from.
    ///
    /// `new_bundle` is where the new revision is unpacked; `None` means its archive directory.
    pub fn hook_plan(
        &self,
        deployment: &Deployment,
        event: LifecycleEvent,
        new_bundle: Option<&Path>,
    ) -> Result<HookPlan, Failure> {
        self.check_ids(deployment)?;
        let group = &deployment.deployment_group_id;
        let record = if runs_previous_revision(event) {
            match self.root.last_successful(group).map_err(|e| {
                Failure::unknown(format!("cannot read the last successful install: {e}"))
            })? {
                Some(record) => record,
                None => return Ok(HookPlan::default()),
            }
        } else {
            self.record(deployment)
        };
        check_id("deployment id", &record.deployment_id)?;
        let bundle_root = match new_bundle {
            Some(path) if !runs_previous_revision(event) => path.to_owned(),
            _ => self.root.archive_dir(group, &record.deployment_id),
        };
        if runs_previous_revision(event) && !bundle_root.exists() {
            tracing::warn!(deployment_id = %record.deployment_id, "the last successful revision is gone; nothing to run");
            return Ok(HookPlan::default());
        }
        let spec = load_spec(&bundle_root, &record.app_spec_file_name)?;
        Ok(HookPlan {
            from_deployment: Some(record.deployment_id),
            hooks: spec.hooks.get(&event).cloned().unwrap_or_default(),
            bundle_root,
        })
    }

    async fn run_hooks(
        &self,
        deployment: &Deployment,
        event: LifecycleEvent,
        sink: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<(), Failure> {
        let plan = self.hook_plan(deployment, event, None)?;
        let env = self.hook_env(deployment, event);
        for hook in &plan.hooks {
            let script = Script {
                location: &hook.location,
                bundle_root: &plan.bundle_root,
                timeout: std::time::Duration::from_secs(u64::from(hook.timeout)),
                runas: hook.runas.as_deref(),
            };
            self.runner.run(&script, &env, sink, cancel).await?;
        }
        Ok(())
    }

    /// The variables every script of `event` gets, besides the agent's own environment.
    pub fn hook_env(
        &self,
        deployment: &Deployment,
        event: LifecycleEvent,
    ) -> Vec<(String, String)> {
        let mut env = vec![
            ("LIFECYCLE_EVENT".to_owned(), event.as_str().to_owned()),
            ("DEPLOYMENT_ID".to_owned(), deployment.deployment_id.clone()),
            (
                "APPLICATION_NAME".to_owned(),
                deployment.application_name.clone(),
            ),
            (
                "DEPLOYMENT_GROUP_NAME".to_owned(),
                deployment.deployment_group_name.clone(),
            ),
            (
                "DEPLOYMENT_GROUP_ID".to_owned(),
                deployment.deployment_group_id.clone(),
            ),
            (
                "FERRY_INSTALL_ROOT".to_owned(),
                self.install_root
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
        ];
        if let Source::Remote(revision) = &deployment.source {
            env.extend(bundle_env(
                revision.location.as_ref(),
                Some(&revision.sha256),
            ));
        }
        env
    }

    /// What `event` would do, as readable lines, without doing it (`ferry-agent local --plan`).
    /// `new_bundle` holds the new revision, unpacked somewhere outside the deployment root.
    pub fn plan_event(
        &self,
        deployment: &Deployment,
        event: &str,
        new_bundle: &Path,
    ) -> Result<Vec<String>, Failure> {
        self.check_ids(deployment)?;
        let group = &deployment.deployment_group_id;
        let archive = self.root.archive_dir(group, &deployment.deployment_id);
        Ok(match event {
            "DownloadBundle" => vec![match &deployment.source {
                Source::Local(path) => {
                    format!("unpack {} into {}", path.display(), archive.display())
                }
                Source::Remote(revision) => format!(
                    "download bundle {} ({} bytes) into {}",
                    revision.sha256,
                    revision.size,
                    archive.display()
                ),
            }],
            "Install" => {
                let spec = load_spec(new_bundle, &deployment.app_spec_file_name)?;
                let plan = install::plan(&InstallRequest {
                    spec: &spec,
                    bundle_root: new_bundle,
                    install_root: self.install_root.as_deref(),
                    deployment_file_exists_behavior: deployment.file_exists_behavior,
                    cleanup_record: &self.root.cleanup_record(group),
                    accounts: &self.accounts,
                })?;
                plan.to_string().lines().map(str::to_owned).collect()
            }
            _ => {
                let event = LifecycleEvent::from_name(event).ok_or_else(|| {
                    Failure::unknown(format!("{event:?} is not a lifecycle event"))
                })?;
                let plan = self.hook_plan(deployment, event, Some(new_bundle))?;
                if plan.hooks.is_empty() {
                    return Ok(vec!["no scripts".to_owned()]);
                }
                let mut lines = Vec::new();
                for hook in &plan.hooks {
                    let path = hooks::resolve(&plan.bundle_root, &hook.location)?;
                    let mut line = format!("run {} (timeout {} s", path.display(), hook.timeout);
                    if let Some(user) = &hook.runas {
                        line.push_str(&format!(", as {user}"));
                    }
                    if let Some(from) = plan
                        .from_deployment
                        .as_ref()
                        .filter(|d| **d != deployment.deployment_id)
                    {
                        line.push_str(&format!(", from revision of {from}"));
                    }
                    line.push(')');
                    lines.push(line);
                }
                lines
            }
        })
    }
}

/// CodeDeploy runs these from the revision that is in place, not the one being deployed.
fn runs_previous_revision(event: LifecycleEvent) -> bool {
    matches!(
        event,
        LifecycleEvent::ApplicationStop
            | LifecycleEvent::BeforeBlockTraffic
            | LifecycleEvent::AfterBlockTraffic
    )
}

/// Reads and checks the AppSpec of an unpacked revision.
pub fn load_spec(bundle_root: &Path, file_name: &str) -> Result<ServerSpec, Failure> {
    let path = if file_name.is_empty() {
        ferry_appspec::find_in_dir(bundle_root).ok_or_else(|| {
            Failure::unknown(format!(
                "the revision has no appspec.yml or appspec.yaml at its root ({})",
                bundle_root.display()
            ))
        })?
    } else {
        check_id("AppSpec file name", file_name)?;
        bundle_root.join(file_name)
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::unknown(format!("cannot read the AppSpec {}: {e}", path.display()))
    })?;
    let report = ferry_appspec::validate(&text);
    match report.spec {
        Some(AppSpec::Server(spec)) => Ok(spec),
        Some(_) => Err(Failure::unknown(format!(
            "{} is not an EC2/on-premises AppSpec",
            path.display()
        ))),
        None => {
            let problems: Vec<String> = report
                .problems
                .iter()
                .filter(|p| p.is_error())
                .take(5)
                .map(ToString::to_string)
                .collect();
            Err(Failure::unknown(format!(
                "the AppSpec {} is invalid: {}",
                path.display(),
                problems.join("; ")
            )))
        }
    }
}

fn remove_dir_if_exists(path: &Path) -> Result<(), Failure> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::unknown(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}
