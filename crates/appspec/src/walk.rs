//! Walking the loose tree: typed reads that report a problem at a precise path instead of
//! failing, so that one pass finds every problem.

use std::collections::BTreeMap;

use crate::node::{Node, Value};
use crate::problem::{Problem, join};

/// Collects problems and the line of every path visited.
#[derive(Default)]
pub(crate) struct Cx {
    pub problems: Vec<Problem>,
    pub lines: BTreeMap<String, u32>,
}

impl Cx {
    pub fn error(&mut self, path: &str, line: Option<u32>, message: impl Into<String>) {
        self.problems.push(Problem::error(path, line, message));
    }

    pub fn warn(&mut self, path: &str, line: Option<u32>, message: impl Into<String>) {
        self.problems.push(Problem::warning(path, line, message));
    }

    /// Note where `path` is, for locating later problems.
    pub fn seen(&mut self, path: &str, node: &Node) {
        if let Some(line) = node.line {
            self.lines.entry(path.to_owned()).or_insert(line);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }

    /// Error counts, to tell whether a section added any.
    pub fn error_count(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }

    /// The node as a list, or an error saying a list is expected.
    pub fn list<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Option<&'n [Node]> {
        self.seen(path, node);
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.error(
                    path,
                    node.line,
                    format!("{what} must be a list, not {}", node.kind()),
                );
                None
            }
        }
    }

    /// A non-empty string (numbers are refused: write them in quotes).
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        self.seen(path, node);
        match &node.value {
            Value::Str(s) if s.trim().is_empty() => {
                self.error(path, node.line, "must not be empty");
                None
            }
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.error(
                    path,
                    node.line,
                    format!("must be a string, not {}", node.kind()),
                );
                None
            }
        }
    }

    /// A non-empty string, or a number or boolean taken as the text it was written as
    /// (`CurrentVersion: 1`).
    pub fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        self.seen(path, node);
        match node.scalar_text() {
            Some(s) if s.trim().is_empty() => {
                self.error(path, node.line, "must not be empty");
                None
            }
            Some(s) => Some(s),
            None => {
                self.error(
                    path,
                    node.line,
                    format!("must be a string, not {}", node.kind()),
                );
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub fn integer(&mut self, node: &Node, path: &str, min: i128, max: i128) -> Option<i128> {
        self.seen(path, node);
        match node.value {
            Value::Int(i) if (min..=max).contains(&i) => Some(i),
            Value::Int(i) => {
                self.error(
                    path,
                    node.line,
                    format!("must be between {min} and {max}, not {i}"),
                );
                None
            }
            _ => {
                self.error(
                    path,
                    node.line,
                    format!(
                        "must be a whole number between {min} and {max}, not {}",
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    /// A list of non-empty strings.
    pub fn strings(&mut self, node: &Node, path: &str, what: &str) -> Option<Vec<String>> {
        let items = self.list(node, path, what)?;
        let before = self.error_count();
        let out: Vec<String> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.string(item, &crate::problem::index(path, i)))
            .collect();
        (self.error_count() == before).then_some(out)
    }

    /// The entries of a mapping, checked against the keys it may have. `case_insensitive`
    /// matches keys whatever their case (CodeDeploy does so for Lambda and ECS AppSpecs).
    pub fn map<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &str,
        keys: &[Key],
        case_insensitive: bool,
    ) -> Option<Fields<'n>> {
        self.seen(path, node);
        let Value::Map(entries) = &node.value else {
            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
            self.error(
                path,
                node.line,
                format!(
                    "{what} must be a mapping (with keys {}), not {}",
                    names.join(", "),
                    node.kind()
                ),
            );
            return None;
        };
        let mut fields = Fields {
            line: node.line,
            entries: Vec::new(),
        };
        for (key, value) in entries {
            let Some(name) = key.scalar_text() else {
                self.error(
                    path,
                    key.line,
                    format!("a key of {what} is {}; keys are names", key.kind()),
                );
                continue;
            };
            let known = keys.iter().find(|k| {
                if case_insensitive {
                    k.name.eq_ignore_ascii_case(&name)
                } else {
                    k.name == name
                }
            });
            let here = join(path, &name);
            match known {
                Some(k) if fields.entries.iter().any(|(c, _, _)| *c == k.name) => {
                    self.error(
                        &here,
                        key.line,
                        format!("duplicate key `{name}`: give it once"),
                    );
                }
                Some(k) => {
                    self.seen(&here, key);
                    fields.entries.push((k.name, name, value));
                    if let Some(note) = k.deprecated {
                        self.warn(&here, key.line, note);
                    }
                }
                None => self.unknown_key(&here, key.line, &name, what, keys),
            }
        }
        Some(fields)
    }

    fn unknown_key(&mut self, path: &str, line: Option<u32>, name: &str, what: &str, keys: &[Key]) {
        let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
        let hint = match crate::suggest::closest(name, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("{what} takes {}", names.join(", ")),
        };
        self.error(
            path,
            line,
            format!("unknown key `{name}` in {what}: {hint}"),
        );
    }

    /// A required field: its node, or an error at the mapping.
    pub fn required<'n>(
        &mut self,
        fields: &Fields<'n>,
        key: &str,
        path: &str,
        what: &str,
    ) -> Option<(&'n Node, String)> {
        match fields.get(key) {
            Some((node, written)) if node.is_null() => {
                let here = join(path, &written);
                self.error(
                    &here,
                    node.line,
                    format!("`{key}` of {what} has no value; it is required"),
                );
                None
            }
            Some((node, written)) => Some((node, join(path, &written))),
            None => {
                self.error(
                    path,
                    fields.line,
                    format!("{what} needs `{key}`, which is missing"),
                );
                None
            }
        }
    }

    /// An optional field: its node when present and not null.
    pub fn optional<'n>(
        &mut self,
        fields: &Fields<'n>,
        key: &str,
        path: &str,
    ) -> Option<(&'n Node, String)> {
        fields
            .get(key)
            .filter(|(n, _)| !n.is_null())
            .map(|(n, written)| (n, join(path, &written)))
    }
}

/// A key a mapping may have.
pub(crate) struct Key {
    pub name: &'static str,
    /// Accepted with this warning (keys CodeDeploy reads but does not document, or that
    /// ferry ignores).
    pub deprecated: Option<&'static str>,
}

pub(crate) const fn key(name: &'static str) -> Key {
    Key {
        name,
        deprecated: None,
    }
}

/// The known entries of a mapping: (canonical key, key as written, value).
pub(crate) struct Fields<'n> {
    pub line: Option<u32>,
    entries: Vec<(&'static str, String, &'n Node)>,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<(&'n Node, String)> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, written, node)| (*node, written.clone()))
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _, _)| *k == key)
    }
}
