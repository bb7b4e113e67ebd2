//! Where hook output goes: every line to a sink (the live stream, the terminal of
//! `ferry-agent local`, the per-deployment log file), as soon as the script writes it.

/// Which output of a script a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// Receives output lines as they are produced. `script` is the script's location in the
/// AppSpec; `text` has no trailing newline. Implementations must not block for long: they
/// are called from the tasks that drain the script's pipes.
pub trait OutputSink: Send + Sync {
    fn line(&self, script: &str, stream: Stream, text: &str);
}

/// A sink that forgets everything (for `--plan` and tests that do not look).
pub struct Discard;

impl OutputSink for Discard {
    fn line(&self, _script: &str, _stream: Stream, _text: &str) {}
}

impl<T: OutputSink + ?Sized> OutputSink for std::sync::Arc<T> {
    fn line(&self, script: &str, stream: Stream, text: &str) {
        (**self).line(script, stream, text)
    }
}
