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

/// A new six-digit code, uniformly drawn from the operating system's RNG.
pub(super) fn new_code() -> crate::error::Result<String> {
    use crate::error::{Error, ErrorKind};
    // Rejection sampling: 4_294_000_000 is the largest multiple of 1_000_000 below 2^32, so
    // every code is equally likely.
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(|e| Error::new(ErrorKind::Random(e.to_string())))?;
        let n = u32::from_le_bytes(bytes);
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// The stored form of a code: SHA-256 over the recipient's id and the code, so equal codes of
/// two recipients hash differently.
pub(super) fn hash(recipient: i64, code: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(recipient.to_le_bytes())
        .chain_update(code.as_bytes())
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = new_code().unwrap();
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        assert_ne!(hash(1, "123456"), hash(2, "123456"));
    }
}
