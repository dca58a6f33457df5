//! A plugin's log: what it logged and printed during its last call, within a byte budget.

use serde::{Deserialize, Serialize};

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Step-by-step detail.
    Trace,
    /// Detail for finding a problem.
    Debug,
    /// Normal events, and what the plugin printed to stdout.
    Info,
    /// Unusual events, and what the plugin printed to stderr.
    Warn,
    /// Failures.
    Error,
    /// The reason the plugin is about to crash, such as its panic message.
    Fatal,
}

/// One line of a plugin's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct LogLine {
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// What each line costs against the log cap besides its text: about what the host spends to keep
/// a line. Without it, empty lines would be free, and a plugin could fill the host's memory with
/// millions of them.
pub(crate) const LINE_COST: usize = 32;

/// The log of one call, capped at a number of bytes (each line counting its text and
/// [`LINE_COST`]).
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    lines: Vec<LogLine>,
    bytes: usize,
    cap: usize,
    dropped: usize,
    /// Stream output not yet ended by a newline, per level.
    partial: Vec<(LogLevel, Vec<u8>)>,
}

impl LogBuffer {
    /// Starts a new call: forgets the previous call's lines.
    pub(crate) fn start_call(&mut self, cap: usize) {
        self.lines.clear();
        self.partial.clear();
        self.bytes = 0;
        self.dropped = 0;
        self.cap = cap;
    }

    /// Adds a line, or counts it as dropped when the call's budget is spent.
    ///
    /// Lines are kept inert: control characters (ESC, CR, NUL) are stored as visible escapes, so
    /// printing a plugin's log never drives the reader's terminal.
    pub(crate) fn push(&mut self, level: LogLevel, message: String) {
        let cost = message.len().saturating_add(LINE_COST);
        if self.bytes.saturating_add(cost) > self.cap {
            self.dropped += 1;
            return;
        }
        self.bytes += cost;
        let message = match crate::inert::inert(&message) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(escaped) => escaped,
        };
        self.lines.push(LogLine { level, message });
    }

    /// Adds stream output; each complete line becomes a log line.
    pub(crate) fn write_stream(&mut self, level: LogLevel, mut bytes: &[u8]) {
        let at = match self.partial.iter().position(|(l, _)| *l == level) {
            Some(at) => at,
            None => {
                self.partial.push((level, Vec::new()));
                self.partial.len() - 1
            }
        };
        while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
            if self.bytes.saturating_add(LINE_COST) > self.cap {
                // The budget is spent: count the line without building it.
                self.partial[at].1.clear();
                self.dropped += 1;
                bytes = &bytes[newline + 1..];
                continue;
            }
            let mut line = std::mem::take(&mut self.partial[at].1);
            line.extend_from_slice(&bytes[..newline]);
            self.push(level, String::from_utf8_lossy(&line).into_owned());
            bytes = &bytes[newline + 1..];
        }
        // Bound the unfinished line too: a plugin printing without newlines must not grow it.
        let room = self.cap.saturating_sub(self.partial[at].1.len());
        self.partial[at]
            .1
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Ends the call: unfinished stream lines become log lines, and a last line says how many
    /// lines were dropped, if any.
    pub(crate) fn finish_call(&mut self) {
        for (level, line) in std::mem::take(&mut self.partial) {
            if !line.is_empty() {
                self.push(level, String::from_utf8_lossy(&line).into_owned());
            }
        }
        if self.dropped > 0 {
            self.lines.push(LogLine {
                level: LogLevel::Warn,
                message: format!(
                    "{} more log lines dropped: over the log limit of {} bytes",
                    self.dropped, self.cap
                ),
            });
        }
    }

    /// The lines of the last call.
    pub(crate) fn lines(&self) -> &[LogLine] {
        &self.lines
    }

    /// The panic message the plugin printed to stderr in this call, if any: what Rust's default
    /// panic hook writes, for plugins not built on the SDK.
    pub(crate) fn printed_panic(&self) -> Option<String> {
        let stderr = self
            .lines
            .iter()
            .filter(|line| line.level == LogLevel::Warn);
        let mut found: Option<String> = None;
        for line in stderr {
            match &mut found {
                None if line.message.contains("panicked at") => found = Some(line.message.clone()),
                // The message follows on the next line in current Rust versions.
                Some(text) if !line.message.starts_with("note:") && !text.contains('\n') => {
                    text.push('\n');
                    text.push_str(&line.message);
                }
                _ => {}
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_output_is_split_into_lines_and_capped() {
        let mut log = LogBuffer::default();
        log.start_call(12 + 2 * LINE_COST);
        log.write_stream(LogLevel::Info, b"hello\nwor");
        log.write_stream(LogLevel::Info, b"ld\nthis line is too long\n");
        log.finish_call();
        let messages: Vec<&str> = log.lines().iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages[..2], ["hello", "world"]);
        assert!(
            messages[2].starts_with("1 more log lines dropped"),
            "{messages:?}"
        );
    }

    #[test]
    fn empty_lines_count_against_the_cap() {
        let mut log = LogBuffer::default();
        log.start_call(10 * LINE_COST);
        for _ in 0..100_000 {
            log.write_stream(LogLevel::Info, b"\n");
            log.push(LogLevel::Info, String::new());
        }
        log.finish_call();
        assert_eq!(log.lines().len(), 11, "ten lines and the note of the rest");
        assert!(
            log.lines()[10]
                .message
                .starts_with("199990 more log lines dropped")
        );
    }

    #[test]
    fn a_new_call_starts_with_an_empty_log() {
        let mut log = LogBuffer::default();
        log.start_call(100);
        log.push(LogLevel::Info, "first".into());
        log.finish_call();
        log.start_call(100);
        log.finish_call();
        assert!(log.lines().is_empty());
    }

    #[test]
    fn finds_the_panic_message_rust_prints() {
        let mut log = LogBuffer::default();
        log.start_call(1000);
        log.write_stream(
            LogLevel::Warn,
            b"\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\nnote: run with `RUST_BACKTRACE=1`\n",
        );
        log.finish_call();
        let panic = log.printed_panic().unwrap();
        assert!(
            panic.ends_with("panicked at src/lib.rs:3:5:\nboom"),
            "{panic}"
        );
    }
}
