//! The one bundle every tool deploys: 20 text files of a few KiB under `site/` (some in
//! subdirectories) and three hook scripts, and the check that a target holds all of it.
//! ferry ships it as one tar bundle; pyinfra and Ansible ship `site/` as one `site.tar.gz`
//! and unpack it on the target, as their docs advise for a tree of files (one transfer
//! instead of a module run per file).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The AppSpec lifecycle events the bundle has scripts for, in the order they run.
pub const HOOKS: [&str; 3] = ["BeforeInstall", "AfterInstall", "ApplicationStart"];

/// Where the files of `site/` land, under each target's directory.
pub const DESTINATION: &str = "srv/site";

/// Where pyinfra puts `site.tar.gz` on a target before unpacking it.
pub const INCOMING: &str = "incoming";

/// The three scripts, one per [`HOOKS`] entry. Each does a small real thing in the target's
/// directory, `$FERRY_INSTALL_ROOT` (what ferry's agent sets; pyinfra and Ansible export the
/// same variable): BeforeInstall creates the marker directory, AfterInstall checks a copied
/// file, ApplicationStart checks AfterInstall's marker. Each writes its marker with the time
/// it ran (ns since the epoch), which the batches are read from.
const SCRIPTS: [(&str, &str); 3] = [
    (
        "scripts/before_install.sh",
        "#!/bin/sh\nset -eu\nmkdir -p \"$FERRY_INSTALL_ROOT/markers\"\n\
         date +%s%N > \"$FERRY_INSTALL_ROOT/markers/before_install\"\n",
    ),
    (
        "scripts/after_install.sh",
        "#!/bin/sh\nset -eu\ntest -f \"$FERRY_INSTALL_ROOT/srv/site/index.html\"\n\
         date +%s%N > \"$FERRY_INSTALL_ROOT/markers/after_install\"\n",
    ),
    (
        "scripts/application_start.sh",
        "#!/bin/sh\nset -eu\ntest -f \"$FERRY_INSTALL_ROOT/markers/after_install\"\n\
         date +%s%N > \"$FERRY_INSTALL_ROOT/markers/application_start\"\n",
    ),
];

/// The markers [`SCRIPTS`] write, in order.
const MARKERS: [&str; 3] = ["before_install", "after_install", "application_start"];

pub struct Bundle {
    /// `site/…` paths (relative to `site/`) and their contents.
    site: Vec<(String, String)>,
    /// The bundle written out: `appspec.yml`, `site/`, `scripts/`.
    pub dir: PathBuf,
}

impl Bundle {
    /// Generates the files and writes the bundle under `dir`.
    pub fn write(dir: &Path) -> anyhow::Result<Self> {
        let mut names: Vec<String> = vec!["index.html".into()];
        names.extend((1..=11).map(|i| format!("page-{i:02}.html")));
        names.extend((1..=4).map(|i| format!("css/style-{i}.css")));
        names.extend((1..=4).map(|i| format!("js/app-{i}.js")));
        let site = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let mut content = String::new();
                let mut line = 0;
                // 2–5 KiB, different in every file.
                while content.len() < 2048 + i * 160 {
                    content.push_str(&format!("{name} line {line:04}: {}\n", i * 7919 + line));
                    line += 1;
                }
                (name, content)
            })
            .collect();
        let bundle = Self {
            site,
            dir: dir.to_owned(),
        };
        for (path, content, mode) in bundle.files() {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().context("a bundle path has no parent")?)?;
            std::fs::write(&file, content)
                .with_context(|| format!("cannot write {}", file.display()))?;
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
        }
        let status = std::process::Command::new("tar")
            .arg("-czf")
            .arg(bundle.archive())
            .arg("-C")
            .arg(dir.join("site"))
            .arg(".")
            .status()
            .context("cannot run tar")?;
        anyhow::ensure!(status.success(), "tar exited with {status}");
        Ok(bundle)
    }

    /// Every file of the bundle as ferry uploads it: path, content, mode.
    pub fn files(&self) -> Vec<(String, String, u32)> {
        let mut appspec = format!(
            "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /{DESTINATION}\nhooks:\n"
        );
        for (event, (script, _)) in HOOKS.iter().zip(SCRIPTS) {
            appspec.push_str(&format!("  {event}:\n    - location: {script}\n"));
        }
        let mut files = vec![("appspec.yml".to_owned(), appspec, 0o644)];
        files.extend(
            self.site
                .iter()
                .map(|(name, content)| (format!("site/{name}"), content.clone(), 0o644)),
        );
        files.extend(
            SCRIPTS
                .iter()
                .map(|(path, content)| ((*path).to_owned(), (*content).to_owned(), 0o755)),
        );
        files
    }

    /// `site/` as one gzipped tar, its paths relative to `site/`.
    pub fn archive(&self) -> PathBuf {
        self.dir.join("site.tar.gz")
    }

    /// The script of each of [`HOOKS`], as a path in the written bundle.
    pub fn scripts(&self) -> [PathBuf; 3] {
        SCRIPTS.map(|(path, _)| self.dir.join(path))
    }

    pub fn site_files(&self) -> usize {
        self.site.len()
    }

    /// Fails unless `target` holds every file of `site/` with its content under
    /// [`DESTINATION`] and the three markers in order; returns when BeforeInstall and
    /// ApplicationStart ran there (ns since the epoch).
    pub fn verify(&self, target: &Path) -> anyhow::Result<(u128, u128)> {
        for (name, content) in &self.site {
            let path = target.join(DESTINATION).join(name);
            let found = std::fs::read_to_string(&path)
                .with_context(|| format!("{} was not copied", path.display()))?;
            anyhow::ensure!(&found == content, "{} differs", path.display());
        }
        let mut times = Vec::new();
        for marker in MARKERS {
            let path = target.join("markers").join(marker);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("the hook writing {} did not run", path.display()))?;
            times.push(
                text.trim()
                    .parse::<u128>()
                    .with_context(|| format!("{} holds {text:?}", path.display()))?,
            );
        }
        anyhow::ensure!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "the hooks ran out of order in {}",
            target.display()
        );
        Ok((times[0], times[2]))
    }
}

/// Empties `target` of what a deployment put there, so the next run copies everything again.
pub fn clear(target: &Path) -> anyhow::Result<()> {
    for dir in [DESTINATION, "markers", INCOMING] {
        let path = target.join(dir);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("cannot remove {}", path.display()));
            }
        }
    }
    std::fs::create_dir_all(target).with_context(|| format!("cannot create {}", target.display()))
}

/// The most targets that were between BeforeInstall and ApplicationStart at the same time.
pub fn most_at_once(spans: &[(u128, u128)]) -> usize {
    let mut edges: Vec<(u128, i32)> = spans
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    // At a tie, an end comes before a start: touching spans do not overlap.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}
