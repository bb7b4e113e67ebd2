//! Hook output on the host: each deployment's `logs/scripts.log`, and one aggregate log of
//! every deployment under the log directory, as CodeDeploy's agent keeps them. Both rotate by
//! size. Also the tail of the output that goes into a failed event's diagnostics.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::LogRotation;
use crate::output::{OutputSink, Stream};

/// An append-only file that is renamed to `.1` (and older ones shifted) when it grows past
/// the limit.
pub struct RotatingFile {
    path: PathBuf,
    rotation: LogRotation,
    file: File,
    size: u64,
}

impl RotatingFile {
    pub fn open(path: impl Into<PathBuf>, rotation: LogRotation) -> io::Result<Self> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = open_private(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path,
            rotation,
            file,
            size,
        })
    }

    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.size > 0 && self.size + line.len() as u64 + 1 > self.rotation.max_file_bytes {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.size += line.len() as u64 + 1;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.rotation.max_files;
        if keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            for i in (1..keep).rev() {
                let from = rotated(&self.path, i);
                if from.exists() {
                    fs::rename(&from, rotated(&self.path, i + 1))?;
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        self.file = open_private(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Hook output can hold what redaction missed: only the agent's user reads the logs.
fn open_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Writes every hook line, and the event and script headers, to the deployment's logs.
/// A log that cannot be written is reported once and then skipped: a full disk must not
/// fail a deployment whose output is also streamed.
pub struct DeploymentLog {
    files: Mutex<Vec<RotatingFile>>,
    prefix: String,
}

impl DeploymentLog {
    /// `prefix` starts every line of the aggregate log (the deployment id), so it can be
    /// told apart from other deployments'.
    pub fn open(paths: &[PathBuf], rotation: &LogRotation, prefix: &str) -> Self {
        let files = paths
            .iter()
            .filter_map(
                |path| match RotatingFile::open(path.clone(), rotation.clone()) {
                    Ok(file) => Some(file),
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "cannot open deployment log");
                        None
                    }
                },
            )
            .collect();
        Self {
            files: Mutex::new(files),
            prefix: prefix.to_owned(),
        }
    }

    pub fn event(&self, event: &str) {
        self.write(&format!("LifecycleEvent - {event}"));
    }

    fn write(&self, text: &str) {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f");
        let line = format!("[{now}] [{}] {text}", self.prefix);
        let Ok(mut files) = self.files.lock() else {
            return;
        };
        files.retain_mut(|file| match file.write_line(&line) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(path = %file.path.display(), %error, "deployment log write failed; no longer writing it");
                false
            }
        });
    }
}

impl OutputSink for DeploymentLog {
    fn line(&self, script: &str, stream: Stream, text: &str) {
        self.write(&format!("[{script}] [{}] {text}", stream.as_str()));
    }
}

/// The last lines of output, bounded in lines and bytes, for a failed event's diagnostics.
pub struct Tail {
    lines: Mutex<VecDeque<String>>,
    max_lines: usize,
    max_bytes: usize,
}

impl Tail {
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            lines: Mutex::new(VecDeque::new()),
            max_lines,
            max_bytes,
        }
    }

    /// The kept lines, oldest first, cut to `max_bytes` from the end.
    pub fn text(&self) -> String {
        let Ok(lines) = self.lines.lock() else {
            return String::new();
        };
        let mut out = String::new();
        for line in lines.iter() {
            out.push_str(line);
            out.push('\n');
        }
        if out.len() > self.max_bytes {
            let mut cut = out.len() - self.max_bytes;
            while !out.is_char_boundary(cut) {
                cut += 1;
            }
            out.drain(..cut);
        }
        out
    }
}

impl OutputSink for Tail {
    fn line(&self, _script: &str, stream: Stream, text: &str) {
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        let mut line = format!("[{}] ", stream.as_str());
        // A single huge line must not hold more than the byte budget.
        let room = self.max_bytes.min(text.len());
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        line.push_str(&text[..end]);
        lines.push_back(line);
        while lines.len() > self.max_lines {
            lines.pop_front();
        }
    }
}

/// Sends each line to several sinks.
pub struct Tee<'a>(pub Vec<&'a dyn OutputSink>);

impl OutputSink for Tee<'_> {
    fn line(&self, script: &str, stream: Stream, text: &str) {
        for sink in &self.0 {
            sink.line(script, stream, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_keeps_at_most_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scripts.log");
        let rotation = LogRotation {
            max_file_bytes: 100,
            max_files: 2,
        };
        let mut file = RotatingFile::open(&path, rotation).unwrap();
        for i in 0..40 {
            file.write_line(&format!("line {i:04} ....")).unwrap();
        }
        assert!(fs::metadata(&path).unwrap().len() <= 100);
        assert!(rotated(&path, 1).exists());
        assert!(rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists());
        let newest = fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with("line 0039 ....\n"), "{newest}");
    }

    #[test]
    fn tail_keeps_the_last_lines_within_budget() {
        let tail = Tail::new(3, 64);
        for i in 0..10 {
            tail.line("s.sh", Stream::Stdout, &format!("line {i}"));
        }
        assert_eq!(
            tail.text(),
            "[stdout] line 7\n[stdout] line 8\n[stdout] line 9\n"
        );
        tail.line("s.sh", Stream::Stderr, &"x".repeat(1000));
        assert_eq!(tail.text().len(), 64);
        assert!(tail.text().ends_with("xxx\n"));
    }
}
