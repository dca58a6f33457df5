//! Untrusted text made inert for terminals, logs and shells.
//!
//! Plugin names, descriptions, log lines and error messages, and CSV data, come from people the
//! platform does not trust. Printed raw, an escape sequence rewrites the terminal, a carriage
//! return hides what came before it on the line, and a NUL truncates what a C program reads.
//! Everything human-readable that carries such text goes through [`inert`].

use std::borrow::Cow;
use std::fmt;

/// `text` with every control character (C0, DEL and C1: ESC, CR, LF, NUL, ...) written as a
/// visible escape such as `\u{1b}`, `\r` or `\n`. Text without control characters is returned
/// as it is, without copying.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Displays untrusted text inert: `format!("{}", Inert(text))`.
pub(crate) struct Inert<'a>(pub(crate) &'a str);

/// `arg` quoted for a POSIX shell, so a printed command pastes as the words it shows: bare when
/// it holds only characters no shell treats specially, in single quotes otherwise (a `'` inside
/// written `'\''`), and inert either way.
#[cfg(feature = "cli")]
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b));
    if plain {
        return arg.to_owned();
    }
    format!("'{}'", inert(arg).replace('\'', "'\\''"))
}

impl fmt::Display for Inert<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&inert(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_carriage_returns_and_nul_become_visible() {
        assert_eq!(inert("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            inert("\u{1b}[2Jok\rfake\0\u{9b}"),
            "\\u{1b}[2Jok\\rfake\\u{0}\\u{9b}"
        );
        assert_eq!(inert("a\nb\tc"), "a\\nb\\tc");
    }

    #[test]
    #[cfg(feature = "cli")]
    fn printed_commands_quote_shell_characters() {
        assert_eq!(shell_quote("out/input.json"), "out/input.json");
        assert_eq!(shell_quote("x; touch X; #"), "'x; touch X; #'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        assert_eq!(shell_quote(""), "''");
    }
}
