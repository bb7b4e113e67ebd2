//! `ferry-agent local`: deploy a directory or an archive on this host through the same
//! lifecycle code the agent runs for the orchestrator, with no server — CodeDeploy's
//! `codedeploy-local`. Each event and each script's output are printed as they happen.

use std::io::Write;
use std::path::PathBuf;

use ferry_appspec::FileExistsBehavior;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::lifecycle::{Deployment, Host, Source};
use crate::outcome::Failure;
use crate::output::{OutputSink, Stream};

/// The in-place events of a deployment without a load balancer, in order.
pub const DEFAULT_EVENTS: [&str; 7] = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// One local deployment.
#[derive(Clone, Debug)]
pub struct LocalDeployment {
    pub source: PathBuf,
    pub deployment_group_name: String,
    pub application_name: String,
    pub app_spec_file_name: String,
    pub file_exists_behavior: FileExistsBehavior,
    pub events: Vec<String>,
    pub ignore_application_stop_failures: bool,
}

impl LocalDeployment {
    fn deployment(&self) -> Deployment {
        Deployment {
            deployment_id: new_deployment_id(),
            // CodeDeploy's local mode uses the group's name as its id.
            deployment_group_id: self.deployment_group_name.clone(),
            deployment_group_name: self.deployment_group_name.clone(),
            application_name: self.application_name.clone(),
            source: Source::Local(self.source.clone()),
            app_spec_file_name: self.app_spec_file_name.clone(),
            file_exists_behavior: self.file_exists_behavior,
        }
    }
}

/// `d-` and nine characters, as CodeDeploy's deployment ids look.
fn new_deployment_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..9)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("d-{suffix}")
}

/// Prints each output line as `[script] [stream] text`.
struct Printer;

impl OutputSink for Printer {
    fn line(&self, script: &str, stream: Stream, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "    [{script}] [{}] {text}", stream.as_str());
    }
}

/// Runs the deployment; true when every event succeeded.
pub async fn deploy(host: &Host, local: &LocalDeployment, cancel: &CancellationToken) -> bool {
    let deployment = local.deployment();
    println!(
        "deployment {} of {} to group {}",
        deployment.deployment_id,
        local.source.display(),
        deployment.deployment_group_name
    );
    for event in &local.events {
        println!("{event}");
        let outcome = host.run_event(&deployment, event, &Printer, cancel).await;
        match outcome.result {
            Ok(()) => println!("{event} succeeded"),
            Err(failure)
                if event == "ApplicationStop" && local.ignore_application_stop_failures =>
            {
                println!("{event} failed, ignored: {}", describe(&failure));
            }
            Err(failure) => {
                println!("{event} failed: {}", describe(&failure));
                println!("deployment {} failed", deployment.deployment_id);
                return false;
            }
        }
    }
    println!("deployment {} succeeded", deployment.deployment_id);
    true
}

/// Prints what each event would do, in order, touching nothing under the deployment or
/// install roots (the source is unpacked into a temporary directory to be read).
pub async fn plan(host: &Host, local: &LocalDeployment) -> Result<(), Failure> {
    let deployment = local.deployment();
    let scratch = tempfile_dir()?;
    let bundle = scratch.join("bundle");
    crate::download::unpack_local(&local.source, &bundle).await?;
    let result = (|| {
        for event in &local.events {
            println!("{event}");
            for line in host.plan_event(&deployment, event, &bundle)? {
                println!("    {line}");
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn tempfile_dir() -> Result<PathBuf, Failure> {
    let dir = std::env::temp_dir().join(format!("ferry-plan-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::unknown(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

fn describe(failure: &Failure) -> String {
    match &failure.script {
        Some(script) => format!("{} ({}, {})", failure.message, failure.code, script),
        None => format!("{} ({})", failure.message, failure.code),
    }
}
