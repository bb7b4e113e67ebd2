//! Problems found in an AppSpec, and the report that carries them.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::AppSpec;

/// How bad a problem is. Only errors make an AppSpec invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// CodeDeploy (or ferry) would fail the deployment, or the spec cannot be understood.
    Error,
    /// Accepted, but likely not what was meant, or not portable to CodeDeploy's own agent.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One problem, located by its path in the document (`hooks.BeforeInstall[0].timeout`) and,
/// where the parser knows it, its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// Dotted path with `[i]` indexes; empty for the document as a whole.
    pub path: String,
    pub line: Option<u32>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl Problem {
    pub fn error(path: impl Into<String>, line: Option<u32>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub fn warning(path: impl Into<String>, line: Option<u32>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    /// `12: error: hooks.BeforeInstall[0].timeout: message` (line and path when known).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "{line}: ")?;
        }
        write!(f, "{}: ", self.severity)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// The outcome of [`crate::validate`]: the typed spec when there is no error, and every problem.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub spec: Option<AppSpec>,
    pub problems: Vec<Problem>,
    /// Line of every path the validator visited, to locate problems found later
    /// (for example by [`crate::validate_against_bundle`]).
    #[serde(skip)]
    pub(crate) lines: BTreeMap<String, u32>,
}

impl Report {
    /// A report of problems found before (or instead of) validating a text, such as a
    /// bundle without an AppSpec.
    pub fn from_problems(problems: Vec<Problem>) -> Self {
        Self {
            problems,
            ..Self::default()
        }
    }

    /// True when no problem is an error (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.problems.iter().any(Problem::is_error)
    }

    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }

    /// The line of a path in the validated text, if the parser reported one.
    pub fn line_of(&self, path: &str) -> Option<u32> {
        self.lines.get(path).copied()
    }

    /// Fill in the line of problems that have none, from the paths seen while validating.
    pub fn locate(&self, problems: &mut [Problem]) {
        for problem in problems.iter_mut().filter(|p| p.line.is_none()) {
            problem.line = self.line_of(&problem.path);
        }
    }
}

/// `a` + `b` → `a.b` (or `b` at the root).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `a` + 3 → `a[3]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
