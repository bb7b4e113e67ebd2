//! Live hook output: lines are numbered per command, buffered (bounded), and sent in batches
//! every few milliseconds. When the stream cannot keep up or is down, lines are dropped and
//! counted (they remain in the host's log files); the next batch says how many.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ferry_proto::agent::v1::{
    HookOutput, OutputLine, OutputStream, SessionRequest, session_request,
};
use tokio::sync::Notify;

use super::link::Link;
use crate::output::{OutputSink, Stream};

/// Lines (and bytes of text) held for sending, at most; beyond this they are dropped.
const MAX_BUFFERED_LINES: usize = 2048;
const MAX_BUFFERED_BYTES: usize = 4 << 20;
/// A batch is sent at this size without waiting for the flush interval. The byte bound keeps
/// each message well under gRPC's default 4 MiB limit (a line can be 16 KiB).
const BATCH_LINES: usize = 256;
const BATCH_BYTES: usize = 1 << 20;
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

struct Buffered {
    sequence: u64,
    script: String,
    line: OutputLine,
}

#[derive(Default)]
struct State {
    next_sequence: u64,
    lines: Vec<Buffered>,
    /// Bytes of text in `lines`.
    bytes: usize,
    dropped: u64,
    closed: bool,
}

/// The sink a command's hooks write to; [`LiveOutput::pump`] sends what it collects.
pub struct LiveOutput {
    command_id: String,
    state: Mutex<State>,
    wake: Notify,
}

impl LiveOutput {
    pub fn new(command_id: &str) -> Arc<Self> {
        Arc::new(Self {
            command_id: command_id.to_owned(),
            state: Mutex::new(State::default()),
            wake: Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends batches until [`LiveOutput::close`], then sends what is left.
    pub async fn pump(self: Arc<Self>, link: Link) {
        loop {
            let closed = self.state().closed;
            self.flush(&link);
            if closed {
                return;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(FLUSH_INTERVAL) => {}
            }
        }
    }

    /// No more lines will come; the pump sends the rest and stops.
    pub fn close(&self) {
        self.state().closed = true;
        self.wake.notify_one();
    }

    fn flush(&self, link: &Link) {
        let (lines, mut dropped) = {
            let mut state = self.state();
            (
                std::mem::take(&mut state.lines),
                std::mem::take(&mut state.dropped),
            )
        };
        // One message per run of consecutive lines of one script.
        let mut start = 0;
        while start < lines.len() {
            let mut end = start + 1;
            let mut bytes = lines[start].line.text.len();
            while end < lines.len()
                && lines[end].sequence == lines[end - 1].sequence + 1
                && lines[end].script == lines[start].script
                && end - start < BATCH_LINES
                && bytes + lines[end].line.text.len() <= BATCH_BYTES
            {
                bytes += lines[end].line.text.len();
                end += 1;
            }
            let batch = HookOutput {
                command_id: self.command_id.clone(),
                script: lines[start].script.clone(),
                first_sequence: lines[start].sequence,
                lines: lines[start..end].iter().map(|b| b.line.clone()).collect(),
                dropped,
            };
            let count = (end - start) as u64;
            if link.try_send(SessionRequest {
                message: Some(session_request::Message::Output(batch)),
            }) {
                dropped = 0;
            } else {
                dropped += count;
            }
            start = end;
        }
        if dropped > 0 {
            self.state().dropped += dropped;
        }
    }
}

impl OutputSink for LiveOutput {
    fn line(&self, script: &str, stream: Stream, text: &str) {
        let mut state = self.state();
        let sequence = state.next_sequence;
        state.next_sequence += 1;
        if state.lines.len() >= MAX_BUFFERED_LINES || state.bytes + text.len() > MAX_BUFFERED_BYTES
        {
            state.dropped += 1;
            return;
        }
        state.bytes += text.len();
        state.lines.push(Buffered {
            sequence,
            script: script.to_owned(),
            line: OutputLine {
                stream: match stream {
                    Stream::Stdout => OutputStream::Stdout,
                    Stream::Stderr => OutputStream::Stderr,
                } as i32,
                text: text.to_owned(),
                time: Some(prost_types::Timestamp::from(SystemTime::now())),
            },
        });
        if state.lines.len() >= BATCH_LINES || state.bytes >= BATCH_BYTES {
            self.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::agent::v1::session_request::Message;

    fn collect(receiver: &mut tokio::sync::mpsc::Receiver<SessionRequest>) -> Vec<HookOutput> {
        let mut out = Vec::new();
        while let Ok(message) = receiver.try_recv() {
            if let Some(Message::Output(output)) = message.message {
                out.push(output);
            }
        }
        out
    }

    #[test]
    fn batches_are_contiguous_bounded_and_count_what_was_dropped() {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(1024);
        let link = Link::default();
        let live = LiveOutput::new("c-1");
        // No stream yet: everything flushed now is dropped and counted.
        live.line("a.sh", Stream::Stdout, "lost");
        live.flush(&link);
        link.attach(sender);
        let long = "x".repeat(16 << 10);
        for _ in 0..100 {
            live.line("a.sh", Stream::Stdout, &long);
        }
        live.line("b.sh", Stream::Stderr, "other script");
        live.flush(&link);
        let batches = collect(&mut receiver);
        assert_eq!(batches[0].first_sequence, 1);
        assert_eq!(batches[0].dropped, 1);
        assert!(
            batches
                .iter()
                .all(|b| b.lines.iter().map(|l| l.text.len()).sum::<usize>() <= BATCH_BYTES)
        );
        let mut next = 1;
        for batch in &batches {
            assert_eq!(batch.first_sequence, next, "no gap between batches");
            next += batch.lines.len() as u64;
        }
        assert_eq!(next, 102);
        let last = batches.last().unwrap();
        assert_eq!((last.script.as_str(), last.lines.len()), ("b.sh", 1));
    }
}
