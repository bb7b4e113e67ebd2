#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Install event against real files in temporary directories.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use ferry_agent::install::{
    self, CleanupRecord, InstallRequest, Installed, Plan, Tools, install_with, plan_with,
};
use ferry_agent::outcome::{ErrorCode, Failure};
use ferry_agent::users::Accounts;
use ferry_appspec::{AppSpec, FileExistsBehavior, ServerSpec};
use tempfile::TempDir;

const DISALLOW: FileExistsBehavior = FileExistsBehavior::Disallow;
const OVERWRITE: FileExistsBehavior = FileExistsBehavior::Overwrite;

/// A parsed server AppSpec from YAML (`version` and `os` added).
fn spec(body: &str) -> ServerSpec {
    let text = format!("version: 0.0\nos: linux\n{body}");
    let report = ferry_appspec::validate(&text);
    match report.spec {
        Some(AppSpec::Server(spec)) => spec,
        other => panic!(
            "not a valid server AppSpec: {other:?} {:?}",
            report.problems
        ),
    }
}

/// A host: a bundle directory, an install root and a cleanup record, all temporary.
struct Host {
    dir: TempDir,
    accounts: Accounts,
    tools: Tools,
}

impl Host {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("root")).unwrap();
        Self {
            dir,
            accounts: Accounts::default(),
            tools: Tools::default(),
        }
    }

    /// A fresh bundle directory with these files (`path`, content); parents created.
    fn bundle(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let bundle = self.dir.path().join(name);
        fs::create_dir_all(&bundle).unwrap();
        for (path, content) in files {
            write(&bundle.join(path), content);
        }
        bundle
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A path on the re-rooted host.
    fn at(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }

    fn record(&self) -> PathBuf {
        self.dir.path().join("instructions/group-1-cleanup")
    }

    fn request<'a>(
        &'a self,
        spec: &'a ServerSpec,
        bundle: &'a Path,
        behavior: FileExistsBehavior,
        record: &'a Path,
        root: &'a Path,
    ) -> InstallRequest<'a> {
        InstallRequest {
            spec,
            bundle_root: bundle,
            install_root: Some(root),
            deployment_file_exists_behavior: behavior,
            cleanup_record: record,
            accounts: &self.accounts,
        }
    }

    fn install(
        &self,
        spec: &ServerSpec,
        bundle: &Path,
        behavior: FileExistsBehavior,
    ) -> Result<Installed, Failure> {
        let (record, root) = (self.record(), self.root());
        install_with(
            &self.request(spec, bundle, behavior, &record, &root),
            &self.tools,
        )
    }

    fn plan(&self, spec: &ServerSpec, bundle: &Path) -> Result<Plan, Failure> {
        let (record, root) = (self.record(), self.root());
        plan_with(
            &self.request(spec, bundle, DISALLOW, &record, &root),
            &self.tools,
        )
    }

    /// A directory of fake tools (shell scripts logging their arguments to `<name>.log`),
    /// used as the tool search path.
    fn fake_tools(&mut self, names: &[(&str, i32)]) -> PathBuf {
        let bin = self.dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        for (name, status) in names {
            let log = bin.join(format!("{name}.log"));
            let script = format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\nexit {status}\n",
                log.display()
            );
            let path = bin.join(name);
            fs::write(&path, script).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        self.tools.search_path = Some(bin.clone().into_os_string());
        bin
    }
}

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn nobody_group(accounts: &Accounts) -> (String, u32) {
    ["nogroup", "nobody"]
        .iter()
        .find_map(|name| {
            let gid = accounts.group_id(name).unwrap()?;
            Some(((*name).to_owned(), gid))
        })
        .expect("a nogroup or nobody group")
}

#[test]
fn whole_bundle_is_copied_with_symlinks_and_modes() {
    let host = Host::new();
    let bundle = host.bundle(
        "rev",
        &[
            ("appspec.yml", "version: 0.0"),
            ("run.sh", "#!/bin/sh"),
            ("lib/deep/x.txt", "x"),
        ],
    );
    set_mode(&bundle.join("run.sh"), 0o750);
    symlink("run.sh", bundle.join("start")).unwrap();
    let spec = spec("files:\n  - source: /\n    destination: /srv/app\n");

    let done = host.install(&spec, &bundle, DISALLOW).unwrap();

    assert_eq!(
        tree(&host.root()),
        [
            "srv",
            "srv/app",
            "srv/app/appspec.yml",
            "srv/app/lib",
            "srv/app/lib/deep",
            "srv/app/lib/deep/x.txt",
            "srv/app/run.sh",
            "srv/app/start",
        ]
    );
    assert_eq!(read(&host.at("/srv/app/lib/deep/x.txt")), "x");
    assert_eq!(mode(&host.at("/srv/app/run.sh")), 0o750);
    let link = host.at("/srv/app/start");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_link(&link).unwrap(), PathBuf::from("run.sh"));
    assert_eq!(done.files_copied, 4);
    assert_eq!(done.directories_created, 4, "srv, srv/app, lib, lib/deep");

    let record = CleanupRecord::read(&host.record()).unwrap().unwrap();
    assert_eq!(record.files.len(), 4);
    assert!(record.directories.contains(&host.at("/srv")));
    assert!(record.files.contains(&host.at("/srv/app/start")));
}

#[test]
fn directory_and_file_sources_land_where_codedeploy_puts_them() {
    let host = Host::new();
    let bundle = host.bundle(
        "rev",
        &[
            ("appspec.yml", ""),
            ("app/index.html", "hello"),
            ("app/css/site.css", "body{}"),
            ("config/app.conf", "port=80"),
        ],
    );
    let spec = spec(
        "files:\n  - source: app\n    destination: /srv/www\n  - source: config/app.conf\n    destination: /etc/myapp/conf.d\n",
    );

    host.install(&spec, &bundle, DISALLOW).unwrap();

    assert_eq!(read(&host.at("/srv/www/index.html")), "hello");
    assert_eq!(read(&host.at("/srv/www/css/site.css")), "body{}");
    assert!(!host.at("/srv/www/app").exists());
    assert_eq!(read(&host.at("/etc/myapp/conf.d/app.conf")), "port=80");
    assert!(!host.at("/srv/www/appspec.yml").exists());
    assert!(!host.at("/etc/myapp/conf.d/config").exists());
}

#[test]
fn missing_source_fails_naming_it() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("appspec.yml", "")]);
    let spec = spec("files:\n  - source: nothere/app.jar\n    destination: /srv\n");

    let failure = host.install(&spec, &bundle, DISALLOW).unwrap_err();

    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert!(failure.message.contains("nothere/app.jar"), "{failure}");
    assert!(tree(&host.root()).is_empty());
}

#[test]
fn disallow_fails_before_copying_anything() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("a.txt", "new a"), ("b.txt", "new b")]);
    write(&host.at("/srv/app/b.txt"), "someone's b");
    let spec = spec("files:\n  - source: /\n    destination: /srv/app\n");

    let failure = host.install(&spec, &bundle, DISALLOW).unwrap_err();

    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert_eq!(
        failure.message,
        format!(
            "The deployment failed because a specified file already exists at this location: {}",
            host.at("/srv/app/b.txt").display()
        )
    );
    assert!(!host.at("/srv/app/a.txt").exists());
    assert_eq!(read(&host.at("/srv/app/b.txt")), "someone's b");
    assert!(!host.record().exists());
}

#[test]
fn overwrite_replaces_and_retain_keeps() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("a.txt", "new a"), ("b.txt", "new b")]);
    write(&host.at("/srv/app/a.txt"), "old a");
    let spec_of = |behavior: &str| {
        spec(&format!(
            "file_exists_behavior: {behavior}\nfiles:\n  - source: /\n    destination: /srv/app\n"
        ))
    };

    // The AppSpec's RETAIN wins over the deployment's OVERWRITE.
    let done = host
        .install(&spec_of("RETAIN"), &bundle, OVERWRITE)
        .unwrap();
    assert_eq!(read(&host.at("/srv/app/a.txt")), "old a");
    assert_eq!(read(&host.at("/srv/app/b.txt")), "new b");
    assert_eq!((done.files_copied, done.files_retained), (1, 1));
    let record = CleanupRecord::read(&host.record()).unwrap().unwrap();
    assert_eq!(record.files, [host.at("/srv/app/b.txt")]);

    // The next install's cleanup leaves the retained file alone.
    let empty = host.bundle("empty", &[("appspec.yml", "")]);
    host.install(&spec("files: []\n"), &empty, DISALLOW)
        .unwrap();
    assert_eq!(read(&host.at("/srv/app/a.txt")), "old a");
    assert!(!host.at("/srv/app/b.txt").exists());

    // The AppSpec's OVERWRITE wins over the deployment's DISALLOW.
    let done = host
        .install(&spec_of("OVERWRITE"), &bundle, DISALLOW)
        .unwrap();
    assert_eq!(read(&host.at("/srv/app/a.txt")), "new a");
    assert_eq!(done.files_copied, 2);
    // Overwritten files are the install's now: the next install removes them.
    install::remove_previous(&host.record()).unwrap();
    assert!(!host.at("/srv/app/a.txt").exists());
    assert!(!host.record().exists());
}

#[test]
fn deployment_behavior_applies_when_the_appspec_has_none() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("a.txt", "new a")]);
    write(&host.at("/srv/a.txt"), "old a");
    let spec = spec("files:\n  - source: a.txt\n    destination: /srv\n");

    host.install(&spec, &bundle, OVERWRITE).unwrap();

    assert_eq!(read(&host.at("/srv/a.txt")), "new a");
}

#[test]
fn next_install_removes_the_previous_one_first() {
    let host = Host::new();
    let a = host.bundle("rev-a", &[("a", "A's a"), ("b", "A's b"), ("d/c", "A's c")]);
    let b = host.bundle("rev-b", &[("a", "B's a")]);
    let spec = spec("files:\n  - source: /\n    destination: /srv/app\n");

    host.install(&spec, &a, DISALLOW).unwrap();
    assert_eq!(read(&host.at("/srv/app/d/c")), "A's c");

    // DISALLOW does not trip over the previous install's own files.
    let plan = host.plan(&spec, &b).unwrap();
    let text = plan.to_string();
    assert!(
        text.contains(&format!("remove {}", host.at("/srv/app/b").display())),
        "{text}"
    );
    let done = host.install(&spec, &b, DISALLOW).unwrap();

    assert_eq!(read(&host.at("/srv/app/a")), "B's a");
    assert!(!host.at("/srv/app/b").exists());
    assert!(!host.at("/srv/app/d").exists());
    assert_eq!(done.previous_removed, 6, "a, b, d/c, then d, app and srv");
    assert_eq!(tree(&host.root()), ["srv", "srv/app", "srv/app/a"]);
}

#[test]
fn previous_directories_holding_other_files_stay_until_empty() {
    let host = Host::new();
    let a = host.bundle("rev-a", &[("a", "A's a"), ("d/c", "A's c")]);
    let b = host.bundle("rev-b", &[("a", "B's a")]);
    let spec = spec("files:\n  - source: /\n    destination: /srv/app\n");
    host.install(&spec, &a, DISALLOW).unwrap();
    write(&host.at("/srv/app/d/foreign"), "not ferry's");

    host.install(&spec, &b, DISALLOW).unwrap();

    assert_eq!(read(&host.at("/srv/app/d/foreign")), "not ferry's");
    assert!(!host.at("/srv/app/d/c").exists());
    assert_eq!(read(&host.at("/srv/app/a")), "B's a");
    // The directories A created stay recorded, so they go once empty.
    let record = CleanupRecord::read(&host.record()).unwrap().unwrap();
    assert!(record.directories.contains(&host.at("/srv/app")));
    assert!(record.directories.contains(&host.at("/srv/app/d")));
    fs::remove_file(host.at("/srv/app/d/foreign")).unwrap();
    install::remove_previous(&host.record()).unwrap();
    assert!(!host.at("/srv").exists(), "{:?}", tree(&host.root()));
}

#[test]
fn a_failed_disallow_leaves_the_previous_install_in_place() {
    let host = Host::new();
    let a = host.bundle("rev-a", &[("a", "A's a")]);
    let b = host.bundle("rev-b", &[("a", "B's a"), ("taken", "B's")]);
    let spec = spec("files:\n  - source: /\n    destination: /srv/app\n");
    host.install(&spec, &a, DISALLOW).unwrap();
    write(&host.at("/srv/app/taken"), "someone's");

    let failure = host.install(&spec, &b, DISALLOW).unwrap_err();

    assert!(failure.message.contains("already exists"), "{failure}");
    assert_eq!(read(&host.at("/srv/app/a")), "A's a");
    let record = CleanupRecord::read(&host.record()).unwrap().unwrap();
    assert_eq!(record.files, [host.at("/srv/app/a")]);
}

#[test]
fn a_failed_install_is_still_cleaned_up_by_the_next() {
    let mut host = Host::new();
    host.fake_tools(&[("chcon", 1)]);
    let a = host.bundle("rev-a", &[("a", "A's a")]);
    let failing = spec(
        "files:\n  - source: /\n    destination: /srv/app\npermissions:\n  - object: /srv/app\n    context:\n      type: httpd_sys_content_t\n",
    );
    let failure = host.install(&failing, &a, DISALLOW).unwrap_err();
    assert!(failure.message.contains("chcon"), "{failure}");
    assert_eq!(
        read(&host.at("/srv/app/a")),
        "A's a",
        "copied before failing"
    );

    let empty = host.bundle("empty", &[]);
    host.install(&spec("files: []\n"), &empty, DISALLOW)
        .unwrap();

    assert!(tree(&host.root()).is_empty(), "{:?}", tree(&host.root()));
}

#[test]
fn file_and_directory_conflicts_fail() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("conf/x", "x"), ("data", "file")]);
    fs::create_dir_all(host.at("/srv/data")).unwrap();
    let spec1 = spec("files:\n  - source: /\n    destination: /srv\n");
    let failure = host.install(&spec1, &bundle, OVERWRITE).unwrap_err();
    assert!(
        failure.message.contains("a directory is there"),
        "{failure}"
    );
    assert!(
        failure
            .message
            .contains(&host.at("/srv/data").display().to_string())
    );

    write(&host.at("/etc/conf"), "a file");
    let spec2 = spec("files:\n  - source: conf\n    destination: /etc/conf\n");
    let failure = host.install(&spec2, &bundle, OVERWRITE).unwrap_err();
    assert!(failure.message.contains("a file is there"), "{failure}");
    assert!(!host.at("/srv/conf").exists());
}

#[test]
fn a_later_mapping_to_the_same_file_wins() {
    let host = Host::new();
    let bundle = host.bundle(
        "rev",
        &[("one/app.conf", "first"), ("two/app.conf", "second")],
    );
    let spec = spec(
        "files:\n  - source: one/app.conf\n    destination: /etc/app\n  - source: two/app.conf\n    destination: /etc/app\n",
    );

    let done = host.install(&spec, &bundle, DISALLOW).unwrap();

    assert_eq!(read(&host.at("/etc/app/app.conf")), "second");
    assert_eq!(done.files_copied, 1);
}

#[test]
fn mode_follows_pattern_except_and_type() {
    let host = Host::new();
    let bundle = host.bundle(
        "rev",
        &[
            ("bin/run.sh", ""),
            ("bin/skip.sh", ""),
            ("bin/readme.txt", ""),
            ("bin/sub/deep.sh", ""),
            ("data/cache/x", ""),
        ],
    );
    for f in [
        "bin/run.sh",
        "bin/skip.sh",
        "bin/readme.txt",
        "bin/sub/deep.sh",
    ] {
        set_mode(&bundle.join(f), 0o644);
    }
    let spec = spec(
        r#"files:
  - source: /
    destination: /srv/app
permissions:
  - object: /srv/app/bin
    pattern: "*.sh"
    except: [skip.sh]
    mode: 750
    type: [file]
  - object: /srv/app
    mode: 711
    type: [directory]
"#,
    );

    let done = host.install(&spec, &bundle, DISALLOW).unwrap();

    assert_eq!(mode(&host.at("/srv/app/bin/run.sh")), 0o750);
    assert_eq!(mode(&host.at("/srv/app/bin/skip.sh")), 0o644);
    assert_eq!(mode(&host.at("/srv/app/bin/readme.txt")), 0o644);
    assert_eq!(
        mode(&host.at("/srv/app/bin/sub/deep.sh")),
        0o644,
        "* stays in one segment"
    );
    for dir in ["bin", "bin/sub", "data", "data/cache"] {
        assert_eq!(mode(&host.at(&format!("/srv/app/{dir}"))), 0o711, "{dir}");
    }
    assert_ne!(
        mode(&host.at("/srv/app")),
        0o711,
        "the object itself is not below it"
    );
    assert_eq!(done.permissions_applied, 1 + 4);
}

#[test]
fn owner_and_group_are_set_on_installed_objects_only() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("www/index.html", "hi")]);
    write(&host.at("/srv/www/theirs.html"), "not installed");
    let spec = spec(
        "files:\n  - source: www\n    destination: /srv/www\npermissions:\n  - object: /srv/www\n    owner: nobody\n    group: GROUP\n"
            .replace("GROUP", &nobody_group(&host.accounts).0)
            .as_str(),
    );
    let uid = host.accounts.user("nobody").unwrap().unwrap().uid;
    let gid = nobody_group(&host.accounts).1;

    host.install(&spec, &bundle, DISALLOW).unwrap();

    let meta = fs::metadata(host.at("/srv/www/index.html")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let theirs = fs::metadata(host.at("/srv/www/theirs.html")).unwrap();
    assert_ne!(
        theirs.uid(),
        uid,
        "files the install did not copy keep their owner"
    );
}

#[test]
fn unknown_owner_fails_before_copying() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("a", "")]);
    let spec = spec(
        "files:\n  - source: /\n    destination: /srv\npermissions:\n  - object: /srv\n    owner: no-such-user-here\n",
    );

    let failure = host.install(&spec, &bundle, DISALLOW).unwrap_err();

    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert!(failure.message.contains("no-such-user-here"), "{failure}");
    assert!(!host.at("/srv/a").exists());
}

#[test]
fn acls_need_setfacl() {
    let mut host = Host::new();
    host.fake_tools(&[]);
    let bundle = host.bundle("rev", &[("a", "")]);
    let spec = spec(
        "files:\n  - source: /\n    destination: /srv\npermissions:\n  - object: /srv\n    acls: [\"u:nobody:rw\"]\n",
    );

    let failure = host.install(&spec, &bundle, DISALLOW).unwrap_err();

    assert_eq!(
        failure.message,
        "permissions on /srv: acls need setfacl, which this host does not have"
    );
    assert!(!host.at("/srv/a").exists());
}

#[test]
fn acls_and_selinux_context_run_setfacl_and_chcon() {
    let mut host = Host::new();
    let bin = host.fake_tools(&[("setfacl", 0), ("chcon", 0)]);
    let bundle = host.bundle("rev", &[("a", "")]);
    let spec = spec(
        r#"files:
  - source: /
    destination: /srv
permissions:
  - object: /srv/a
    acls: ["u:nobody:rw", "g:nogroup:r"]
    context:
      user: system_u
      type: httpd_sys_content_t
      range: s0:c0,c1
"#,
    );

    host.install(&spec, &bundle, DISALLOW).unwrap();

    let a = host.at("/srv/a").display().to_string();
    assert_eq!(
        read(&bin.join("setfacl.log")),
        format!("-m u:nobody:rw {a}\n-m g:nogroup:r {a}\n")
    );
    assert_eq!(
        read(&bin.join("chcon.log")),
        format!("-u system_u -t httpd_sys_content_t -l s0-s0:c0,c1 {a}\n")
    );
}

#[test]
fn selinux_context_needs_chcon() {
    let mut host = Host::new();
    host.fake_tools(&[("setfacl", 0)]);
    let bundle = host.bundle("rev", &[("a", "")]);
    let spec = spec(
        "files:\n  - source: /\n    destination: /srv\npermissions:\n  - object: /srv\n    context:\n      type: t\n",
    );

    let failure = host.install(&spec, &bundle, DISALLOW).unwrap_err();

    assert!(
        failure
            .message
            .contains("need chcon, which this host does not have"),
        "{failure}"
    );
}

#[test]
fn install_root_reroots_destinations_and_permission_objects() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("tool", "#!/bin/sh")]);
    set_mode(&bundle.join("tool"), 0o644);
    let spec = spec(
        "files:\n  - source: tool\n    destination: /opt/ferry-install-test-9f1c/bin\npermissions:\n  - object: /opt/ferry-install-test-9f1c/bin/tool\n    mode: 700\n",
    );

    host.install(&spec, &bundle, DISALLOW).unwrap();

    let tool = host.at("/opt/ferry-install-test-9f1c/bin/tool");
    assert_eq!(mode(&tool), 0o700);
    assert!(!Path::new("/opt/ferry-install-test-9f1c").exists());
}

#[test]
fn plan_lists_the_install_without_touching_anything() {
    let host = Host::new();
    let bundle = host.bundle("rev", &[("app/index.html", ""), ("app/run.sh", "")]);
    write(&host.at("/srv/www/index.html"), "existing");
    let spec = spec(
        "file_exists_behavior: RETAIN\nfiles:\n  - source: app\n    destination: /srv/www/site\n  - source: app/index.html\n    destination: /srv/www\npermissions:\n  - object: /srv/www/site\n    pattern: \"*.sh\"\n    mode: 755\n",
    );
    let before = tree(&host.root());

    let plan = host.plan(&spec, &bundle).unwrap();

    let site = host.at("/srv/www/site");
    assert_eq!(plan.directories, [host.at("/srv/www/site")]);
    assert_eq!(plan.copies.len(), 2);
    assert_eq!(plan.retained, [host.at("/srv/www/index.html")]);
    let text = plan.to_string();
    for line in [
        "file_exists_behavior: RETAIN".to_owned(),
        format!("mkdir {}", site.display()),
        format!("copy app/index.html -> {}/index.html", site.display()),
        format!("copy app/run.sh -> {}/run.sh", site.display()),
        format!(
            "retain {} (already there)",
            host.at("/srv/www/index.html").display()
        ),
        format!("permissions[0] {}/run.sh: mode 755", site.display()),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    assert_eq!(tree(&host.root()), before);
    assert!(!host.record().exists());
}

#[test]
fn remove_previous_ignores_missing_entries_and_no_record() {
    let host = Host::new();
    install::remove_previous(&host.record()).unwrap();
    let kept = host.at("/kept/file");
    write(&kept, "x");
    let record = CleanupRecord {
        version: install::RECORD_VERSION,
        files: vec![host.at("/gone/file"), host.at("/kept/other")],
        directories: vec![host.at("/gone"), host.at("/kept")],
    };
    record.write(&host.record()).unwrap();

    install::remove_previous(&host.record()).unwrap();

    assert_eq!(read(&kept), "x");
    assert!(!host.record().exists());
}

#[test]
fn an_unreadable_record_fails_and_names_it() {
    let host = Host::new();
    write(&host.record(), "rm /etc/passwd\n");
    let bundle = host.bundle("rev", &[("a", "")]);
    let spec = spec("files:\n  - source: /\n    destination: /srv\n");

    let failure = host.install(&spec, &bundle, DISALLOW).unwrap_err();

    assert!(
        failure
            .message
            .contains(&host.record().display().to_string()),
        "{failure}"
    );
    assert!(!host.at("/srv").exists());
}
