//! What a bundle's AppSpec says and what is wrong with it: found at the bundle root after a
//! safe extraction into a temporary directory (or taken whole for YAML/JSON bundles and inline
//! content), validated with ferry-appspec, checked against the bundle's files, and summed up.

use std::io::Read;
use std::path::Path;

use ferry_appspec::{AppSpec, Kind, Problem, Report, Severity};
use ferry_bundle::{BundleError, Limits};
use ferry_proto::common::v1::{BundleType, ComputePlatform};
use ferry_proto::revision::v1 as pb;
use serde::{Deserialize, Serialize};

use ferry_runtime::error::{ApiError, Exception};

/// The largest AppSpec read, in bytes.
pub const MAX_APPSPEC_BYTES: u64 = 1 << 20;

/// The outcome of inspecting one bundle, stored with its blob (`blobs.app_spec_summary`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    /// `None` when the AppSpec has errors (or there is none).
    pub summary: Option<Summary>,
    pub problems: Vec<Found>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// CodeDeploy's ComputePlatform value.
    pub compute_platform: String,
    pub os: String,
    pub files: u32,
    pub hooks: Vec<EventHooks>,
    pub file_exists_behavior: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventHooks {
    pub event: String,
    pub hooks: Vec<HookRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookRecord {
    /// A script's location, or a Lambda function's name.
    pub location: String,
    pub timeout: u32,
    pub runas: String,
}

/// One problem, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Found {
    pub error: bool,
    pub path: String,
    pub line: Option<u32>,
    pub message: String,
}

impl Inspection {
    pub fn is_valid(&self) -> bool {
        !self.problems.iter().any(|p| p.error)
    }

    fn problem(message: impl Into<String>) -> Self {
        Self {
            summary: None,
            problems: vec![Found {
                error: true,
                path: String::new(),
                line: None,
                message: message.into(),
            }],
        }
    }

    /// The error a revision with an invalid AppSpec is refused with, listing every error.
    pub fn invalid_revision(&self) -> ApiError {
        let errors: Vec<String> = self
            .problems
            .iter()
            .filter(|p| p.error)
            .map(Found::describe)
            .collect();
        ApiError::new(
            Exception::InvalidRevision,
            format!("the revision's appspec is not valid: {}", errors.join("; ")),
        )
    }

    pub fn wire_summary(&self) -> Option<pb::AppSpecSummary> {
        self.summary.as_ref().map(Summary::to_wire)
    }

    pub fn wire_problems(&self) -> Vec<pb::AppSpecProblem> {
        self.problems
            .iter()
            .map(|p| pb::AppSpecProblem {
                severity: if p.error {
                    pb::Severity::Error
                } else {
                    pb::Severity::Warning
                } as i32,
                path: p.path.clone(),
                line: p.line.unwrap_or(0),
                message: p.message.clone(),
            })
            .collect()
    }
}

impl Found {
    fn from_problem(p: &Problem) -> Self {
        Self {
            error: p.severity == Severity::Error,
            path: p.path.clone(),
            line: p.line,
            message: p.message.clone(),
        }
    }

    /// `line 12: hooks.BeforeInstall[0].timeout: message`.
    fn describe(&self) -> String {
        let mut out = String::new();
        if let Some(line) = self.line {
            out.push_str(&format!("line {line}: "));
        }
        if !self.path.is_empty() {
            out.push_str(&format!("{}: ", self.path));
        }
        out.push_str(&self.message);
        out
    }
}

impl Summary {
    fn of(spec: &AppSpec) -> Self {
        let platform = match spec.kind() {
            Kind::Server => "Server",
            Kind::Lambda => "Lambda",
            Kind::Ecs => "ECS",
        };
        let functions = |hooks: &std::collections::BTreeMap<_, String>| {
            hooks
                .iter()
                .map(
                    |(event, function): (&ferry_appspec::LifecycleEvent, &String)| EventHooks {
                        event: event.as_str().to_owned(),
                        hooks: vec![HookRecord {
                            location: function.clone(),
                            timeout: 0,
                            runas: String::new(),
                        }],
                    },
                )
                .collect()
        };
        let (os, files, hooks, behavior) = match spec {
            AppSpec::Server(s) => (
                format!("{:?}", s.os).to_ascii_lowercase(),
                s.files.len() as u32,
                s.hooks
                    .iter()
                    .map(|(event, hooks)| EventHooks {
                        event: event.as_str().to_owned(),
                        hooks: hooks
                            .iter()
                            .map(|h| HookRecord {
                                location: h.location.clone(),
                                timeout: h.timeout,
                                runas: h.runas.clone().unwrap_or_default(),
                            })
                            .collect(),
                    })
                    .collect(),
                s.file_exists_behavior
                    .map(|b| format!("{b:?}").to_ascii_uppercase())
                    .unwrap_or_default(),
            ),
            AppSpec::Lambda(l) => (String::new(), 0, functions(&l.hooks), String::new()),
            AppSpec::Ecs(e) => (String::new(), 0, functions(&e.hooks), String::new()),
        };
        Self {
            compute_platform: platform.to_owned(),
            os,
            files,
            hooks,
            file_exists_behavior: behavior,
        }
    }

    fn to_wire(&self) -> pb::AppSpecSummary {
        use ferry_proto::codedeploy::CodeDeployName;
        pb::AppSpecSummary {
            compute_platform: ComputePlatform::from_codedeploy_name(&self.compute_platform)
                .map_or(0, |p| p as i32),
            os: self.os.clone(),
            files: self.files,
            hooks: self
                .hooks
                .iter()
                .map(|e| pb::LifecycleEventHooks {
                    lifecycle_event: e.event.clone(),
                    hooks: e
                        .hooks
                        .iter()
                        .map(|h| pb::HookSummary {
                            location: h.location.clone(),
                            timeout_seconds: h.timeout,
                            runas: h.runas.clone(),
                        })
                        .collect(),
                })
                .collect(),
            file_exists_behavior: self.file_exists_behavior.clone(),
        }
    }
}

/// Validates an AppSpec's text (inline content, or a YAML/JSON bundle).
pub fn text(text: &str) -> Inspection {
    from_report(&ferry_appspec::validate(text), Vec::new())
}

fn from_report(report: &Report, mut extra: Vec<Problem>) -> Inspection {
    report.locate(&mut extra);
    let problems: Vec<Found> = report
        .problems
        .iter()
        .chain(&extra)
        .map(Found::from_problem)
        .collect();
    let valid = !problems.iter().any(|p| p.error);
    Inspection {
        summary: report.spec.as_ref().filter(|_| valid).map(Summary::of),
        problems,
    }
}

/// Validates the text of a YAML or JSON bundle read from `reader` (blocking).
pub fn text_bundle(reader: impl Read) -> Result<Inspection, ApiError> {
    Ok(match read_text(reader)? {
        Ok(content) => text(&content),
        Err(problem) => problem,
    })
}

/// At most [`MAX_APPSPEC_BYTES`] of UTF-8 text, or the problem with it.
fn read_text(reader: impl Read) -> Result<Result<String, Inspection>, ApiError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_APPSPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ApiError::internal)?;
    if bytes.len() as u64 > MAX_APPSPEC_BYTES {
        return Ok(Err(Inspection::problem(format!(
            "the appspec is larger than {MAX_APPSPEC_BYTES} bytes"
        ))));
    }
    Ok(String::from_utf8(bytes).map_err(|_| Inspection::problem("the appspec is not utf-8 text")))
}

/// Extracts an archive bundle under `scratch` (blocking) and inspects its AppSpec against its
/// files. Problems with the archive itself are reported as problems of the revision.
pub fn archive(
    reader: impl Read,
    kind: ferry_bundle::BundleType,
    scratch: &Path,
) -> Result<Inspection, ApiError> {
    std::fs::create_dir_all(scratch).map_err(ApiError::internal)?;
    let dir = tempfile::Builder::new()
        .prefix("bundle-")
        .tempdir_in(scratch)
        .map_err(ApiError::internal)?;
    let root = dir.path().join("root");
    match ferry_bundle::extract(reader, kind, &root, &Limits::default()) {
        Ok(_) => {}
        Err(err @ (BundleError::Io { .. } | BundleError::BadDestination { .. })) => {
            return Err(ApiError::internal(err));
        }
        Err(err) => {
            return Ok(Inspection::problem(format!(
                "the {kind} bundle cannot be used: {err}"
            )));
        }
    }
    let Some(file) = ferry_appspec::find_in_dir(&root) else {
        return Ok(Inspection::problem(
            "the bundle has no appspec.yml (or appspec.yaml) at its root",
        ));
    };
    let content = match read_text(std::fs::File::open(&file).map_err(ApiError::internal)?)? {
        Ok(content) => content,
        Err(problem) => return Ok(problem),
    };
    let report = ferry_appspec::validate(&content);
    let extra = match &report.spec {
        Some(AppSpec::Server(spec)) => ferry_appspec::validate_against_bundle(spec, &root),
        _ => Vec::new(),
    };
    Ok(from_report(&report, extra))
}

/// The archive format of a bundle type; `None` for YAML and JSON.
pub fn archive_kind(bundle_type: BundleType) -> Option<ferry_bundle::BundleType> {
    match bundle_type {
        BundleType::Tar => Some(ferry_bundle::BundleType::Tar),
        BundleType::Tgz => Some(ferry_bundle::BundleType::Tgz),
        BundleType::Zip => Some(ferry_bundle::BundleType::Zip),
        _ => None,
    }
}

/// The bundle type of some leading bytes: an archive by its magic, else JSON when it opens
/// with `{`, else YAML when it is text; `None` for anything else.
pub fn detect(head: &[u8]) -> Option<BundleType> {
    match ferry_bundle::BundleType::detect(head) {
        Some(ferry_bundle::BundleType::Tar) => Some(BundleType::Tar),
        Some(ferry_bundle::BundleType::Tgz) => Some(BundleType::Tgz),
        Some(ferry_bundle::BundleType::Zip) => Some(BundleType::Zip),
        None => {
            let text = match std::str::from_utf8(head) {
                Ok(text) => text,
                // The head may cut a character in two.
                Err(e) if e.error_len().is_none() => {
                    std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
                }
                Err(_) => return None,
            };
            if text.trim_start().starts_with('{') {
                Some(BundleType::Json)
            } else if !text.trim().is_empty() && !text.contains('\0') {
                Some(BundleType::Yaml)
            } else {
                None
            }
        }
    }
}
