//! The server's secret key, kept outside the database, and the secrets derived from it.
//!
//! Whoever reads the database file alone (a copied file, a backup, a support dump) must not get
//! a working link or one-time code out of it. So:
//!
//! - one-time codes are stored as an HMAC-SHA-256 keyed with this key, not as a plain hash that
//!   a million guesses reverse;
//! - a message that carries a link or a code is queued *sealed*: its body holds a marker
//!   (`{token}`, `{code}`) where the secret goes, and the row holds only a random nonce; the
//!   secret is HMAC(key, nonce), rendered by the deliverer, and the nonce is dropped once the
//!   email is delivered.
//!
//! The key is 32 random bytes in a file beside the database, `<database>.key`, created on first
//! use with mode 0600 (an existing file that group or others may read is refused). An in-memory
//! database gets a random key of its own, gone with it.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, ErrorKind, Result};

/// The server's secret key.
pub(crate) struct SecretKey {
    key: [u8; 32],
}

impl SecretKey {
    /// A fresh key from the operating system's RNG.
    pub(crate) fn random() -> Result<SecretKey> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| Error::new(ErrorKind::Random(e.to_string())))?;
        Ok(SecretKey { key })
    }

    /// The key in `path`, created (mode 0600) if there is none. Of several processes creating
    /// it at once, one wins and the others read its key: the file is written whole under a
    /// temporary name, then linked into place.
    pub(crate) fn load_or_create(path: &Path) -> Result<SecretKey> {
        let io = |source| {
            Error::new(ErrorKind::Io {
                path: path.to_owned(),
                source,
            })
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return SecretKey::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let key = SecretKey::random()?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // tempfile creates its files with mode 0600.
        let mut file = tempfile::Builder::new()
            .prefix(".cs-host-key-")
            .tempfile_in(dir)
            .map_err(io)?;
        writeln!(file, "{}", hex::encode(key.key)).map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        match std::fs::hard_link(file.path(), path) {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                SecretKey::parse(path, &text)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<SecretKey> {
        let bad = |why: &str| {
            Error::new(ErrorKind::Invalid(format!(
                "the secret key file {}: {why}",
                path.display()
            )))
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|source| {
                    Error::new(ErrorKind::Io {
                        path: path.to_owned(),
                        source,
                    })
                })?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(bad(&format!(
                    "group or others may read it (mode {:o}); run `chmod 600` on it",
                    mode & 0o777
                )));
            }
        }
        let bytes = hex::decode(text.trim()).map_err(|_| bad("it does not hold 64 hex digits"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("it does not hold 64 hex digits"))?;
        Ok(SecretKey { key })
    }

    /// HMAC-SHA-256 of `parts` under the key, for `purpose`: each part is length-prefixed, so
    /// no two lists of parts (or purposes) give the same input.
    pub(crate) fn mac(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        for part in std::iter::once(purpose.as_bytes()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// A short public name of the key (8 hex digits), stored with sealed secrets so that a
    /// message sealed under another key (the key file was replaced) is refused, never sent with
    /// a wrong secret.
    fn id(&self) -> String {
        hex::encode(&self.mac("key id", &[])[..4])
    }
}

/// Where the key of the database at `database` lives: `<database>.key`.
pub(crate) fn key_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(".key");
    PathBuf::from(path)
}

/// What a sealed secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretKind {
    /// A link's token: 64 hex digits.
    LinkToken,
    /// A one-time code: six digits.
    Code,
}

impl SecretKind {
    fn as_str(self) -> &'static str {
        match self {
            SecretKind::LinkToken => "link-token",
            SecretKind::Code => "code",
        }
    }

    /// What stands in a stored message where the secret goes.
    pub(crate) fn marker(self) -> &'static str {
        match self {
            SecretKind::LinkToken => "{token}",
            SecretKind::Code => "{code}",
        }
    }
}

/// A secret known by a random nonce: the secret itself is HMAC(key, nonce), so the nonce can be
/// stored where the secret must not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    kind: SecretKind,
    nonce: [u8; 32],
}

impl Sealed {
    /// A new secret of `kind`.
    pub(crate) fn new(kind: SecretKind) -> Result<Sealed> {
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(|e| Error::new(ErrorKind::Random(e.to_string())))?;
        Ok(Sealed { kind, nonce })
    }

    /// What it is.
    pub(crate) fn kind(&self) -> SecretKind {
        self.kind
    }

    /// The secret: a link token (64 hex digits) or a six-digit code.
    pub(crate) fn reveal(&self, key: &SecretKey) -> String {
        let bytes = key.mac(self.kind.as_str(), &[&self.nonce]);
        match self.kind {
            SecretKind::LinkToken => hex::encode(bytes),
            SecretKind::Code => {
                // 2^64 is about 1.8e13 times 10^6: the bias of the remainder is negligible.
                let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
                format!("{:06}", n % 1_000_000)
            }
        }
    }

    /// The stored form: `<kind>:<key id>:<nonce>`.
    pub(crate) fn stored(&self, key: &SecretKey) -> String {
        format!(
            "{}:{}:{}",
            self.kind.as_str(),
            key.id(),
            hex::encode(self.nonce)
        )
    }

    /// The secret a stored form stands for, revealed under `key`; an error when the form is not
    /// one, or was sealed under another key.
    pub(crate) fn reveal_stored(
        stored: &str,
        key: &SecretKey,
    ) -> std::result::Result<(SecretKind, String), String> {
        let sealed = Sealed::from_stored(stored, key)?;
        Ok((sealed.kind, sealed.reveal(key)))
    }

    /// The sealed secret a stored form stands for; an error when the form is not one, or was
    /// sealed under another key than `key`.
    pub(crate) fn from_stored(
        stored: &str,
        key: &SecretKey,
    ) -> std::result::Result<Sealed, String> {
        let mut parts = stored.splitn(3, ':');
        let (Some(kind), Some(id), Some(nonce)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{stored}` is not a sealed secret"));
        };
        let kind = match kind {
            "link-token" => SecretKind::LinkToken,
            "code" => SecretKind::Code,
            _ => return Err(format!("`{kind}` is not a kind of sealed secret")),
        };
        if id != key.id() {
            return Err(format!(
                "its secret was sealed under key {id}, and the key file now holds key {}; \
                 the link or code can no longer be rendered (share again, or ask for a new code)",
                key.id()
            ));
        }
        let nonce: [u8; 32] = hex::decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| format!("`{stored}` is not a sealed secret"))?;
        Ok(Sealed { kind, nonce })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(&dir.path().join("cs.db"));
        assert!(path.ends_with("cs.db.key"));
        let key = SecretKey::load_or_create(&path).unwrap();
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(key.key, again.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let error = SecretKey::load_or_create(&path).err().unwrap().to_string();
            assert!(error.contains("chmod 600"), "{error}");
        }
    }

    #[test]
    fn sealed_secrets_reveal_the_same_secret_only_under_their_key() {
        let key = SecretKey::random().unwrap();
        let code = Sealed::new(SecretKind::Code).unwrap();
        let shown = code.reveal(&key);
        assert_eq!(shown.len(), 6);
        assert!(shown.bytes().all(|b| b.is_ascii_digit()));
        let stored = code.stored(&key);
        assert_eq!(
            Sealed::reveal_stored(&stored, &key).unwrap(),
            (SecretKind::Code, shown)
        );
        let other = SecretKey::random().unwrap();
        let error = Sealed::reveal_stored(&stored, &other).unwrap_err();
        assert!(error.contains("sealed under key"), "{error}");
        let token = Sealed::new(SecretKind::LinkToken).unwrap().reveal(&key);
        assert_eq!(token.len(), 64);
    }
}
