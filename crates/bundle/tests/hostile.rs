//! Every archive of the hostile corpus (tests/fixtures/hostile, made by make_hostile.py) is
//! refused with the expected error, and leaves nothing behind: the destination is removed if
//! `extract` created it, and empty if it existed; nothing else appears anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use ferry_bundle::{
    BundleError, BundleType, Limits, LinkProblem, PathProblem, extract, read_entry,
    read_entry_with_limits,
};

struct Case {
    file: &'static str,
    expect: fn(&BundleError) -> bool,
    /// `read_entry("appspec.yml")` refuses it too, with the same error.
    read_refuses: bool,
    /// [`Limits::max_entries`] for this case; every other limit is the default.
    max_entries: u64,
}

const DEFAULT_MAX_ENTRIES: u64 = 50_000;

macro_rules! case {
    ($file:literal, $pattern:pat) => {
        case!($file, $pattern, read_refuses: true, max_entries: DEFAULT_MAX_ENTRIES)
    };
    ($file:literal, $pattern:pat, read_refuses: false) => {
        case!($file, $pattern, read_refuses: false, max_entries: DEFAULT_MAX_ENTRIES)
    };
    ($file:literal, $pattern:pat, max_entries: $max:expr) => {
        case!($file, $pattern, read_refuses: true, max_entries: $max)
    };
    ($file:literal, $pattern:pat, read_refuses: $read:expr, max_entries: $max:expr) => {
        Case { file: $file, expect: |e| matches!(e, $pattern), read_refuses: $read, max_entries: $max }
    };
}

use BundleError as E;
use LinkProblem as L;
use PathProblem as P;

#[rustfmt::skip]
const CASES: &[Case] = &[
    case!("zip_slip.zip", E::UnsafePath { problem: P::ParentDir, .. }),
    case!("tar_slip.tar", E::UnsafePath { problem: P::ParentDir, .. }),
    case!("absolute_path.tar", E::UnsafePath { problem: P::Absolute, .. }),
    case!("absolute_path.zip", E::UnsafePath { problem: P::Absolute, .. }),
    case!("backslash.zip", E::UnsafePath { problem: P::Backslash, .. }),
    case!("drive_prefix.zip", E::UnsafePath { problem: P::WindowsPrefix, .. }),
    case!("long_name.tar", E::UnsafePath { problem: P::TooLong, .. }),
    case!("too_deep.tar", E::UnsafePath { problem: P::TooDeep, .. }),
    case!("symlink_escape.tar", E::UnsafeSymlink { problem: L::EscapesRoot, .. }),
    case!("symlink_absolute.tar", E::UnsafeSymlink { problem: L::Absolute, .. }),
    case!("symlink_escape_after_strip.tar", E::UnsafeSymlink { problem: L::EscapesRoot, .. }),
    case!("symlink_dotdot_after_name.tar", E::UnsafeSymlink { problem: L::DotDotAfterName, .. }),
    // A zip symlink's target is entry data, which read_entry does not read.
    case!("symlink_escape.zip", E::UnsafeSymlink { problem: L::EscapesRoot, .. }, read_refuses: false),
    case!("write_through_symlink.tar", E::ThroughSymlink { .. }),
    case!("write_through_symlink.zip", E::ThroughSymlink { .. }),
    case!("hardlink_escape.tar", E::UnsafeHardLink { problem: L::EscapesRoot, .. }),
    case!("hardlink_absolute.tar", E::UnsafeHardLink { problem: L::Absolute, .. }),
    case!("hardlink_missing.tar", E::UnsafeHardLink { problem: L::NotExtractedFile, .. }),
    case!("char_device.tar", E::SpecialFile { .. }),
    case!("block_device.tar", E::SpecialFile { .. }),
    case!("fifo.tar", E::SpecialFile { .. }),
    case!("socket.zip", E::SpecialFile { .. }),
    case!("duplicate.tar", E::DuplicateEntry { .. }),
    case!("file_then_dir.tar", E::NotADirectory { .. }),
    // read_entry skips the zip bomb's data without inflating it.
    case!("zip_bomb.zip", E::RatioExceeded { limit: 200, .. }, read_refuses: false),
    case!("tgz_bomb.tgz", E::RatioExceeded { limit: 200, .. }),
    case!("many_entries.tgz", E::TooManyEntries { limit: 50_000, .. }),
    // 600 entries imply 60 000 directories, so this is refused with the default limit too;
    // a lower one keeps the test from making 50 000 directories first.
    case!("deep_paths.tgz", E::TooManyEntries { limit: 5_000, .. }, max_entries: 5_000),
    // Not hostile: sizes after the data, which a streaming zip reader cannot handle.
    case!("data_descriptor.zip", E::Archive { kind: BundleType::Zip, .. }),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name)
}

fn open(name: &str) -> (BufReader<File>, BundleType) {
    let path = fixture(name);
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("tar") => BundleType::Tar,
        Some("tgz") => BundleType::Tgz,
        Some("zip") => BundleType::Zip,
        other => panic!("unexpected fixture extension {other:?}"),
    };
    (BufReader::new(file), kind)
}

/// Every path below `dir`, relative to it.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Extracts `case` into `<tmp>/outer/inner/target` (so that `../../x` from the target still
/// lands inside `tmp`), then checks the error and that nothing is left anywhere.
fn refuse(case: &Case, precreate: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let parent = tmp.path().join("outer/inner");
    fs::create_dir_all(&parent).unwrap();
    let target = parent.join("target");
    if precreate {
        fs::create_dir(&target).unwrap();
    }
    let (reader, kind) = open(case.file);
    let limits = Limits {
        max_entries: case.max_entries,
        ..Limits::default()
    };
    let err = extract(reader, kind, &target, &limits)
        .expect_err(&format!("{} must be refused", case.file));
    assert!(
        (case.expect)(&err),
        "{}: unexpected error {err:?}",
        case.file
    );

    let mut expected = vec![PathBuf::from("outer"), PathBuf::from("outer/inner")];
    if precreate {
        expected.push(PathBuf::from("outer/inner/target"));
    }
    assert_eq!(
        walk(tmp.path()),
        expected,
        "{}: left something behind",
        case.file
    );
}

#[test]
fn every_hostile_archive_is_refused_into_a_new_directory() {
    for case in CASES {
        refuse(case, false);
    }
    assert!(!Path::new("/tmp/ferry-hostile-absolute").exists());
}

/// This one writes 50 000 files before it is refused, which takes seconds on a slow disk; the
/// clean-up it needs is the same in both modes, so it runs in one.
const HEAVY: &[&str] = &["many_entries.tgz"];

#[test]
fn every_hostile_archive_is_refused_into_an_existing_empty_directory() {
    for case in CASES.iter().filter(|c| !HEAVY.contains(&c.file)) {
        refuse(case, true);
    }
}

#[test]
fn read_entry_refuses_the_same_archives() {
    for case in CASES {
        let (reader, kind) = open(case.file);
        let limits = Limits {
            max_entries: case.max_entries,
            ..Limits::default()
        };
        let result = read_entry_with_limits(reader, kind, "appspec.yml", 1 << 20, &limits);
        if case.read_refuses {
            let err = result.expect_err(case.file);
            assert!(
                (case.expect)(&err),
                "{}: unexpected error {err:?}",
                case.file
            );
        } else {
            assert!(matches!(result, Ok(None)), "{}: {result:?}", case.file);
        }
    }
}

#[test]
fn the_corpus_is_complete() {
    let mut on_disk: Vec<String> = fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.file.to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every fixture has a case, and every case a fixture"
    );
}

#[test]
fn errors_name_the_offending_entry() {
    let cases = [
        ("zip_slip.zip", "../ferry-hostile-slip"),
        ("backslash.zip", "..\\ferry-hostile-backslash"),
        ("symlink_escape.tar", "app/etc"),
        (
            "write_through_symlink.tar",
            "app/link/ferry-hostile-through",
        ),
        ("char_device.tar", "dev/null"),
    ];
    for (file, entry) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (reader, kind) = open(file);
        let err = extract(reader, kind, &tmp.path().join("t"), &Limits::default()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&format!("{entry:?}")), "{file}: {message}");
    }
    // The 50 000th file goes over, as the implied `e/` counts too (read_entry shares the
    // check and does not write 50 000 files first).
    let (reader, kind) = open("many_entries.tgz");
    let err = read_entry(reader, kind, "appspec.yml", 100).unwrap_err();
    assert!(err.to_string().contains("\"e/049999\""), "{err}");
}

#[test]
fn zip_bomb_hits_size_limits_when_the_ratio_allows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let generous = Limits {
        max_ratio: u64::MAX,
        max_total_bytes: 50 << 20,
        ..Limits::default()
    };
    let (reader, kind) = open("zip_bomb.zip");
    let err = extract(reader, kind, &tmp.path().join("a"), &generous).unwrap_err();
    assert!(
        matches!(err, E::TotalTooLarge { limit, .. } if limit == 50 << 20),
        "{err:?}"
    );

    let per_file = Limits {
        max_ratio: u64::MAX,
        max_file_bytes: 10 << 20,
        ..Limits::default()
    };
    let (reader, kind) = open("zip_bomb.zip");
    let err = extract(reader, kind, &tmp.path().join("b"), &per_file).unwrap_err();
    assert!(
        matches!(err, E::FileTooLarge { limit, .. } if limit == 10 << 20),
        "{err:?}"
    );
    assert_eq!(walk(tmp.path()), Vec::<PathBuf>::new());
}

#[test]
fn read_entry_bounds_the_entry_it_reads() {
    let (reader, kind) = open("zip_bomb.zip");
    let err = read_entry(reader, kind, "bomb.bin", 1 << 20).unwrap_err();
    assert!(
        matches!(err, E::FileTooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );

    let (reader, kind) = open("many_entries.tgz");
    let few = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let err = read_entry_with_limits(reader, kind, "appspec.yml", 1024, &few).unwrap_err();
    assert!(
        matches!(err, E::TooManyEntries { limit: 10, .. }),
        "{err:?}"
    );
}
