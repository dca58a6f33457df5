//! One-time codes for opening a shared link.

use std::fmt;

use crate::store::SecretKey;

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

/// The stored form of a code: HMAC-SHA-256, keyed with the server's secret key (kept outside
/// the database), over the recipient's id and the code. Equal codes of two recipients hash
/// differently, and without the key the million possible codes cannot be tried against it.
pub(super) fn hash(key: &SecretKey, recipient: i64, code: &str) -> [u8; 32] {
    key.mac(
        "one-time code",
        &[&recipient.to_le_bytes(), code.as_bytes()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_hashes_are_keyed_and_per_recipient() {
        let key = SecretKey::random().unwrap();
        assert_ne!(hash(&key, 1, "123456"), hash(&key, 2, "123456"));
        assert_eq!(hash(&key, 1, "123456"), hash(&key, 1, "123456"));
        let other = SecretKey::random().unwrap();
        assert_ne!(hash(&key, 1, "123456"), hash(&other, 1, "123456"));
    }
}
