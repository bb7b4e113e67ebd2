//! Starting the services and agents as processes: commands free of the test's `FERRY_…`
//! settings, configuration files, the three services of a cluster and one agent per host.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use serde_json::json;
use tonic::transport::Channel;

use crate::{Service, binary, channel, deploy, wait_serving};

pub const REVISION_SERVICE: &str = "ferry.revision.v1.RevisionService";
pub const DEPLOYMENT_SERVICE: &str = "ferry.deploy.v1.DeploymentService";

/// A free port on 127.0.0.1: bound, then released for a server to take.
pub fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr")
}

/// A command for a workspace binary that ignores `FERRY_…` settings of the test's environment.
pub fn ferry_command(name: &str) -> Command {
    let mut command = Command::new(binary(name));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FERRY_") {
            command.env_remove(key);
        }
    }
    command
}

/// Writes `config` (JSON, which is YAML) to `path` and returns the path.
pub fn write_config(path: PathBuf, config: &serde_json::Value) -> PathBuf {
    std::fs::write(
        &path,
        serde_json::to_string_pretty(config).expect("config as JSON"),
    )
    .expect("write the config");
    path
}

/// A service binary (`ferry_command`) with `--config <config>` when given, listening on
/// `listen` with its data in `data_dir`.
pub fn server_command(name: &str, config: Option<&Path>, listen: &str, data_dir: &Path) -> Command {
    let mut command = ferry_command(name);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command
        .args(["--listen", listen, "--data-dir"])
        .arg(data_dir);
    command
}

/// Starts `command` and waits for the address it listens on.
pub fn start_server(command: Command) -> (Service, SocketAddr) {
    let mut service = Service::start(command);
    let address = service.wait_for_address();
    (service, address)
}

/// Writes an agent's files under `dir` (its install root, its credential file and its
/// configuration, `agent.yaml`) for the instance `name` of the orchestrator at `orchestrator`;
/// `extra` (a JSON object) is added to the configuration. Returns the configuration's path.
pub fn write_agent_config(
    dir: &Path,
    name: &str,
    orchestrator: SocketAddr,
    credential: &str,
    extra: serde_json::Value,
) -> PathBuf {
    let install_root = dir.join("install");
    // The install root exists before the first hook resolves `$FERRY_INSTALL_ROOT/..`.
    std::fs::create_dir_all(&install_root).expect("create the install root");
    let credential_file = dir.join("credential");
    std::fs::write(&credential_file, credential).expect("write the credential");
    let mut config = json!({
        "orchestrator_endpoint": format!("http://{orchestrator}"),
        "instance_name": name,
        "credential_file": credential_file,
        "deployment_root": dir.join("root"),
        "install_root": install_root,
        "log_dir": dir.join("logs"),
        "reconnect": { "initial_backoff_ms": 100, "max_backoff_ms": 1000 },
    });
    if let serde_json::Value::Object(extra) = extra {
        for (key, value) in extra {
            config[key] = value;
        }
    }
    write_config(dir.join("agent.yaml"), &config)
}

/// `ferry-agent run --config <config>`.
pub fn agent_command(config: &Path) -> Command {
    let mut command = ferry_command("ferry-agent");
    command.arg("run").arg("--config").arg(config);
    command
}

/// Registry, revisions and orchestrator as processes, each with its own data directory; the
/// orchestrator on a fixed address so that it can be started again where the agents look.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub registry: SocketAddr,
    pub revisions: SocketAddr,
    pub orchestrator: SocketAddr,
    orchestrator_config: PathBuf,
    _processes: Vec<Service>,
}

impl Cluster {
    /// Starts the registry and the revisions service, on the PostgreSQL database at
    /// `database_url` when given, the revisions service fetching with `fetch` when given; and
    /// writes the orchestrator's configuration.
    pub fn start(database_url: Option<&str>, fetch: Option<serde_json::Value>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut command = server_command(
            "ferry-registry",
            None,
            "127.0.0.1:0",
            &dir.path().join("registry"),
        );
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let (registry, registry_addr) = start_server(command);

        let mut config = json!({ "registry_endpoint": format!("http://{registry_addr}") });
        if let Some(url) = database_url {
            config["database_url"] = json!(url);
        }
        if let Some(fetch) = fetch {
            config["fetch"] = fetch;
        }
        let config = write_config(dir.path().join("revisions.yaml"), &config);
        let (revisions, revisions_addr) = start_server(server_command(
            "ferry-revisions",
            Some(&config),
            "127.0.0.1:0",
            &dir.path().join("revisions"),
        ));

        let mut config = json!({
            "registry_endpoint": format!("http://{registry_addr}"),
            "revisions_endpoint": format!("http://{revisions_addr}"),
            // Generous: an agent (or the orchestrator) may be down for a while, and the events
            // it holds must not fail for it.
            "limits": { "agent_grace_secs": 30 },
            "agents": { "heartbeat_interval_secs": 1, "heartbeat_timeout_secs": 5 },
        });
        if let Some(url) = database_url {
            config["database_url"] = json!(url);
        }
        let orchestrator_config = write_config(dir.path().join("orchestrator.yaml"), &config);
        Self {
            dir,
            registry: registry_addr,
            revisions: revisions_addr,
            orchestrator: free_address(),
            orchestrator_config,
            _processes: vec![registry, revisions],
        }
    }

    /// Starts the orchestrator on its address and data directory (the same every time).
    pub fn start_orchestrator(&self) -> Service {
        Service::start(server_command(
            "ferry-orchestrator",
            Some(&self.orchestrator_config),
            &self.orchestrator.to_string(),
            &self.dir.path().join("orchestrator"),
        ))
    }

    /// Starts the orchestrator again (on the same address, configuration and data) after it
    /// was killed in the middle of deployment `id`: checks that it resumes `id` and waits for
    /// it to serve. Nothing else listens there now, so SERVING on it is the new process.
    pub async fn resume_orchestrator(&self, id: &str) -> Service {
        let mut orchestrator = self.start_orchestrator();
        let resumed = orchestrator.wait_for_line("resuming deployment", Duration::from_secs(30));
        assert!(
            resumed.contains(&format!("deployment_id={id}")),
            "{resumed}"
        );
        wait_serving(channel(self.orchestrator).await, DEPLOYMENT_SERVICE).await;
        orchestrator
    }

    /// Everything serving: the orchestrator started, its address checked.
    pub async fn serve(&self) -> Service {
        let mut orchestrator = self.start_orchestrator();
        assert_eq!(orchestrator.wait_for_address(), self.orchestrator);
        wait_serving(channel(self.revisions).await, REVISION_SERVICE).await;
        wait_serving(channel(self.orchestrator).await, DEPLOYMENT_SERVICE).await;
        orchestrator
    }

    pub async fn deployments(&self) -> DeploymentServiceClient<Channel> {
        DeploymentServiceClient::new(channel(self.orchestrator).await)
    }

    /// Registers `name`, tagged `group=<group>`, and starts its agent, with its own
    /// directories.
    pub async fn host(&self, name: &'static str, group: &str) -> Host {
        let credential = deploy::register_instance(self.registry, name, group).await;
        let dir = self.dir.path().join(name);
        let config = write_agent_config(&dir, name, self.orchestrator, &credential, json!({}));
        let mut host = Host {
            name,
            dir,
            config,
            agent: None,
        };
        host.start_agent();
        host
    }

    /// `host` for each of `names`, in order.
    pub async fn hosts(&self, names: &[&'static str], group: &str) -> Vec<Host> {
        let mut hosts = Vec::new();
        for &name in names {
            hosts.push(self.host(name, group).await);
        }
        hosts
    }
}

/// One host: its agent process and the agent's directories.
pub struct Host {
    pub name: &'static str,
    pub dir: PathBuf,
    config: PathBuf,
    pub agent: Option<Service>,
}

impl Host {
    /// Starts the agent with the host's configuration (and so its deployment root).
    pub fn start_agent(&mut self) {
        self.agent = Some(Service::start(agent_command(&self.config)));
    }

    /// SIGKILLs the agent and waits for it to be gone.
    pub fn kill_agent(&mut self) {
        use std::os::unix::process::ExitStatusExt as _;
        let mut agent = self.agent.take().expect("a running agent");
        agent.child.kill().expect("kill the agent");
        let exit = agent.child.wait().expect("wait for the agent");
        assert_eq!(exit.signal(), Some(9), "{}: {exit:?}", self.name);
    }

    /// The install root.
    pub fn install_root(&self) -> PathBuf {
        self.dir.join("install")
    }

    /// The file the revision installed (`/srv/app/app.txt` under the install root), or ""
    /// when there is none.
    pub fn installed(&self) -> String {
        std::fs::read_to_string(self.install_root().join("srv/app/app.txt")).unwrap_or_default()
    }

    /// What the hooks appended, one `"<event> <deployment id>"` line each; outside the install
    /// root, so no Install touches it.
    pub fn hook_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("events.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The commands the agent accepted (`<deployment_root>/ferry/commands/<command-id>.json`).
    pub fn command_records(&self) -> usize {
        std::fs::read_dir(self.dir.join("root/ferry/commands"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|ext| ext == "json"))
                    .count()
            })
            .unwrap_or(0)
    }
}
