//! One-time codes for opening a shared link.

use std::fmt;

/// Why a one-time code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtpError {
    /// The code is wrong; `tries_left` more wrong codes are allowed before the link is blocked.
    Wrong {
        /// Wrong codes still allowed before the link is blocked.
        tries_left: u32,
    },
    /// The code is older than its lifetime (five minutes); ask for a new one.
    Expired,
    /// No code was asked for (or the last one was used); ask for one first.
    NotRequested,
    /// The link has had all the codes it may have (five); ask the person who shared it.
    NoMoreCodes,
}

impl fmt::Display for OtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtpError::Wrong { tries_left: 0 } => f.write_str(
                "the code is wrong and the link is now blocked; ask the person who shared it \
                 to send you a new one",
            ),
            OtpError::Wrong { tries_left } => write!(
                f,
                "the code is wrong; {tries_left} more {} before the link is blocked",
                if *tries_left == 1 { "try" } else { "tries" }
            ),
            OtpError::Expired => f.write_str("the code has expired; ask for a new one"),
            OtpError::NotRequested => f.write_str("ask for a code first"),
            OtpError::NoMoreCodes => f.write_str(
                "no more codes can be sent for this link; ask the person who shared it to send \
                 you a new one",
            ),
        }
    }
}
