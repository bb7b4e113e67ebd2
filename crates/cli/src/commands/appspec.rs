//! `ferry appspec validate PATH`: an AppSpec file, a bundle directory, or a bundle archive.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ferry_appspec::{APPSPEC_NAMES, AppSpec, Format, Problem, Report, Summary};
use ferry_bundle::{BundleType, Limits};
use serde::Serialize;

use super::{EXIT_INVALID, EXIT_OK};

#[derive(Subcommand)]
pub enum AppspecCommand {
    /// Validate an AppSpec file, a bundle directory, or a bundle archive (tar, tgz, zip).
    ///
    /// A bundle is checked as CodeDeploy would read it: its appspec.yml (or appspec.yaml)
    /// is validated, then the hook scripts and file sources it names are looked for in the
    /// bundle. Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error.
    Validate(ValidateArgs),
}

#[derive(Args)]
pub struct ValidateArgs {
    /// An AppSpec file, a directory holding one at its root, or a tar/tgz/zip archive.
    path: PathBuf,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// The syntax of the AppSpec (default: from a `.json` extension, else sniffed).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Yaml,
    Json,
}

pub fn run(command: AppspecCommand) -> anyhow::Result<u8> {
    match command {
        AppspecCommand::Validate(args) => validate(&args),
    }
}

/// What was validated, and what was found.
struct Outcome {
    /// The AppSpec file, as shown in problem lines (`bundle.tgz!appspec.yml` for an archive).
    shown: String,
    report: Report,
}

fn validate(args: &ValidateArgs) -> anyhow::Result<u8> {
    let path = &args.path;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let outcome = if meta.is_dir() {
        bundle_dir(path, None, args.format)?
    } else {
        let mut prefix = Vec::with_capacity(BundleType::SNIFF_LEN);
        File::open(path)
            .and_then(|f| {
                f.take(BundleType::SNIFF_LEN as u64)
                    .read_to_end(&mut prefix)
            })
            .with_context(|| format!("cannot read {}", path.display()))?;
        match BundleType::detect(&prefix) {
            Some(kind) => archive(path, kind, args.format)?,
            None => file(path, args.format)?,
        }
    };
    match args.output {
        Output::Text => print_text(&outcome),
        Output::Json => print_json(&outcome)?,
    }
    Ok(if outcome.report.is_valid() {
        EXIT_OK
    } else {
        EXIT_INVALID
    })
}

fn format_of(path: &Path, text: &str, flag: Option<FormatArg>) -> Format {
    match flag {
        Some(FormatArg::Yaml) => Format::Yaml,
        Some(FormatArg::Json) => Format::Json,
        None if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
        {
            Format::Json
        }
        None => Format::sniff(text),
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} is neither a UTF-8 AppSpec nor a tar, tgz or zip archive",
            path.display()
        )
    })
}

/// A lone AppSpec file (also how Lambda and ECS AppSpecs are given).
fn file(path: &Path, flag: Option<FormatArg>) -> anyhow::Result<Outcome> {
    let text = read_text(path)?;
    let report = ferry_appspec::validate_as(&text, format_of(path, &text, flag));
    Ok(Outcome {
        shown: path.display().to_string(),
        report,
    })
}

/// An unpacked bundle: its AppSpec, then the AppSpec against the files. `archive` is the
/// archive it was unpacked from, if any, to name the AppSpec `bundle.tgz!appspec.yml`.
fn bundle_dir(
    dir: &Path,
    archive: Option<&Path>,
    flag: Option<FormatArg>,
) -> anyhow::Result<Outcome> {
    let Some(appspec) = ferry_appspec::find_in_dir(dir) else {
        let mut message = format!("no {} at the bundle root", APPSPEC_NAMES.join(" or "));
        if dir.join("appspec.json").is_file() {
            message.push_str(
                ": CodeDeploy does not read appspec.json from a bundle; rename it appspec.yml \
                 (JSON is valid YAML)",
            );
        }
        let report = Report::from_problems(vec![Problem::error("", None, message)]);
        let shown = archive.map_or_else(|| dir.display().to_string(), |a| a.display().to_string());
        return Ok(Outcome { shown, report });
    };
    let text = read_text(&appspec)?;
    let mut report = ferry_appspec::validate_as(&text, format_of(&appspec, &text, flag));
    if let Some(AppSpec::Server(spec)) = &report.spec {
        let mut found = ferry_appspec::validate_against_bundle(spec, dir);
        report.locate(&mut found);
        if found.iter().any(Problem::is_error) {
            report.spec = None;
        }
        report.problems.extend(found);
        report.problems.sort_by_key(|p| p.line.unwrap_or(0));
    }
    let shown = match archive {
        Some(archive) => {
            let name = appspec
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{}!{name}", archive.display())
        }
        None => appspec.display().to_string(),
    };
    Ok(Outcome { shown, report })
}

/// A bundle archive, unpacked (safely, within ferry-bundle's default limits) into a
/// temporary directory and checked as a directory.
fn archive(path: &Path, kind: BundleType, flag: Option<FormatArg>) -> anyhow::Result<Outcome> {
    let reader = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dest = temp.path().join("bundle");
    match ferry_bundle::extract(
        std::io::BufReader::new(reader),
        kind,
        &dest,
        &Limits::default(),
    ) {
        Ok(_) => bundle_dir(&dest, Some(path), flag),
        Err(e) => {
            let message = format!("cannot unpack this {kind} bundle: {e}");
            let report = Report::from_problems(vec![Problem::error("", None, message)]);
            Ok(Outcome {
                shown: path.display().to_string(),
                report,
            })
        }
    }
}

fn print_text(outcome: &Outcome) {
    let shown = &outcome.shown;
    for p in &outcome.report.problems {
        match p.line {
            Some(line) => print!("{shown}:{line}: "),
            None => print!("{shown}: "),
        }
        print!("{}: ", p.severity);
        if !p.path.is_empty() {
            print!("{}: ", p.path);
        }
        println!("{}", p.message);
    }
    let report = &outcome.report;
    let warnings = plural(report.warnings(), "warning");
    match &report.spec {
        Some(spec) if report.is_valid() => {
            println!(
                "{shown}: valid {} AppSpec ({}); {warnings}",
                spec.kind(),
                describe(&spec.summary())
            );
        }
        _ => println!(
            "{shown}: invalid AppSpec: {}, {warnings}",
            plural(report.errors(), "error")
        ),
    }
}

fn describe(summary: &Summary) -> String {
    let mut parts = Vec::new();
    if let Some(os) = summary.os {
        parts.push(os.to_string());
        parts.push(plural(summary.files, "file"));
        parts.push(plural(summary.permissions, "permission"));
    }
    let hooks: Vec<String> = summary
        .hooks
        .iter()
        .map(|(event, n)| format!("{event} {n}"))
        .collect();
    parts.push(if hooks.is_empty() {
        "no hooks".to_owned()
    } else {
        format!("hooks: {}", hooks.join(", "))
    });
    parts.join(", ")
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[derive(Serialize)]
struct JsonOutcome<'a> {
    appspec: &'a str,
    valid: bool,
    errors: usize,
    warnings: usize,
    summary: Option<Summary>,
    problems: &'a [Problem],
}

fn print_json(outcome: &Outcome) -> anyhow::Result<()> {
    let report = &outcome.report;
    let json = JsonOutcome {
        appspec: &outcome.shown,
        valid: report.is_valid(),
        errors: report.errors(),
        warnings: report.warnings(),
        summary: report.spec.as_ref().map(AppSpec::summary),
        problems: &report.problems,
    };
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
