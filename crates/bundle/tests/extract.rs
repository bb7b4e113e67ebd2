//! Well-formed bundles: tar, tgz and zip of one small tree extract byte for byte with their
//! modes and symlinks; the single top-level folder rule; `read_entry`; the destination rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{self, Cursor, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferry_bundle::{BundleError, BundleType, Extracted, Limits, extract, read_entry, sniff};
use flate2::Compression;
use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;

const KINDS: [BundleType; 3] = [BundleType::Tar, BundleType::Tgz, BundleType::Zip];

enum Spec {
    Dir(&'static str, u32),
    File(&'static str, Vec<u8>, u32),
    Symlink(&'static str, &'static str),
}
use Spec::{Dir, File, Symlink};

const APPSPEC: &[u8] = b"version: 0.0\nos: linux\n";

/// The test bundle: a hook script, a setuid script, a private file, a nested directory with
/// 200 KB of data (more than one copy buffer), and symlinks that stay inside.
fn tree() -> Vec<Spec> {
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    vec![
        File("appspec.yml", APPSPEC.to_vec(), 0o644),
        Dir("scripts/", 0o755),
        File(
            "scripts/install.sh",
            b"#!/bin/sh\necho installing\n".to_vec(),
            0o755,
        ),
        File("scripts/setuid.sh", b"#!/bin/sh\nid\n".to_vec(), 0o4755),
        File("scripts/private.txt", b"secret\n".to_vec(), 0o600),
        Symlink("scripts/run.sh", "install.sh"),
        Dir("app/", 0o755),
        Dir("app/nested/", 0o750),
        File("app/nested/data.bin", data, 0o644),
        Symlink("app/current", "nested"),
        Symlink("app/nested/spec", "../../appspec.yml"),
    ]
}

fn build(kind: BundleType, specs: &[Spec], prefix: &str) -> Vec<u8> {
    match kind {
        BundleType::Tar => tar(specs, prefix),
        BundleType::Tgz => {
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            gz.write_all(&tar(specs, prefix)).unwrap();
            gz.finish().unwrap()
        }
        BundleType::Zip => zip(specs, prefix),
    }
}

fn tar(specs: &[Spec], prefix: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for spec in specs {
        let mut h = tar::Header::new_ustar();
        match spec {
            Dir(name, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, format!("{prefix}{name}"), io::empty())
                    .unwrap();
            }
            File(name, data, mode) => {
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, format!("{prefix}{name}"), &data[..])
                    .unwrap();
            }
            Symlink(name, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, format!("{prefix}{name}"), target)
                    .unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn zip(specs: &[Spec], prefix: &str) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for spec in specs {
        match spec {
            Dir(name, mode) => {
                let options = options.unix_permissions(*mode);
                z.add_directory(format!("{prefix}{name}"), options).unwrap();
            }
            File(name, data, mode) => {
                let options = options.unix_permissions(*mode);
                z.start_file(format!("{prefix}{name}"), options).unwrap();
                z.write_all(data).unwrap();
            }
            Symlink(name, target) => {
                z.add_symlink(format!("{prefix}{name}"), *target, options)
                    .unwrap();
            }
        }
    }
    z.finish().unwrap().into_inner()
}

/// Checks `dest` holds exactly `specs`, with content, modes and link targets.
fn check_tree(dest: &Path, specs: &[Spec]) {
    let mut expected = Vec::new();
    for spec in specs {
        match spec {
            Dir(name, mode) => {
                let path = dest.join(name);
                let meta = fs::symlink_metadata(&path).unwrap();
                assert!(meta.is_dir(), "{name}");
                assert_eq!(meta.permissions().mode() & 0o7777, mode | 0o700, "{name}");
                expected.push(PathBuf::from(name.trim_end_matches('/')));
            }
            File(name, data, mode) => {
                let path = dest.join(name);
                let meta = fs::symlink_metadata(&path).unwrap();
                assert!(meta.is_file(), "{name}");
                assert_eq!(&fs::read(&path).unwrap(), data, "{name}");
                assert_eq!(meta.permissions().mode() & 0o7777, mode & 0o777, "{name}");
                expected.push(PathBuf::from(name));
            }
            Symlink(name, target) => {
                let path = dest.join(name);
                assert!(
                    fs::symlink_metadata(&path)
                        .unwrap()
                        .file_type()
                        .is_symlink()
                );
                assert_eq!(fs::read_link(&path).unwrap(), Path::new(target), "{name}");
                expected.push(PathBuf::from(name));
            }
        }
    }
    expected.sort();
    assert_eq!(walk(dest), expected);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            out.push(entry.path().strip_prefix(dir).unwrap().to_path_buf());
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

fn file_bytes(specs: &[Spec]) -> u64 {
    specs
        .iter()
        .map(|s| match s {
            File(_, data, _) => data.len() as u64,
            _ => 0,
        })
        .sum()
}

#[test]
fn tar_tgz_and_zip_extract_byte_for_byte_with_modes() {
    let specs = tree();
    for kind in KINDS {
        let archive = build(kind, &specs, "");
        let (sniffed, reader) = sniff(&archive[..]).unwrap();
        assert_eq!(sniffed, Some(kind));
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("rev");
        let got = extract(reader, kind, &dest, &Limits::default()).unwrap();
        let want = Extracted {
            files: 5,
            bytes: file_bytes(&specs),
            stripped_prefix: None,
        };
        assert_eq!(got, want, "{kind}");
        check_tree(&dest, &specs);
        assert_eq!(
            walk(tmp.path()).len(),
            walk(&dest).len() + 1,
            "only dest in its parent"
        );
    }
}

#[test]
fn a_single_top_level_folder_is_stripped() {
    for kind in KINDS {
        // tar lists no entry for the folder itself (it is implied); the zip does.
        let mut specs = Vec::new();
        if kind == BundleType::Zip {
            specs.push(Dir("", 0o755));
        }
        specs.extend(tree());
        let archive = build(kind, &specs, "bundle-1.0/");
        let tmp = tempfile::tempdir().unwrap();
        let got = extract(&archive[..], kind, tmp.path(), &Limits::default()).unwrap();
        assert_eq!(got.stripped_prefix.as_deref(), Some("bundle-1.0"), "{kind}");
        check_tree(tmp.path(), &tree());
    }
}

#[test]
fn two_top_level_entries_or_a_single_file_are_not_stripped() {
    let two = vec![
        Dir("a/", 0o755),
        File("a/x", b"x".to_vec(), 0o644),
        Dir("b/", 0o755),
        File("b/y", b"y".to_vec(), 0o644),
    ];
    let one_file = vec![File("appspec.yml", APPSPEC.to_vec(), 0o644)];
    for kind in KINDS {
        for specs in [&two, &one_file] {
            let tmp = tempfile::tempdir().unwrap();
            let archive = build(kind, specs, "");
            let got = extract(&archive[..], kind, tmp.path(), &Limits::default()).unwrap();
            assert_eq!(got.stripped_prefix, None, "{kind}");
            check_tree(tmp.path(), specs);
        }
    }
}

#[test]
fn read_entry_finds_appspec_with_and_without_a_top_folder() {
    let specs = tree();
    for kind in KINDS {
        for prefix in ["", "my-app/"] {
            let archive = build(kind, &specs, prefix);
            let read = |name: &str| read_entry(&archive[..], kind, name, 1 << 20).unwrap();
            assert_eq!(
                read("appspec.yml").as_deref(),
                Some(APPSPEC),
                "{kind} {prefix:?}"
            );
            assert_eq!(read("./appspec.yml").as_deref(), Some(APPSPEC));
            let hook = read("scripts/install.sh").unwrap();
            assert!(hook.starts_with(b"#!/bin/sh"));
            assert_eq!(read("appspec.yaml"), None);
            // A symlink is not a regular file.
            assert_eq!(read("scripts/run.sh"), None, "{kind} {prefix:?}");
            // The folder itself is never part of the bundle path.
            assert_eq!(read("my-app/appspec.yml"), None);
            let err = read_entry(&archive[..], kind, "app/nested/data.bin", 1000).unwrap_err();
            assert!(
                matches!(err, BundleError::FileTooLarge { limit: 1000, .. }),
                "{err}"
            );
        }
    }
}

#[test]
fn read_entry_refuses_an_unsafe_name() {
    let archive = build(BundleType::Tar, &tree(), "");
    let err = read_entry(&archive[..], BundleType::Tar, "../appspec.yml", 100).unwrap_err();
    assert!(matches!(err, BundleError::UnsafePath { .. }), "{err}");
}

#[test]
fn destination_must_be_empty_and_is_left_untouched_otherwise() {
    let archive = build(BundleType::Tar, &tree(), "");
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("keep"), b"mine").unwrap();
    let err = extract(
        &archive[..],
        BundleType::Tar,
        tmp.path(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, BundleError::BadDestination { .. }), "{err}");
    assert_eq!(walk(tmp.path()), [PathBuf::from("keep")]);

    let file = tmp.path().join("keep");
    let err = extract(&archive[..], BundleType::Tar, &file, &Limits::default()).unwrap_err();
    assert!(matches!(err, BundleError::BadDestination { .. }), "{err}");
    assert_eq!(fs::read(&file).unwrap(), b"mine");
}

#[test]
fn a_bundle_may_contain_the_staging_name() {
    for prefix in ["", "top/"] {
        let specs = vec![
            File(".ferry-staging", b"not ours".to_vec(), 0o644),
            File("appspec.yml", APPSPEC.to_vec(), 0o644),
        ];
        let tmp = tempfile::tempdir().unwrap();
        let archive = build(BundleType::Zip, &specs, prefix);
        extract(
            &archive[..],
            BundleType::Zip,
            tmp.path(),
            &Limits::default(),
        )
        .unwrap();
        check_tree(tmp.path(), &specs);
    }
}

#[test]
fn tar_quirks_dot_prefix_repeated_directories_and_hard_links() {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, ty: tar::EntryType, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(if ty.is_dir() { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        match link {
            Some(target) => b.append_link(&mut h, path, target).unwrap(),
            None => b.append_data(&mut h, path, data).unwrap(),
        }
    };
    add("./", tar::EntryType::Directory, b"", None);
    add("./conf/", tar::EntryType::Directory, b"", None);
    add("./conf/a.cfg", tar::EntryType::Regular, b"a=1\n", None);
    add("./conf/", tar::EntryType::Directory, b"", None);
    add(
        "./conf/b.cfg",
        tar::EntryType::Link,
        b"",
        Some("./conf/a.cfg"),
    );
    add("./appspec.yml", tar::EntryType::Regular, APPSPEC, None);
    let archive = b.into_inner().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let got = extract(
        &archive[..],
        BundleType::Tar,
        tmp.path(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((got.files, got.stripped_prefix), (3, None));
    assert_eq!(fs::read(tmp.path().join("conf/b.cfg")).unwrap(), b"a=1\n");
    assert_eq!(walk(tmp.path()).len(), 4);
}
