#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `ferry up` as a real process: it prints where it listens, its two local agents are
//! registered with the tag and connected, a deployment to them succeeds, SIGINT stops it with
//! exit 0, and a second start on the same data directory carries on with the same
//! application, instances and credentials.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ferry_proto::common::v1::{
    BundleType, DeploymentStatus, RevisionLocation, TagFilter, TagFilterType,
};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{CreateDeploymentRequest, DeploymentInfo};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    BatchGetOnPremisesInstancesRequest, GetApplicationRequest, InstanceInfo,
    ListOnPremisesInstancesRequest, RegistrationStatus,
};
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use support::{WAIT, create_group, finished};
use tonic::transport::Channel;

const APP: &str = "demo";
const GROUP: &str = "local";
const AGENTS: [&str; 2] = ["local-1", "local-2"];

/// A running `ferry up --listen 127.0.0.1:0 --data-dir DIR --agents 2`, killed if dropped.
struct Up {
    child: Child,
    /// From the line `ferry is up at http://…`.
    endpoint: String,
    /// Everything printed on stdout up to and including the endpoint line.
    printed: Vec<String>,
    /// stderr, collected as it comes, for failure messages.
    log: Arc<Mutex<String>>,
}

impl Up {
    fn start(data_dir: &Path) -> Self {
        let mut child = support::ferry(&["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--agents", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ferry up");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let (lines, received) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + WAIT;
        let mut printed = Vec::new();
        let endpoint = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    let endpoint = line.strip_prefix("ferry is up at ").map(str::to_owned);
                    printed.push(line);
                    if let Some(endpoint) = endpoint {
                        break endpoint;
                    }
                }
                Err(error) => panic!(
                    "ferry up printed no endpoint ({error}); stdout {printed:?}, stderr:\n{}",
                    log.lock().unwrap()
                ),
            }
        };
        // The rest of the banner (next steps) follows the endpoint line.
        std::thread::spawn(move || while received.recv().is_ok() {});
        Self {
            child,
            endpoint,
            printed,
            log,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.endpoint.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Sends SIGINT, as Ctrl-C does, and waits for the process to end.
    fn interrupt(mut self) -> (ExitStatus, String) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -INT failed");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.log.lock().unwrap().clone();
                return (status, log);
            }
            assert!(
                Instant::now() < deadline,
                "ferry up did not exit after SIGINT; stderr:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tar(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, content.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// A site whose `index.html` says `page`, installed to /srv/demo, with a BeforeInstall hook
/// that echoes `page`.
fn site(page: &str) -> Vec<u8> {
    let appspec = "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /srv/demo\nhooks:\n  BeforeInstall:\n    - location: scripts/before-install.sh\n      timeout: 60\n";
    let hook = format!("#!/bin/sh\necho \"before install of {page}\"\n");
    tar(&[
        ("appspec.yml", appspec, 0o644),
        ("index.html", page, 0o644),
        ("scripts/before-install.sh", &hook, 0o755),
    ])
}

async fn upload(channel: &Channel, bundle: Vec<u8>) -> RevisionLocation {
    let messages = vec![
        UploadBundleRequest {
            part: Some(Part::Header(UploadBundleHeader {
                application_name: APP.into(),
                bundle_type: BundleType::Tar as i32,
                ..Default::default()
            })),
        },
        UploadBundleRequest {
            part: Some(Part::Chunk(bundle)),
        },
    ];
    RevisionServiceClient::new(channel.clone())
        .upload_bundle(futures::stream::iter(messages))
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap()
}

/// Deploys `revision` to the group and waits for the deployment to end.
async fn deploy(channel: &Channel, revision: RevisionLocation) -> DeploymentInfo {
    let mut deployments = DeploymentServiceClient::new(channel.clone());
    let id = deployments
        .create_deployment(CreateDeploymentRequest {
            application_name: APP.into(),
            deployment_group_name: GROUP.into(),
            revision: Some(revision),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deployment_id;
    finished(&deployments, &id).await
}

/// The registered instances tagged ferry-up=local, sorted.
async fn tagged_instances(channel: &Channel) -> Vec<String> {
    let mut names = RegistryServiceClient::new(channel.clone())
        .list_on_premises_instances(ListOnPremisesInstancesRequest {
            registration_status: RegistrationStatus::Registered as i32,
            tag_filters: vec![TagFilter {
                key: "ferry-up".into(),
                value: "local".into(),
                r#type: TagFilterType::KeyAndValue as i32,
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .instance_names;
    names.sort();
    names
}

async fn instances(channel: &Channel) -> Vec<InstanceInfo> {
    RegistryServiceClient::new(channel.clone())
        .batch_get_on_premises_instances(BatchGetOnPremisesInstancesRequest {
            instance_names: AGENTS.map(String::from).to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .instance_infos
}

fn agent_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("agents").join(name)
}

fn credentials(data_dir: &Path) -> Vec<String> {
    AGENTS
        .iter()
        .map(|name| std::fs::read_to_string(agent_dir(data_dir, name).join("credential")).unwrap())
        .collect()
}

/// What the deployment installed on each local agent, and whether its hook's line reached
/// the agent's deployment log.
fn installed(data_dir: &Path, page: &str) {
    for name in AGENTS {
        let dir = agent_dir(data_dir, name);
        let file = dir.join("install/srv/demo/index.html");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap_or_default(),
            page,
            "{}",
            file.display()
        );
        let log = std::fs::read_to_string(dir.join("logs/ferry-agent-deployments.log")).unwrap();
        assert!(
            log.contains(&format!("before install of {page}")),
            "{name}'s log: {log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_deploys_to_its_local_agents_and_keeps_its_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    // First start: everything new.
    let up = Up::start(&data_dir);
    assert!(
        up.endpoint.starts_with("http://127.0.0.1:") && !up.endpoint.ends_with(":0"),
        "{}",
        up.endpoint
    );
    assert_eq!(
        up.printed.len(),
        1,
        "the endpoint is the first line: {:?}",
        up.printed
    );
    let channel = up.channel().await;
    assert_eq!(tagged_instances(&channel).await, AGENTS);
    for name in AGENTS {
        let file = agent_dir(&data_dir, name).join("credential");
        let mode = std::os::unix::fs::PermissionsExt::mode(&file.metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }

    let registry = RegistryServiceClient::new(channel.clone());
    create_group(&registry, APP, GROUP, ("ferry-up", "local")).await;
    let revision = upload(&channel, site("<p>one</p>")).await;
    let info = deploy(&channel, revision).await;
    assert_eq!(
        info.status,
        DeploymentStatus::Succeeded as i32,
        "{info:?}\nferry up's stderr:\n{}",
        up.log.lock().unwrap()
    );
    installed(&data_dir, "<p>one</p>");

    // The data directory belongs to the running `ferry up`.
    let second = support::ferry(&["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2), "{second:?}");
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another `ferry up`"),
        "{second:?}"
    );

    let credentials_before = credentials(&data_dir);
    let instances_before = instances(&channel).await;
    drop(channel);
    let (status, log) = up.interrupt();
    assert!(status.success(), "{status}; stderr:\n{log}");

    // Second start on the same data directory: the same application, instances and
    // credentials, and the agents connect with them.
    let up = Up::start(&data_dir);
    let channel = up.channel().await;
    RegistryServiceClient::new(channel.clone())
        .get_application(GetApplicationRequest {
            application_name: APP.into(),
        })
        .await
        .expect("the application is still there");
    assert_eq!(tagged_instances(&channel).await, AGENTS);
    assert_eq!(credentials(&data_dir), credentials_before);
    assert_eq!(
        instances(&channel).await,
        instances_before,
        "the instances were registered again"
    );
    let revision = upload(&channel, site("<p>two</p>")).await;
    let info = deploy(&channel, revision).await;
    assert_eq!(
        info.status,
        DeploymentStatus::Succeeded as i32,
        "{info:?}\nferry up's stderr:\n{}",
        up.log.lock().unwrap()
    );
    installed(&data_dir, "<p>two</p>");

    drop(channel);
    let (status, log) = up.interrupt();
    assert!(status.success(), "{status}; stderr:\n{log}");
}
