//! pyinfra and Ansible from the test venv (`scripts/install-tools.sh`), each set up to run the
//! rolling deployment of [`Bundle`] to K targets on the local connection, one target directory
//! per host, in the same two halves as ferry's `CodeDeployDefault.HalfAtATime`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::process::Command;

use super::bundle::{Bundle, DESTINATION, INCOMING};

/// `$FERRY_VENV`, else the repository's `.venv`; fails unless both tools are in it.
pub fn venv() -> anyhow::Result<PathBuf> {
    let venv = std::env::var_os("FERRY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    for tool in ["pyinfra", "ansible-playbook", "python"] {
        let path = venv.join("bin").join(tool);
        anyhow::ensure!(
            path.exists(),
            "{} is missing: run scripts/install-tools.sh (or set FERRY_VENV)",
            path.display()
        );
    }
    Ok(venv)
}

/// The first line `<tool> --version` prints.
pub async fn version(venv: &Path, tool: &str) -> anyhow::Result<String> {
    let output = Command::new(venv.join("bin").join(tool))
        .arg("--version")
        .output()
        .await
        .with_context(|| format!("cannot run {tool} --version"))?;
    anyhow::ensure!(output.status.success(), "{tool} --version failed");
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

/// Ansible's `serial: "50%"` batch size for `targets` hosts: half, rounded down, at least 1.
pub fn half(targets: usize) -> usize {
    (targets / 2).max(1)
}

/// The directories of `count` targets, `<dir>/targets/target-<i>`.
fn target_dirs(dir: &Path, count: usize) -> Vec<PathBuf> {
    (1..=count)
        .map(|i| dir.join("targets").join(format!("target-{i}")))
        .collect()
}

/// Runs `command` to completion; fails with the end of its output unless it exits 0.
async fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot start {what}"))?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let tail: String = text
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        anyhow::bail!("{what} exited with {}:\n{tail}", output.status);
    }
    Ok(())
}

/// pyinfra's `@local` connector allows one `@local` host per inventory ("Cannot have more
/// than one @local"), and pyinfra has no serial batches. So each target is its own
/// `pyinfra -y @local deploy.py --data target_dir=…` process (one process per host: pyinfra's
/// parallelism is across hosts, and a single `@local` host looping over K directories would
/// run them one after the other), the processes of a half run concurrently, and the second
/// half starts when the first has exited.
pub struct Pyinfra {
    program: PathBuf,
    dir: PathBuf,
    targets: Vec<PathBuf>,
}

impl Pyinfra {
    pub fn set_up(venv: &Path, dir: &Path, bundle: &Bundle, count: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let [before, after, start] = bundle.scripts().map(|p| p.display().to_string());
        // `-y` executes straight away, without the change detection pass and prompt; no
        // facts are asked for but those `files.put` and `files.directory` need. pyinfra has
        // no unarchive operation: the archive is put, then unpacked by `tar`.
        let deploy = format!(
            r#"from pyinfra import host
from pyinfra.operations import files, server

target = host.data.target_dir
env = {{"FERRY_INSTALL_ROOT": target}}
server.shell(name="BeforeInstall", commands=["{before}"], _env=env)
files.directory(name="Destination", path=target + "/{DESTINATION}")
files.put(name="Copy site", src="{archive}", dest=target + "/{INCOMING}/site.tar.gz")
server.shell(
    name="Unpack site",
    commands=["tar -xzf " + target + "/{INCOMING}/site.tar.gz -C " + target + "/{DESTINATION}"],
)
server.shell(name="AfterInstall", commands=["{after}"], _env=env)
server.shell(name="ApplicationStart", commands=["{start}"], _env=env)
"#,
            archive = bundle.archive().display(),
        );
        std::fs::write(dir.join("deploy.py"), deploy)?;
        let targets = target_dirs(dir, count);
        Ok(Self {
            program: venv.join("bin/pyinfra"),
            dir: dir.to_owned(),
            targets,
        })
    }

    pub fn targets(&self) -> &[PathBuf] {
        &self.targets
    }

    /// The wall time of both halves, processes' start-up included.
    pub async fn deploy(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        for batch in self.targets.chunks(half(self.targets.len())) {
            let mut runs = tokio::task::JoinSet::new();
            for target in batch {
                let mut command = Command::new(&self.program);
                command
                    .current_dir(&self.dir)
                    .args(["-y", "@local", "deploy.py", "--data"])
                    .arg(format!("target_dir={}", target.display()));
                let what = format!("pyinfra for {}", target.display());
                runs.spawn(async move { run(command, &what).await });
            }
            while let Some(joined) = runs.join_next().await {
                joined??;
            }
        }
        Ok(started.elapsed())
    }
}

/// One `ansible-playbook` run over an inventory of K hosts `target-i`, each
/// `ansible_connection=local` with its own `target_dir`, `serial: "50%"`.
pub struct Ansible {
    program: PathBuf,
    dir: PathBuf,
    targets: Vec<PathBuf>,
}

impl Ansible {
    pub fn set_up(venv: &Path, dir: &Path, bundle: &Bundle, count: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        let python = venv.join("bin/python");
        let targets = target_dirs(dir, count);
        let mut inventory = String::from("[targets]\n");
        for (i, target) in targets.iter().enumerate() {
            inventory.push_str(&format!(
                "target-{} ansible_connection=local ansible_python_interpreter={} target_dir={}\n",
                i + 1,
                python.display(),
                target.display()
            ));
        }
        std::fs::write(dir.join("inventory.ini"), inventory)?;
        // The settings Ansible's docs give for speed: as many forks as hosts (the default
        // is 5), no fact gathering (none of the tasks uses a fact), pipelining (modules go
        // to the interpreter's stdin instead of a temporary file per task).
        let config = format!(
            "[defaults]\ninventory = {inventory}\nforks = {count}\ngathering = explicit\n\
             retry_files_enabled = False\nlocal_tmp = {tmp}/local\nremote_tmp = {tmp}/remote\n\
             \n[connection]\npipelining = True\n",
            inventory = dir.join("inventory.ini").display(),
            tmp = dir.join("tmp").display(),
        );
        std::fs::write(dir.join("ansible.cfg"), config)?;
        let [before, after, start] = bundle.scripts().map(|p| p.display().to_string());
        // `strategy: free`: every host runs its tasks as fast as it can instead of waiting,
        // task by task, for the slowest host of its batch (`linear`); the hosts here are
        // independent, and `serial` still bounds each batch to half of them.
        let playbook = format!(
            r#"- name: Rolling deployment
  hosts: targets
  gather_facts: false
  serial: "50%"
  strategy: free
  environment:
    FERRY_INSTALL_ROOT: "{{{{ target_dir }}}}"
  tasks:
    - name: BeforeInstall
      ansible.builtin.command: "{before}"
    - name: Destination
      ansible.builtin.file:
        path: "{{{{ target_dir }}}}/{DESTINATION}"
        state: directory
    - name: Copy and unpack site
      ansible.builtin.unarchive:
        src: "{archive}"
        dest: "{{{{ target_dir }}}}/{DESTINATION}"
    - name: AfterInstall
      ansible.builtin.command: "{after}"
    - name: ApplicationStart
      ansible.builtin.command: "{start}"
"#,
            archive = bundle.archive().display(),
        );
        std::fs::write(dir.join("playbook.yml"), playbook)?;
        Ok(Self {
            program: venv.join("bin/ansible-playbook"),
            dir: dir.to_owned(),
            targets,
        })
    }

    pub fn targets(&self) -> &[PathBuf] {
        &self.targets
    }

    /// The wall time of the `ansible-playbook` process.
    pub async fn deploy(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut command = Command::new(&self.program);
        command
            .current_dir(&self.dir)
            .arg("playbook.yml")
            .env("ANSIBLE_CONFIG", self.dir.join("ansible.cfg"))
            .env("ANSIBLE_HOME", self.dir.join("home"));
        run(command, "ansible-playbook").await?;
        Ok(started.elapsed())
    }
}
