//! The local agents of `ferry up --agents N`: on-premises instances `local-1` … `local-N`
//! tagged `ferry-up=local`, each running in this process as the ferry-agent library with its
//! own directory `<data-dir>/agents/local-i/`: `credential` (mode 0600), `root/` (the
//! deployment root), `install/` (where the AppSpec's `files` go) and `logs/`.
//!
//! A credential is issued once, at registration, and kept in the agent's directory, so a
//! later start authenticates with it instead of registering again. When the registry no
//! longer accepts it (the instance was deregistered, or the registry's database is new),
//! or the file is gone while the name is still registered, the instance is registered again
//! and the file rewritten: the agent must be able to connect.
//!
//! A start with fewer agents than before takes the tag off the instances left without one
//! (`local-3` after `--agents 3`, then `--agents 2`), so deployments to `ferry-up=local`
//! do not wait for a host that is not there; their registration and credential stay for a
//! later start with more agents.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ferry_agent::config::{AgentConfig, Identity};
use ferry_agent::download::Downloader;
use ferry_agent::lifecycle::Host;
use ferry_agent::session::Agent;
use ferry_orchestrator::serve::Orchestrator;
use ferry_proto::common::v1::{Tag, TagFilter, TagFilterType};
use ferry_proto::registry::v1 as pb;
use ferry_registry::Registry;
use ferry_runtime::Exception;
use ferry_runtime::config::Validate as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// The tag every local agent's instance carries: `ferry-up=local`.
pub const TAG_KEY: &str = "ferry-up";
pub const TAG_VALUE: &str = "local";

const CREDENTIAL_FILE: &str = "credential";

/// How often presence is looked at while waiting for the agents to connect.
const CONNECT_POLL: Duration = Duration::from_millis(25);

/// The instance name of local agent `i` (from 1).
pub fn instance_name(i: u32) -> String {
    format!("local-{i}")
}

/// Registered, with their credentials, and not yet running.
pub struct LocalAgents {
    agents: Vec<Prepared>,
}

struct Prepared {
    name: String,
    dir: PathBuf,
    credential: String,
}

impl LocalAgents {
    /// Registers (or re-authenticates) `local-1` … `local-{count}` through the registry
    /// library, tags them, and stores new credentials.
    pub async fn prepare(registry: &Registry, data_dir: &Path, count: u32) -> anyhow::Result<Self> {
        let mut agents = Vec::new();
        for i in 1..=count {
            let name = instance_name(i);
            let dir = data_dir.join("agents").join(&name);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let credential = credential(registry, &name, &dir.join(CREDENTIAL_FILE))
                .await
                .with_context(|| format!("local agent {name}"))?;
            agents.push(Prepared {
                name,
                dir,
                credential,
            });
        }
        untag_surplus(registry, count)
            .await
            .context("cannot untag the local instances left without an agent")?;
        Ok(Self { agents })
    }

    /// Starts every agent, each holding a session to the orchestrator at `endpoint` and
    /// downloading bundles from the same address.
    pub fn start(self, endpoint: &str) -> anyhow::Result<RunningAgents> {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut names = Vec::new();
        for prepared in self.agents {
            let Prepared {
                name,
                dir,
                credential,
            } = prepared;
            let config = AgentConfig {
                orchestrator_endpoint: endpoint.to_owned(),
                instance_name: Some(name.clone()),
                credential_file: Some(dir.join(CREDENTIAL_FILE)),
                deployment_root: dir.join("root"),
                install_root: Some(dir.join("install")),
                log_dir: dir.join("logs"),
                ..AgentConfig::default()
            };
            config
                .validate()
                .map_err(|e| anyhow::anyhow!("local agent {name}: {e}"))?;
            let downloader =
                Downloader::new(config.orchestrator_endpoint.clone(), config.tls.clone());
            let host = Host::from_config(&config, Some(downloader));
            let identity = Identity {
                instance_name: name.clone(),
                credential,
            };
            let agent = Agent::new(config, identity, host)
                .with_context(|| format!("cannot open the deployment root of {name}"))?;
            let stopped = stop.clone();
            let span = tracing::info_span!("local_agent", instance = %name);
            tasks.spawn(async move { agent.run(stopped).await }.instrument(span));
            names.push(name);
        }
        Ok(RunningAgents { names, stop, tasks })
    }
}

/// The agents' tasks, until [`RunningAgents::stop`].
pub struct RunningAgents {
    names: Vec<String>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl RunningAgents {
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Waits until every agent holds a session with the orchestrator; false if `wait`
    /// passed first.
    pub async fn wait_connected(&self, orchestrator: &Orchestrator, wait: Duration) -> bool {
        let presence = &orchestrator.context().sessions.presence;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.names.iter().all(|name| presence.is_connected(name)) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(CONNECT_POLL).await;
        }
    }

    /// Ends the sessions and stops running hooks (each agent lets them record their results
    /// first); waits at most `wait`.
    pub async fn stop(mut self, wait: Duration) {
        self.stop.cancel();
        let tasks = &mut self.tasks;
        let joined = tokio::time::timeout(wait, async {
            while let Some(joined) = tasks.join_next().await {
                if let Err(error) = joined {
                    tracing::warn!(%error, "a local agent's task failed");
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!(waited = ?wait, "local agents still stopping; leaving them");
        }
    }
}

/// The credential of `name`: the stored one while the registry accepts it, else a new
/// registration's, stored in `file`. Either way the instance ends up tagged.
async fn credential(registry: &Registry, name: &str, file: &Path) -> anyhow::Result<String> {
    if let Some(stored) = read_credential(file)? {
        let request = pb::AuthenticateOnPremisesInstanceRequest {
            instance_name: name.to_owned(),
            instance_credential: stored.clone(),
        };
        match registry.authenticate_on_premises_instance(request).await {
            Ok(response) => {
                let tagged = response.instance_info.is_some_and(|info| {
                    info.tags
                        .iter()
                        .any(|tag| tag.key == TAG_KEY && tag.value == TAG_VALUE)
                });
                if !tagged {
                    add_tag(registry, name).await?;
                }
                tracing::debug!(instance = name, "reusing the stored credential");
                return Ok(stored);
            }
            Err(error) if error.exception() == Some(Exception::InstanceNotRegistered) => {
                tracing::warn!(
                    instance = name,
                    reason = error.message(),
                    "the stored credential is not accepted; registering the instance again"
                );
            }
            Err(error) => return Err(error).context("cannot check the stored credential"),
        }
    }
    let credential = register(registry, name).await?;
    write_credential(file, &credential)?;
    add_tag(registry, name).await?;
    tracing::info!(instance = name, tag = %format!("{TAG_KEY}={TAG_VALUE}"), "registered");
    Ok(credential)
}

/// Registers `name` and returns its new credential. A name still registered without a
/// stored credential (the file was lost) is deregistered first: only a registration
/// issues a credential.
async fn register(registry: &Registry, name: &str) -> anyhow::Result<String> {
    let request = || pb::RegisterOnPremisesInstanceRequest {
        instance_name: name.to_owned(),
        ..Default::default()
    };
    match registry.register_on_premises_instance(request()).await {
        Ok(response) => return Ok(response.instance_credential),
        Err(error) if error.exception() == Some(Exception::InstanceNameAlreadyRegistered) => {
            tracing::warn!(
                instance = name,
                "registered, but its credential is not in the data directory; registering it again"
            );
            registry
                .deregister_on_premises_instance(pb::DeregisterOnPremisesInstanceRequest {
                    instance_name: name.to_owned(),
                })
                .await
                .context("cannot deregister the instance")?;
        }
        Err(error) => return Err(error).context("cannot register the instance"),
    }
    registry
        .register_on_premises_instance(request())
        .await
        .map(|response| response.instance_credential)
        .context("cannot register the instance")
}

fn tag() -> Tag {
    Tag {
        key: TAG_KEY.to_owned(),
        value: TAG_VALUE.to_owned(),
    }
}

async fn add_tag(registry: &Registry, name: &str) -> anyhow::Result<()> {
    registry
        .add_tags_to_on_premises_instances(pb::AddTagsToOnPremisesInstancesRequest {
            tags: vec![tag()],
            instance_names: vec![name.to_owned()],
        })
        .await
        .context("cannot tag the instance")?;
    Ok(())
}

/// Takes the tag off registered instances `local-K` with K > `count`: local agents of an
/// earlier start that do not run now. Other instances with the tag are left alone.
async fn untag_surplus(registry: &Registry, count: u32) -> anyhow::Result<()> {
    let mut surplus = Vec::new();
    let mut next_token = String::new();
    loop {
        let page = registry
            .list_on_premises_instances(pb::ListOnPremisesInstancesRequest {
                registration_status: pb::RegistrationStatus::Registered as i32,
                tag_filters: vec![TagFilter {
                    key: TAG_KEY.to_owned(),
                    value: TAG_VALUE.to_owned(),
                    r#type: TagFilterType::KeyAndValue as i32,
                }],
                next_token,
                ..Default::default()
            })
            .await?;
        surplus.extend(page.instance_names.into_iter().filter(|name| {
            name.strip_prefix("local-")
                .and_then(|i| i.parse::<u32>().ok())
                .is_some_and(|i| i > count && instance_name(i) == *name)
        }));
        if page.next_token.is_empty() {
            break;
        }
        next_token = page.next_token;
    }
    for name in surplus {
        registry
            .remove_tags_from_on_premises_instances(pb::RemoveTagsFromOnPremisesInstancesRequest {
                tags: vec![tag()],
                instance_names: vec![name.clone()],
            })
            .await?;
        tracing::info!(instance = %name, "no local agent this time: tag removed");
    }
    Ok(())
}

/// The stored credential; `None` when there is none (no file, or an empty one).
fn read_credential(file: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|c| !c.is_empty())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", file.display())),
    }
}

/// Writes the credential readable by the owner only (0600), atomically: a crash leaves the
/// old file or the new one.
fn write_credential(file: &Path, credential: &str) -> anyhow::Result<()> {
    let temporary = file.with_extension("new");
    let write = || -> std::io::Result<()> {
        match std::fs::remove_file(&temporary) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        let mut options = File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&temporary)?;
        out.write_all(credential.as_bytes())?;
        out.write_all(b"\n")?;
        out.sync_all()?;
        std::fs::rename(&temporary, file)
    };
    write().with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CREDENTIAL_FILE);
        assert_eq!(read_credential(&file).unwrap(), None);
        write_credential(&file, "first").unwrap();
        write_credential(&file, "second").unwrap();
        assert_eq!(read_credential(&file).unwrap().as_deref(), Some("second"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&file, " \n").unwrap();
        assert_eq!(read_credential(&file).unwrap(), None);
    }

    async fn tagged(registry: &Registry, name: &str) -> bool {
        registry
            .get_on_premises_instance(pb::GetOnPremisesInstanceRequest {
                instance_name: name.to_owned(),
            })
            .await
            .unwrap()
            .instance_info
            .unwrap()
            .tags
            .iter()
            .any(|tag| tag.key == TAG_KEY && tag.value == TAG_VALUE)
    }

    #[tokio::test]
    async fn a_stored_credential_is_reused_until_the_registry_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(&ferry_registry::RegistryConfig {
            data_dir: dir.path().join("registry"),
            ..Default::default()
        })
        .await
        .unwrap();
        let file = dir.path().join(CREDENTIAL_FILE);
        let name = "local-1";

        let first = credential(&registry, name, &file).await.unwrap();
        assert_eq!(read_credential(&file).unwrap().as_deref(), Some(&*first));
        assert!(tagged(&registry, name).await);
        assert_eq!(credential(&registry, name, &file).await.unwrap(), first);

        // A removed tag is put back; the credential stays.
        registry
            .remove_tags_from_on_premises_instances(pb::RemoveTagsFromOnPremisesInstancesRequest {
                tags: vec![tag()],
                instance_names: vec![name.to_owned()],
            })
            .await
            .unwrap();
        assert_eq!(credential(&registry, name, &file).await.unwrap(), first);
        assert!(tagged(&registry, name).await);

        // Deregistered: registered again, tagged again, the new credential stored.
        registry
            .deregister_on_premises_instance(pb::DeregisterOnPremisesInstanceRequest {
                instance_name: name.to_owned(),
            })
            .await
            .unwrap();
        let second = credential(&registry, name, &file).await.unwrap();
        assert_ne!(second, first);
        assert_eq!(read_credential(&file).unwrap().as_deref(), Some(&*second));
        assert!(tagged(&registry, name).await);

        // The file lost while the instance is registered: the same.
        std::fs::remove_file(&file).unwrap();
        let third = credential(&registry, name, &file).await.unwrap();
        assert_ne!(third, second);
        assert_eq!(read_credential(&file).unwrap().as_deref(), Some(&*third));
        assert!(tagged(&registry, name).await);
        registry
            .authenticate_on_premises_instance(pb::AuthenticateOnPremisesInstanceRequest {
                instance_name: name.to_owned(),
                instance_credential: third,
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn fewer_agents_untag_the_rest_and_more_bring_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(&ferry_registry::RegistryConfig {
            data_dir: dir.path().join("registry"),
            ..Default::default()
        })
        .await
        .unwrap();
        let credentials = |agents: &LocalAgents| -> Vec<String> {
            agents.agents.iter().map(|a| a.credential.clone()).collect()
        };
        let three = LocalAgents::prepare(&registry, dir.path(), 3)
            .await
            .unwrap();
        // Not one of ferry up's names, though tagged: never touched.
        registry
            .register_on_premises_instance(pb::RegisterOnPremisesInstanceRequest {
                instance_name: "local-04".to_owned(),
                ..Default::default()
            })
            .await
            .unwrap();
        add_tag(&registry, "local-04").await.unwrap();

        let one = LocalAgents::prepare(&registry, dir.path(), 1)
            .await
            .unwrap();
        assert_eq!(credentials(&one), credentials(&three)[..1]);
        assert!(tagged(&registry, "local-1").await);
        assert!(!tagged(&registry, "local-2").await);
        assert!(!tagged(&registry, "local-3").await);
        assert!(tagged(&registry, "local-04").await);

        let again = LocalAgents::prepare(&registry, dir.path(), 3)
            .await
            .unwrap();
        assert_eq!(credentials(&again), credentials(&three));
        for name in ["local-1", "local-2", "local-3"] {
            assert!(tagged(&registry, name).await, "{name}");
        }
    }
}
