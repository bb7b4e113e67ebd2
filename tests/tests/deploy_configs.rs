#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every file under `deploy/` is checked here, statically (no container runs on this machine):
//!
//! - each service config file loads with that service's own loader (`ferry_runtime::config`
//!   into the service's config type), including the ones embedded in Kubernetes ConfigMaps,
//!   and says what it should (endpoints naming the right services on the right ports);
//! - the compose file and the Kubernetes manifests are well-formed YAML with the structure
//!   they need: config files that exist, mounted where the images look for them, images that
//!   `deploy/docker/Dockerfile` builds, probes, resources;
//! - a YAML file under `deploy/` that this test does not know fails it, so no new file goes
//!   unchecked: add it to [`CONFIG_FILES`], [`COMPOSE_FILES`] or [`KUBERNETES_FILES`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ferry_agent::config::AgentConfig;
use ferry_orchestrator::config::OrchestratorConfig;
use ferry_registry::RegistryConfig;
use ferry_revisions::RevisionsConfig;
use ferry_revisions::config::BlobsKind;
use ferry_runtime::config::{ConfigSources, load};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Service {
    Registry,
    Revisions,
    Orchestrator,
    Agent,
}

impl Service {
    /// The Dockerfile target whose image runs this service.
    fn target(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Revisions => "revisions",
            Self::Orchestrator => "orchestrator",
            Self::Agent => "agent",
        }
    }

    fn from_target(target: &str) -> Option<Self> {
        [
            Self::Registry,
            Self::Revisions,
            Self::Orchestrator,
            Self::Agent,
        ]
        .into_iter()
        .find(|s| s.target() == target)
    }
}

use Service::{Agent, Orchestrator, Registry, Revisions};

/// Every service config file under `deploy/`, and whose it is.
const CONFIG_FILES: &[(&str, Service)] = &[
    // The commented examples of every setting.
    ("config/registry.yaml", Registry),
    ("config/revisions.yaml", Revisions),
    ("config/orchestrator.yaml", Orchestrator),
    ("config/agent.yaml", Agent),
    // The images' built-in configs.
    ("docker/config/registry.yaml", Registry),
    ("docker/config/revisions.yaml", Revisions),
    ("docker/config/orchestrator.yaml", Orchestrator),
    ("docker/config/agent.yaml", Agent),
    // Docker Compose.
    ("compose/config/registry.yaml", Registry),
    ("compose/config/revisions.yaml", Revisions),
    ("compose/config/orchestrator.yaml", Orchestrator),
    ("compose/config/agent-1.yaml", Agent),
    ("compose/config/agent-2.yaml", Agent),
    ("compose/config/agent-3.yaml", Agent),
];

const COMPOSE_FILES: &[&str] = &["compose/compose.yaml"];

/// The Kubernetes manifests; `kustomization.yaml` lists them all.
const KUBERNETES_FILES: &[&str] = &[
    "kubernetes/namespace.yaml",
    "kubernetes/secrets.yaml",
    "kubernetes/registry.yaml",
    "kubernetes/revisions.yaml",
    "kubernetes/orchestrator.yaml",
    "kubernetes/agent.yaml",
];

const KUSTOMIZATION: &str = "kubernetes/kustomization.yaml";

/// The service configs embedded in Kubernetes ConfigMaps: (ConfigMap, key, service).
const CONFIG_MAPS: &[(&str, &str, Service)] = &[
    ("ferry-registry", "registry.yaml", Registry),
    ("ferry-revisions", "revisions.yaml", Revisions),
    ("ferry-orchestrator", "orchestrator.yaml", Orchestrator),
    ("ferry-agent", "agent.yaml", Agent),
];

/// Secrets the manifests use but deliberately do not hold (created per cluster).
const EXTERNAL_SECRETS: &[&str] = &["ferry-agent-credentials"];

/// Stand-ins for `FERRY_…` variables a manifest fills from a Secret or the downward API.
const ENV_STAND_INS: &[(&str, &str)] = &[
    (
        "FERRY_DATABASE_URL",
        "postgres://ferry:secret@postgres.example.internal:5432/ferry",
    ),
    ("NODE_NAME", "node-1"),
];

// ------------------------------------------------------------------------------------------
// Loading

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

#[derive(Debug)]
enum Loaded {
    Registry(Box<RegistryConfig>),
    Revisions(Box<RevisionsConfig>),
    Orchestrator(Box<OrchestratorConfig>),
    Agent(Box<AgentConfig>),
}

impl Loaded {
    fn registry(self) -> RegistryConfig {
        match self {
            Self::Registry(c) => *c,
            other => panic!("not a registry config: {other:?}"),
        }
    }
    fn revisions(self) -> RevisionsConfig {
        match self {
            Self::Revisions(c) => *c,
            other => panic!("not a revisions config: {other:?}"),
        }
    }
    fn orchestrator(self) -> OrchestratorConfig {
        match self {
            Self::Orchestrator(c) => *c,
            other => panic!("not an orchestrator config: {other:?}"),
        }
    }
    fn agent(self) -> AgentConfig {
        match self {
            Self::Agent(c) => *c,
            other => panic!("not an agent config: {other:?}"),
        }
    }

    /// The port a service listens on (none for the agent).
    fn listen_port(&self) -> Option<u16> {
        let listen = match self {
            Self::Registry(c) => &c.listen,
            Self::Revisions(c) => &c.listen,
            Self::Orchestrator(c) => &c.listen,
            Self::Agent(_) => return None,
        };
        Some(port_of(listen))
    }

    /// The other services this config points at, as `http(s)://HOST:PORT` URLs.
    fn endpoints(&self) -> Vec<String> {
        match self {
            Self::Registry(_) => vec![],
            Self::Revisions(c) => vec![c.registry_endpoint.clone()],
            Self::Orchestrator(c) => {
                let mut urls = vec![c.registry_endpoint.clone(), c.revisions_endpoint.clone()];
                urls.extend(c.download_endpoint.clone().filter(|u| !u.is_empty()));
                urls
            }
            Self::Agent(c) => vec![c.orchestrator_endpoint.clone()],
        }
    }
}

/// Loads `file` as `service`'s config through the real loader, with `env` as the environment.
fn load_config(service: Service, file: &Path, env: &[(String, String)]) -> Loaded {
    let sources = ConfigSources {
        file: Some(file.to_owned()),
        env: env.to_vec(),
        overrides: vec![],
    };
    let fail = |e: ferry_runtime::config::ConfigError| -> ! {
        panic!("{} as a {service:?} config: {e}", file.display())
    };
    match service {
        Registry => Loaded::Registry(Box::new(load(&sources).unwrap_or_else(|e| fail(e)))),
        Revisions => Loaded::Revisions(Box::new(load(&sources).unwrap_or_else(|e| fail(e)))),
        Orchestrator => Loaded::Orchestrator(Box::new(load(&sources).unwrap_or_else(|e| fail(e)))),
        Agent => Loaded::Agent(Box::new(load(&sources).unwrap_or_else(|e| fail(e)))),
    }
}

fn load_file(relative: &str) -> Loaded {
    let service = CONFIG_FILES
        .iter()
        .find(|(path, _)| *path == relative)
        .unwrap_or_else(|| panic!("{relative} is not in CONFIG_FILES"))
        .1;
    load_config(service, &deploy().join(relative), &[])
}

/// The default config of `service`, as the loader sees it (to tell setting names apart).
fn defaults(service: Service) -> Value {
    match service {
        Registry => serde_json::to_value(RegistryConfig::default()),
        Revisions => serde_json::to_value(RevisionsConfig::default()),
        Orchestrator => serde_json::to_value(OrchestratorConfig::default()),
        Agent => serde_json::to_value(AgentConfig::default()),
    }
    .unwrap()
}

/// Whether `FERRY_…` variable `name` is a setting of `service` (the loader only warns about
/// one that is not, so a typo in a manifest would go unnoticed).
fn is_setting(service: Service, name: &str) -> bool {
    let Some(rest) = name.strip_prefix("FERRY_") else {
        return false;
    };
    let mut node = &defaults(service);
    for segment in rest.split("__") {
        match node.get(segment.to_ascii_lowercase()) {
            Some(next) => node = next,
            None => return false,
        }
    }
    true
}

fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("{address:?} has no port"))
}

/// `http://registry:50051` → (`registry`, 50051).
fn host_port(url: &str) -> (String, u16) {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("{url:?} is not an http(s) URL"));
    let authority = rest.split('/').next().unwrap();
    let (host, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{url:?} names no port"));
    (host.to_owned(), port.parse().unwrap())
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_at<'a>(value: &'a Value, pointer: &str, what: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{what}: no string at {pointer}"))
}

fn array_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

// ------------------------------------------------------------------------------------------
// The Dockerfile: its targets, where each looks for its config, which have a health check.

#[derive(Debug, Default)]
struct Stage {
    config_path: Option<String>,
    healthcheck: bool,
    exposed: Vec<u16>,
    /// Files copied from the build context (not `--from` another stage).
    copied: Vec<String>,
}

fn dockerfile() -> BTreeMap<String, Stage> {
    let text = std::fs::read_to_string(deploy().join("docker/Dockerfile")).unwrap();
    // Join continuation lines; drop comments.
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                if !current.trim().is_empty() {
                    lines.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    let mut stages: BTreeMap<String, Stage> = BTreeMap::new();
    let mut stage: Option<String> = None;
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
            Some("FROM") => {
                let name = match words.as_slice() {
                    [_, _, as_, name] if as_.eq_ignore_ascii_case("as") => (*name).to_owned(),
                    _ => panic!("Dockerfile: every stage is named ({line})"),
                };
                stages.insert(name.clone(), Stage::default());
                stage = Some(name);
            }
            Some(instruction) => {
                let Some(current) = stage.as_ref().and_then(|s| stages.get_mut(s)) else {
                    continue; // ARGs before the first FROM
                };
                match instruction {
                    "ENV" => {
                        for word in &words[1..] {
                            if let Some(path) = word.strip_prefix("FERRY_CONFIG=") {
                                current.config_path = Some(path.to_owned());
                            }
                        }
                    }
                    "HEALTHCHECK" => current.healthcheck = words.get(1) != Some(&"NONE"),
                    "EXPOSE" => current
                        .exposed
                        .extend(words[1..].iter().map(|p| p.parse::<u16>().unwrap())),
                    "COPY" if !words.iter().any(|w| w.starts_with("--from=")) => {
                        let args: Vec<&str> = words[1..]
                            .iter()
                            .filter(|w| !w.starts_with("--"))
                            .copied()
                            .collect();
                        current
                            .copied
                            .extend(args[..args.len() - 1].iter().map(|s| (*s).to_owned()));
                    }
                    _ => {}
                }
            }
            None => {}
        }
    }
    stages
}

/// The Dockerfile target an image name refers to: `ferry/<target>:<tag>`.
fn image_target(image: &str) -> &str {
    let name = image
        .strip_prefix("ferry/")
        .unwrap_or_else(|| panic!("image {image:?} is not one of ferry's (ferry/<target>:<tag>)"));
    name.split(':').next().unwrap()
}

// ------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_yaml_file_under_deploy_is_known_to_this_test() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = deploy();
    let mut files = Vec::new();
    walk(&root, &mut files);
    let known: BTreeSet<&str> = CONFIG_FILES
        .iter()
        .map(|(path, _)| *path)
        .chain(COMPOSE_FILES.iter().copied())
        .chain(KUBERNETES_FILES.iter().copied())
        .chain([KUSTOMIZATION])
        .collect();
    let mut found = BTreeSet::new();
    for file in files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let is_yaml = matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if is_yaml {
            assert!(
                known.contains(relative.as_str()),
                "deploy/{relative} is not known to tests/tests/deploy_configs.rs: add it to \
                 CONFIG_FILES, COMPOSE_FILES or KUBERNETES_FILES there, so it is checked"
            );
            found.insert(relative);
        }
    }
    for path in known {
        assert!(found.contains(path), "deploy/{path} is listed but missing");
    }
}

#[test]
fn the_commented_examples_load() {
    let registry = load_file("config/registry.yaml").registry();
    assert_eq!(
        registry.database_url.as_deref(),
        Some("postgres://ferry@db.internal:5432/ferry")
    );
    assert_eq!(registry.arn.account, "000000000000");

    let revisions = load_file("config/revisions.yaml").revisions();
    assert_eq!(revisions.registry_endpoint, "http://ferry-registry:50051");
    assert_eq!(revisions.blobs.kind, BlobsKind::S3);
    assert!(revisions.blobs.s3.path_style);

    let orchestrator = load_file("config/orchestrator.yaml").orchestrator();
    assert_eq!(
        orchestrator.registry_endpoint,
        "http://ferry-registry:50051"
    );
    assert_eq!(
        orchestrator.revisions_endpoint,
        "http://ferry-revisions:50052"
    );
    assert_eq!(orchestrator.limits.deployment_timeout_secs, 28_800);

    let agent = load_file("config/agent.yaml").agent();
    assert_eq!(agent.orchestrator_endpoint, "https://ferry.internal:50053");
    assert_eq!(agent.max_revisions, 5);
}

#[test]
fn the_images_default_configs_listen_on_every_interface_and_match_the_dockerfile() {
    let stages = dockerfile();
    for (service, port) in [(Registry, 50051), (Revisions, 50052), (Orchestrator, 50053)] {
        let relative = format!("docker/config/{}.yaml", service.target());
        let loaded = load_file(&relative);
        let stage = &stages[service.target()];
        assert_eq!(loaded.listen_port(), Some(port), "{relative}");
        assert_eq!(stage.exposed, vec![port], "EXPOSE of target {service:?}");
        assert!(stage.healthcheck, "target {service:?} has a HEALTHCHECK");
        let data_dir = match loaded {
            Loaded::Registry(c) => {
                assert_eq!(c.listen, "0.0.0.0:50051");
                c.data_dir
            }
            Loaded::Revisions(c) => {
                assert_eq!(c.registry_endpoint, "http://registry:50051");
                c.data_dir
            }
            Loaded::Orchestrator(c) => {
                assert_eq!(c.registry_endpoint, "http://registry:50051");
                assert_eq!(c.revisions_endpoint, "http://revisions:50052");
                c.data_dir
            }
            Loaded::Agent(_) => unreachable!(),
        };
        assert_eq!(data_dir, Path::new("/var/lib/ferry"), "{relative}");
    }
    let agent = load_file("docker/config/agent.yaml").agent();
    assert_eq!(agent.orchestrator_endpoint, "http://orchestrator:50053");
    assert_eq!(
        agent.install_root(),
        Some(Path::new("/var/lib/ferry-agent/install"))
    );
    assert!(agent.deployment_root.starts_with("/var/lib/ferry-agent"));
    assert!(!stages["agent"].healthcheck);

    // Each image reads its config from where its default is copied, and every file the
    // Dockerfile copies from the build context exists.
    for service in [Registry, Revisions, Orchestrator, Agent] {
        let stage = &stages[service.target()];
        let config = format!("/etc/ferry/{}.yaml", service.target());
        assert_eq!(stage.config_path.as_deref(), Some(config.as_str()));
        assert!(
            stage
                .copied
                .contains(&format!("deploy/docker/config/{}.yaml", service.target())),
            "target {service:?} copies its default config: {:?}",
            stage.copied
        );
    }
    for (name, stage) in &stages {
        for source in &stage.copied {
            if source != "." {
                let path = deploy().join("..").join(source);
                assert!(
                    path.exists(),
                    "stage {name} copies {source}, which is missing"
                );
            }
        }
    }
    assert!(stages.contains_key("ferry"), "the CLI's target");
}

#[test]
fn the_compose_file_is_consistent_with_its_configs_and_the_dockerfile() {
    let compose_dir = deploy().join("compose");
    let compose = yaml(&compose_dir.join("compose.yaml"));
    let stages = dockerfile();
    let services = compose["services"].as_object().expect("services");
    let volumes: BTreeSet<&str> = compose["volumes"]
        .as_object()
        .expect("top-level volumes")
        .keys()
        .map(String::as_str)
        .collect();

    for (name, spec) in services {
        if let Some(target) = spec.pointer("/build/target").and_then(Value::as_str) {
            assert!(
                stages.contains_key(target),
                "{name}: no Dockerfile target {target}"
            );
        }
    }

    // compose service name → its loaded config
    let mut configs: BTreeMap<String, Loaded> = BTreeMap::new();
    let mut mounted = BTreeSet::new();
    for (name, spec) in services {
        let image = spec["image"].as_str();
        assert!(
            image.is_some() || spec.get("build").is_some(),
            "compose service {name}: an image or a build"
        );
        let mut target = None;
        if let Some(build) = spec.get("build") {
            let context = compose_dir.join(str_at(build, "/context", name));
            let dockerfile = context.join(str_at(build, "/dockerfile", name));
            assert!(dockerfile.exists(), "{name}: {}", dockerfile.display());
            let t = str_at(build, "/target", name);
            assert!(stages.contains_key(t), "{name}: no Dockerfile target {t}");
            assert_eq!(
                image.map(image_target),
                Some(t),
                "{name}: image names its target"
            );
            target = Some(t);
        }
        for dependency in spec["depends_on"]
            .as_object()
            .into_iter()
            .flat_map(|d| d.iter())
        {
            let (other, condition) = dependency;
            let other_spec = services
                .get(other)
                .unwrap_or_else(|| panic!("{name} depends on {other}, which is no service"));
            if condition["condition"] == "service_healthy" {
                let image_check = other_spec["build"]["target"]
                    .as_str()
                    .and_then(|t| stages.get(t))
                    .is_some_and(|stage| stage.healthcheck);
                assert!(
                    other_spec.get("healthcheck").is_some() || image_check,
                    "{name} waits for {other} to be healthy, which has no health check"
                );
            }
        }

        let mut mounted_config = None;
        for volume in array_at(spec, "/volumes") {
            let volume = volume.as_str().expect("short volume syntax");
            let mut parts = volume.split(':');
            let (source, target_path) = (parts.next().unwrap(), parts.next().unwrap());
            if source.starts_with("./") || source.starts_with("../") {
                let file = compose_dir.join(source);
                assert!(file.exists(), "{name} mounts {source}, which is missing");
                if let Some(relative) = file
                    .canonicalize()
                    .unwrap()
                    .strip_prefix(deploy().canonicalize().unwrap())
                    .ok()
                    .and_then(Path::to_str)
                    && let Some((_, kind)) = CONFIG_FILES.iter().find(|(p, _)| *p == relative)
                {
                    mounted_config = Some((*kind, relative.to_owned(), target_path.to_owned()));
                }
            } else {
                assert!(
                    volumes.contains(source),
                    "{name} mounts volume {source}, which is not declared"
                );
            }
        }
        let service = target.and_then(Service::from_target);
        match (service, mounted_config) {
            (Some(service), Some((kind, relative, mount))) => {
                assert_eq!(kind, service, "{name} mounts {relative}");
                assert_eq!(
                    Some(mount.as_str()),
                    stages[service.target()].config_path.as_deref(),
                    "{name}: mounted where the image's FERRY_CONFIG points"
                );
                for (variable, _) in spec["environment"].as_object().into_iter().flatten() {
                    assert!(
                        !variable.starts_with("FERRY_") || is_setting(service, variable),
                        "{name}: {variable} is no setting of {service:?}"
                    );
                }
                configs.insert(name.clone(), load_file(&relative));
                mounted.insert(relative);
            }
            (Some(service), None) => panic!("{name} ({service:?}) mounts no config file"),
            (None, Some((_, relative, _))) => {
                panic!("{name} mounts {relative} but runs no service")
            }
            (None, None) => {}
        }
    }

    // Every config file of compose/ is used.
    for (path, _) in CONFIG_FILES {
        if path.starts_with("compose/") {
            assert!(mounted.contains(*path), "no compose service mounts {path}");
        }
    }

    // Every endpoint a config names is a compose service listening on that port.
    for (name, loaded) in &configs {
        for url in loaded.endpoints() {
            let (host, port) = host_port(&url);
            let peer = configs
                .get(&host)
                .unwrap_or_else(|| panic!("{name} points at {url}: no ferry service {host}"));
            assert_eq!(peer.listen_port(), Some(port), "{name} points at {url}");
        }
    }

    // What each one says.
    let mut agents = 0;
    for (name, loaded) in configs {
        match loaded {
            Loaded::Registry(c) => {
                assert!(c.database_url.unwrap().starts_with("postgres://"));
            }
            Loaded::Revisions(c) => {
                assert!(c.database_url.unwrap().starts_with("postgres://"));
                assert_eq!(c.blobs.kind, BlobsKind::S3);
                assert_eq!(c.blobs.bucket.as_deref(), Some("ferry-bundles"));
                assert_eq!(c.blobs.s3.endpoint.as_deref(), Some("http://s3:5000"));
                assert!(c.blobs.s3.path_style && c.blobs.s3.allow_http);
                assert!(services.contains_key("s3"));
                // No keys in the file: they come from the environment.
                assert!(c.blobs.s3.access_key_id.is_none());
                assert!(
                    services[&name]["environment"]
                        .get("AWS_ACCESS_KEY_ID")
                        .is_some()
                );
            }
            Loaded::Orchestrator(c) => {
                assert!(c.database_url.unwrap().starts_with("postgres://"));
                assert_eq!(c.registry_endpoint, "http://registry:50051");
                assert_eq!(c.revisions_endpoint, "http://revisions:50052");
            }
            Loaded::Agent(c) => {
                agents += 1;
                assert_eq!(c.instance_name.as_deref(), Some(name.as_str()));
                assert_eq!(
                    c.credential_file.as_deref(),
                    Some(Path::new(&format!("/var/lib/ferry-credentials/{name}")))
                );
                assert_eq!(c.orchestrator_endpoint, "http://orchestrator:50053");
                assert!(c.install_root().is_some());
                // The bootstrap service registers it.
                let registered: Vec<&str> = array_at(&services["bootstrap"], "/command")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert!(
                    registered.contains(&name.as_str()),
                    "bootstrap registers {name}"
                );
            }
        }
    }
    assert_eq!(agents, 3);
}

/// One Kubernetes object, with the file it came from.
struct Object {
    file: &'static str,
    doc: Value,
}

impl Object {
    fn kind(&self) -> &str {
        str_at(&self.doc, "/kind", self.file)
    }
    fn name(&self) -> &str {
        str_at(&self.doc, "/metadata/name", self.file)
    }
}

fn kubernetes_objects() -> Vec<Object> {
    let mut objects = Vec::new();
    for file in KUBERNETES_FILES {
        let docs = yaml_documents(&deploy().join(file));
        assert!(!docs.is_empty(), "{file} holds no object");
        for doc in docs {
            let object = Object { file, doc };
            str_at(&object.doc, "/apiVersion", file);
            let _ = (object.kind(), object.name());
            if object.kind() != "Namespace" {
                assert_eq!(
                    str_at(&object.doc, "/metadata/namespace", file),
                    "ferry",
                    "{file}: {} {}",
                    object.kind(),
                    object.name()
                );
            }
            objects.push(object);
        }
    }
    objects
}

/// The value of a container's `FERRY_…` (and referenced) variables as the pod would see them:
/// literal values with `$(VAR)` expanded, stand-ins for what comes from elsewhere.
fn container_env(object: &Object, container: &Value) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for entry in array_at(container, "/env") {
        let name = str_at(entry, "/name", object.file).to_owned();
        let value = match entry.get("value").and_then(Value::as_str) {
            Some(value) => {
                let mut value = value.to_owned();
                for (other, other_value) in &env {
                    value = value.replace(&format!("$({other})"), other_value);
                }
                assert!(!value.contains("$("), "{}: {name}={value}", object.file);
                value
            }
            None => ENV_STAND_INS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_else(|| format!("stand-in-for-{name}")),
        };
        env.push((name, value));
    }
    env
}

#[test]
fn the_kubernetes_manifests_are_consistent_with_their_configs_and_the_dockerfile() {
    let objects = kubernetes_objects();
    let stages = dockerfile();
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
    };

    // kustomization.yaml applies every manifest.
    let kustomization = yaml(&deploy().join(KUSTOMIZATION));
    let listed: BTreeSet<String> = array_at(&kustomization, "/resources")
        .iter()
        .map(|r| format!("kubernetes/{}", r.as_str().unwrap()))
        .collect();
    let files: BTreeSet<String> = KUBERNETES_FILES.iter().map(|f| (*f).to_owned()).collect();
    assert_eq!(listed, files, "kustomization.yaml's resources");

    // Every ConfigMap entry is a known service config.
    for object in objects.iter().filter(|o| o.kind() == "ConfigMap") {
        for key in object.doc["data"].as_object().expect("data").keys() {
            assert!(
                CONFIG_MAPS
                    .iter()
                    .any(|(map, k, _)| *map == object.name() && k == key),
                "{}: ConfigMap {} key {key} is not in CONFIG_MAPS",
                object.file,
                object.name()
            );
        }
    }

    // Service name → the port its pods' config listens on, via the workload behind it.
    let mut listening: BTreeMap<String, u16> = BTreeMap::new();
    let mut loaded_by_workload: BTreeMap<String, Loaded> = BTreeMap::new();
    let mut mounted_maps = BTreeSet::new();
    let scratch = tempfile::tempdir().unwrap();

    for workload in objects
        .iter()
        .filter(|o| matches!(o.kind(), "Deployment" | "DaemonSet"))
    {
        let what = format!(
            "{} {} ({})",
            workload.kind(),
            workload.name(),
            workload.file
        );
        let spec = &workload.doc["spec"];
        let template_labels = spec["template"]["metadata"]["labels"]
            .as_object()
            .expect("template labels");
        for (key, value) in spec["selector"]["matchLabels"]
            .as_object()
            .expect("selector")
        {
            assert_eq!(template_labels.get(key), Some(value), "{what}: selector");
        }
        let pod = &spec["template"]["spec"];
        assert_eq!(
            pod["enableServiceLinks"], false,
            "{what}: enableServiceLinks"
        );
        if workload.name() == "ferry-orchestrator" {
            assert_eq!(
                spec["replicas"], 1,
                "{what}: one replica until leases exist"
            );
            assert_eq!(spec["strategy"]["type"], "Recreate", "{what}");
        }
        let volumes = array_at(pod, "/volumes");
        let containers = array_at(pod, "/containers");
        assert_eq!(containers.len(), 1, "{what}: one container");
        for container in containers.iter().chain(array_at(pod, "/initContainers")) {
            let image = str_at(container, "/image", &what);
            assert!(stages.contains_key(image_target(image)), "{what}: {image}");
            for bound in ["requests", "limits"] {
                assert!(
                    container["resources"][bound]["memory"].is_string(),
                    "{what}: resources.{bound}.memory"
                );
            }
            for mount in array_at(container, "/volumeMounts") {
                let volume = str_at(mount, "/name", &what);
                assert!(
                    volumes.iter().any(|v| v["name"] == volume),
                    "{what}: mounts undeclared volume {volume}"
                );
            }
        }
        for volume in volumes {
            if let Some(map) = volume.pointer("/configMap/name").and_then(Value::as_str) {
                assert!(find("ConfigMap", map).is_some(), "{what}: ConfigMap {map}");
            }
            if let Some(secret) = volume.pointer("/secret/secretName").and_then(Value::as_str) {
                assert!(
                    find("Secret", secret).is_some() || EXTERNAL_SECRETS.contains(&secret),
                    "{what}: Secret {secret}"
                );
            }
        }

        let container = &containers[0];
        let service = Service::from_target(image_target(str_at(container, "/image", &what)))
            .unwrap_or_else(|| panic!("{what} runs none of ferry's services"));
        for entry in array_at(container, "/env") {
            if let Some(secret) = entry
                .pointer("/valueFrom/secretKeyRef/name")
                .and_then(Value::as_str)
            {
                let key = str_at(entry, "/valueFrom/secretKeyRef/key", &what);
                let object = find("Secret", secret)
                    .unwrap_or_else(|| panic!("{what}: env from missing Secret {secret}"));
                assert!(
                    object.doc["stringData"].get(key).is_some(),
                    "{what}: Secret {secret} has no key {key}"
                );
            }
        }

        // The config: a ConfigMap key mounted where the image's FERRY_CONFIG points.
        let config_path = stages[service.target()].config_path.clone().unwrap();
        let mount = array_at(container, "/volumeMounts")
            .iter()
            .find(|m| m["mountPath"] == config_path.as_str())
            .unwrap_or_else(|| panic!("{what}: nothing mounted at {config_path}"));
        let volume = volumes.iter().find(|v| v["name"] == mount["name"]).unwrap();
        let map = str_at(volume, "/configMap/name", &what);
        let key = str_at(mount, "/subPath", &what);
        let (_, _, kind) = CONFIG_MAPS
            .iter()
            .find(|(m, k, _)| *m == map && *k == key)
            .unwrap_or_else(|| panic!("{what}: {map}/{key} is not in CONFIG_MAPS"));
        assert_eq!(*kind, service, "{what}: {map}/{key}");
        mounted_maps.insert((map.to_owned(), key.to_owned()));
        let text = str_at(
            &find("ConfigMap", map).unwrap().doc,
            &format!("/data/{key}"),
            map,
        );
        let file = scratch.path().join(format!("{map}-{key}"));
        std::fs::write(&file, text).unwrap();
        let env = container_env(workload, container);
        for (name, _) in &env {
            assert!(
                !name.starts_with("FERRY_") || is_setting(service, name),
                "{what}: {name} is no setting of {service:?}"
            );
        }
        // No password in a ConfigMap: the database URL comes from a Secret.
        let database_url = match load_config(service, &file, &[]) {
            Loaded::Registry(c) => c.database_url,
            Loaded::Revisions(c) => c.database_url,
            Loaded::Orchestrator(c) => c.database_url,
            Loaded::Agent(_) => None,
        };
        assert_eq!(
            database_url, None,
            "{what}: database_url in ConfigMap {map}"
        );
        let loaded = load_config(service, &file, &env);

        // Probes: gRPC health for readiness and start-up on the container's port; liveness.
        if let Some(port) = loaded.listen_port() {
            let ports: Vec<u64> = array_at(container, "/ports")
                .iter()
                .filter_map(|p| p["containerPort"].as_u64())
                .collect();
            assert_eq!(
                ports,
                vec![u64::from(port)],
                "{what}: containerPort = listen port"
            );
            for probe in ["readinessProbe", "startupProbe"] {
                assert_eq!(
                    container[probe]["grpc"]["port"],
                    u64::from(port),
                    "{what}: {probe} over gRPC health on {port}"
                );
            }
            assert!(
                container["livenessProbe"].is_object(),
                "{what}: livenessProbe"
            );
            for svc in objects.iter().filter(|o| o.kind() == "Service") {
                let selector = svc.doc["spec"]["selector"].as_object().unwrap();
                if selector
                    .iter()
                    .all(|(k, v)| template_labels.get(k) == Some(v))
                {
                    for p in array_at(&svc.doc, "/spec/ports") {
                        assert_eq!(p["targetPort"], "grpc", "Service {}", svc.name());
                        listening.insert(svc.name().to_owned(), port);
                        assert_eq!(p["port"], u64::from(port), "Service {}", svc.name());
                    }
                }
            }
        }
        loaded_by_workload.insert(workload.name().to_owned(), loaded);
    }

    for (map, key, _) in CONFIG_MAPS {
        assert!(
            mounted_maps.contains(&((*map).to_owned(), (*key).to_owned())),
            "no workload mounts ConfigMap {map} key {key}"
        );
    }

    // Every endpoint a config names is a Service of these manifests, on the port behind it.
    for (workload, loaded) in &loaded_by_workload {
        for url in loaded.endpoints() {
            let (host, port) = host_port(&url);
            assert_eq!(
                listening.get(&host),
                Some(&port),
                "{workload} points at {url}: no Service {host} in front of a service on {port}"
            );
        }
    }

    // What each one says.
    let registry = loaded_by_workload
        .remove("ferry-registry")
        .unwrap()
        .registry();
    assert_eq!(registry.database_url.as_deref(), Some(ENV_STAND_INS[0].1));
    let revisions = loaded_by_workload
        .remove("ferry-revisions")
        .unwrap()
        .revisions();
    assert_eq!(revisions.registry_endpoint, "http://ferry-registry:50051");
    assert_eq!(revisions.blobs.kind, BlobsKind::S3);
    assert!(revisions.blobs.bucket.is_some());
    assert!(revisions.database_url.is_some(), "from the Secret");
    let orchestrator = loaded_by_workload
        .remove("ferry-orchestrator")
        .unwrap()
        .orchestrator();
    assert_eq!(
        orchestrator.registry_endpoint,
        "http://ferry-registry:50051"
    );
    assert_eq!(
        orchestrator.revisions_endpoint,
        "http://ferry-revisions:50052"
    );
    assert_eq!(
        orchestrator.download_endpoint(),
        orchestrator.revisions_endpoint
    );
    let agent = loaded_by_workload.remove("ferry-agent").unwrap().agent();
    assert_eq!(
        agent.orchestrator_endpoint,
        "http://ferry-orchestrator:50053"
    );
    assert_eq!(agent.instance_name.as_deref(), Some("node-1"));
    assert_eq!(
        agent.credential_file.as_deref(),
        Some(Path::new("/var/lib/ferry-credentials/node-1"))
    );
    assert!(loaded_by_workload.is_empty(), "{loaded_by_workload:?}");
}
