//! The in-memory index of everything extracted so far, and the checks that need it.
//!
//! Every entry is admitted here before anything touches the disk. The index knows what each
//! path is (directory, file, symlink), so it refuses writing through a symlink or a file,
//! repeated paths, hard links to anything but a file extracted earlier, and it decides whether
//! the bundle has a single top-level folder to strip.
//!
//! It is a trie of path components, never file contents, and every node — an entry or a
//! directory an entry implies — counts against [`Limits::max_entries`](crate::Limits). So
//! memory is bounded by that limit times a component's length (at most 255 bytes), and a
//! deep name cannot multiply into thousands of full-path keys or directories.

use std::collections::HashMap;

use crate::path::{EntryPath, check_symlink_target, parse_hardlink_target};
use crate::{BundleError, PathProblem};

/// One archive entry, as the format readers describe it.
#[derive(Debug)]
pub(crate) struct Item {
    /// The name as the archive spells it, for error messages.
    pub(crate) raw: String,
    pub(crate) path: EntryPath,
    pub(crate) kind: Kind,
    /// Permission bits from the archive, if it has any.
    pub(crate) mode: Option<u32>,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink(String),
    HardLink(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    Dir,
    File,
    Symlink,
}

/// What admitting an entry requires on disk.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// Lengths of the parent prefixes that did not exist yet, shortest first.
    pub(crate) new_parents: Vec<usize>,
    /// The entry is a directory that already existed.
    pub(crate) existed: bool,
    /// For a hard link: the file it links to.
    pub(crate) link_to: Option<EntryPath>,
}

#[derive(Debug)]
struct Slot {
    node: Node,
    children: HashMap<String, usize>,
}

#[derive(Debug)]
pub(crate) struct Index {
    /// The trie; `slots[0]` is the archive root.
    slots: Vec<Slot>,
    max_nodes: u64,
    /// Symlinks and their targets, re-checked if the top folder is stripped.
    symlinks: Vec<(EntryPath, String, String)>,
    first_top: Option<String>,
}

impl Index {
    /// An empty index that refuses more than `max_nodes` nodes.
    pub(crate) fn new(max_nodes: u64) -> Self {
        Self {
            slots: vec![Slot {
                node: Node::Dir,
                children: HashMap::new(),
            }],
            max_nodes,
            symlinks: Vec::new(),
            first_top: None,
        }
    }

    /// Checks `item` against everything admitted before it and records it. `Ok(None)` means
    /// there is nothing to do (the archive's root directory entry).
    pub(crate) fn admit(&mut self, item: &Item) -> Result<Option<Admitted>, BundleError> {
        if item.path.is_root() {
            return match item.kind {
                Kind::Dir => Ok(None),
                _ => Err(BundleError::UnsafePath {
                    entry: item.raw.clone(),
                    problem: PathProblem::Empty,
                }),
            };
        }
        let admitted = match &item.kind {
            Kind::Dir => self.add(&item.raw, &item.path, Node::Dir)?,
            Kind::File => self.add(&item.raw, &item.path, Node::File)?,
            Kind::Symlink(target) => {
                check_symlink_target(&item.path, target, 0).map_err(|problem| {
                    BundleError::UnsafeSymlink {
                        entry: item.raw.clone(),
                        target: target.clone(),
                        problem,
                    }
                })?;
                let admitted = self.add(&item.raw, &item.path, Node::Symlink)?;
                self.symlinks
                    .push((item.path.clone(), item.raw.clone(), target.clone()));
                admitted
            }
            Kind::HardLink(target) => {
                let refuse = |problem| BundleError::UnsafeHardLink {
                    entry: item.raw.clone(),
                    target: target.clone(),
                    problem,
                };
                let to = parse_hardlink_target(target).map_err(refuse)?;
                if self.lookup(&to) != Some(Node::File) {
                    return Err(refuse(crate::LinkProblem::NotExtractedFile));
                }
                let mut admitted = self.add(&item.raw, &item.path, Node::File)?;
                admitted.link_to = Some(to);
                admitted
            }
        };
        Ok(Some(admitted))
    }

    /// Records a symlink whose target is not known (zip, when only reading).
    pub(crate) fn admit_unchecked_symlink(
        &mut self,
        raw: &str,
        path: &EntryPath,
    ) -> Result<(), BundleError> {
        if path.is_root() {
            return Err(BundleError::UnsafePath {
                entry: raw.to_owned(),
                problem: PathProblem::Empty,
            });
        }
        self.add(raw, path, Node::Symlink).map(drop)
    }

    /// What `path` is, if it exists and no link or file is in the way.
    fn lookup(&self, path: &EntryPath) -> Option<Node> {
        let mut slot = 0;
        for name in path.components() {
            if self.slots[slot].node != Node::Dir {
                return None;
            }
            slot = *self.slots[slot].children.get(name)?;
        }
        Some(self.slots[slot].node)
    }

    fn add(&mut self, raw: &str, path: &EntryPath, node: Node) -> Result<Admitted, BundleError> {
        let names = path.components();
        let leaf = names.len() - 1;
        // Walk the existing part of the path, refusing links and files in the way.
        let mut slot = 0;
        let mut depth = 0;
        while depth < names.len() {
            let Some(&next) = self.slots[slot].children.get(&names[depth]) else {
                break;
            };
            if depth < leaf {
                match self.slots[next].node {
                    Node::Dir => {}
                    Node::Symlink => {
                        return Err(BundleError::ThroughSymlink {
                            entry: raw.to_owned(),
                            link: path.prefix_key(depth + 1),
                        });
                    }
                    Node::File => {
                        return Err(BundleError::NotADirectory {
                            entry: raw.to_owned(),
                            parent: path.prefix_key(depth + 1),
                        });
                    }
                }
            }
            slot = next;
            depth += 1;
        }
        if depth == names.len() {
            // The path exists: only a directory may be repeated.
            return match (self.slots[slot].node, node) {
                (Node::Dir, Node::Dir) => Ok(Admitted {
                    new_parents: Vec::new(),
                    existed: true,
                    link_to: None,
                }),
                _ => Err(BundleError::DuplicateEntry {
                    entry: raw.to_owned(),
                }),
            };
        }
        let new_nodes = (names.len() - depth) as u64;
        if (self.slots.len() as u64 - 1).saturating_add(new_nodes) > self.max_nodes {
            return Err(BundleError::TooManyEntries {
                entry: raw.to_owned(),
                limit: self.max_nodes,
            });
        }
        let new_parents = (depth + 1..names.len()).collect();
        for (i, name) in names.iter().enumerate().skip(depth) {
            let kind = if i == leaf { node } else { Node::Dir };
            slot = self.insert(slot, name, kind);
        }
        Ok(Admitted {
            new_parents,
            existed: false,
            link_to: None,
        })
    }

    fn insert(&mut self, parent: usize, name: &str, node: Node) -> usize {
        let slot = self.slots.len();
        self.slots.push(Slot {
            node,
            children: HashMap::new(),
        });
        self.slots[parent].children.insert(name.to_owned(), slot);
        if parent == 0 && self.first_top.is_none() {
            self.first_top = Some(name.to_owned());
        }
        slot
    }

    /// The first top-level name seen, if any.
    pub(crate) fn first_top(&self) -> Option<&str> {
        self.first_top.as_deref()
    }

    /// Decides the top folder to strip (CodeDeploy's rule: every entry sits under one single
    /// top-level directory) and re-checks symlink targets against the root that results.
    pub(crate) fn finish(&self) -> Result<Option<String>, BundleError> {
        let root = &self.slots[0].children;
        let strip = match root.iter().next() {
            Some((top, &slot)) if root.len() == 1 && self.slots[slot].node == Node::Dir => {
                Some(top.clone())
            }
            _ => None,
        };
        if strip.is_some() {
            for (path, raw, target) in &self.symlinks {
                check_symlink_target(path, target, 1).map_err(|problem| {
                    BundleError::UnsafeSymlink {
                        entry: raw.clone(),
                        target: target.clone(),
                        problem,
                    }
                })?;
            }
        }
        Ok(strip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkProblem;

    fn item(name: &str, kind: Kind) -> Item {
        Item {
            raw: name.to_owned(),
            path: EntryPath::parse(name).unwrap(),
            kind,
            mode: None,
        }
    }

    #[test]
    fn implied_parents_are_created_once() {
        let mut index = Index::new(1000);
        let a = index.admit(&item("a/b/c", Kind::File)).unwrap().unwrap();
        assert_eq!(a.new_parents, [1, 2]);
        let d = index.admit(&item("a/b/", Kind::Dir)).unwrap().unwrap();
        assert!(d.existed && d.new_parents.is_empty());
        assert!(index.admit(&item("./", Kind::Dir)).unwrap().is_none());
        assert_eq!(index.finish().unwrap().as_deref(), Some("a"));
    }

    #[test]
    fn refuses_repeats_conflicts_and_links_in_the_way() {
        let mut index = Index::new(1000);
        index.admit(&item("f", Kind::File)).unwrap();
        let err = index.admit(&item("f", Kind::File)).unwrap_err();
        assert!(matches!(err, BundleError::DuplicateEntry { .. }), "{err}");
        let err = index.admit(&item("f/x", Kind::File)).unwrap_err();
        assert!(matches!(err, BundleError::NotADirectory { .. }), "{err}");
        index.admit(&item("l", Kind::Symlink("d".into()))).unwrap();
        let err = index.admit(&item("l/x", Kind::File)).unwrap_err();
        assert!(matches!(err, BundleError::ThroughSymlink { ref link, .. } if link == "l"));
        let err = index.admit(&item("l", Kind::Dir)).unwrap_err();
        assert!(matches!(err, BundleError::DuplicateEntry { .. }), "{err}");
    }

    #[test]
    fn implied_directories_count_against_the_limit() {
        let mut index = Index::new(3);
        index.admit(&item("a/b/c", Kind::File)).unwrap();
        index.admit(&item("a/b/", Kind::Dir)).unwrap();
        let err = index.admit(&item("a/d", Kind::File)).unwrap_err();
        assert!(
            matches!(err, BundleError::TooManyEntries { limit: 3, .. }),
            "{err}"
        );
        let deep = vec!["d"; 100].join("/");
        let err = Index::new(99).admit(&item(&deep, Kind::File)).unwrap_err();
        assert!(matches!(err, BundleError::TooManyEntries { .. }), "{err}");
    }

    #[test]
    fn hard_links_need_an_extracted_file() {
        let mut index = Index::new(1000);
        index.admit(&item("d/f", Kind::File)).unwrap();
        let ok = index
            .admit(&item("h", Kind::HardLink("d/f".into())))
            .unwrap()
            .unwrap();
        assert_eq!(ok.link_to.unwrap().key(), "d/f");
        for target in ["d", "missing", "h2"] {
            let err = index
                .admit(&item("h2", Kind::HardLink(target.into())))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    BundleError::UnsafeHardLink {
                        problem: LinkProblem::NotExtractedFile,
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn strips_only_a_single_top_directory() {
        let mut two = Index::new(1000);
        two.admit(&item("a/x", Kind::File)).unwrap();
        two.admit(&item("b/y", Kind::File)).unwrap();
        assert_eq!(two.finish().unwrap(), None);

        let mut file = Index::new(1000);
        file.admit(&item("appspec.yml", Kind::File)).unwrap();
        assert_eq!(file.finish().unwrap(), None);

        let mut link = Index::new(1000);
        link.admit(&item("l", Kind::Symlink(".".into()))).unwrap();
        assert_eq!(link.finish().unwrap(), None);
    }

    #[test]
    fn stripping_rechecks_symlinks() {
        let mut index = Index::new(1000);
        index
            .admit(&item("app/l", Kind::Symlink("../other".into())))
            .unwrap();
        let err = index.finish().unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::UnsafeSymlink {
                    problem: LinkProblem::EscapesRoot,
                    ..
                }
            ),
            "{err}"
        );
    }
}
