//! The library's error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::plugins::PluginError;

/// The result of a library call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from the library. [`Error::kind`] says what went wrong.
#[derive(Debug)]
pub struct Error {
    kind: Box<ErrorKind>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A plugin failed or could not be loaded.
    Plugin(PluginError),
    /// The WebAssembly engine could not be set up.
    Engine(String),
    /// The database failed.
    Database {
        /// The database file (or `:memory:`).
        database: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// No tenant has this id.
    UnknownTenant(String),
    /// A tenant with this id exists already.
    TenantExists(String),
    /// The input is not valid; the message says what is wrong and where.
    Invalid(String),
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error {
            kind: Box::new(kind),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Unwraps the kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            ErrorKind::Plugin(error) => error.fmt(f),
            ErrorKind::Engine(reason) => write!(f, "the WebAssembly engine failed: {reason}"),
            ErrorKind::Database { database, source } => {
                write!(f, "database {database}: {source}")
            }
            ErrorKind::UnknownTenant(id) => write!(f, "there is no tenant `{id}`"),
            ErrorKind::TenantExists(id) => write!(f, "a tenant `{id}` exists already"),
            ErrorKind::Invalid(message) => f.write_str(message),
            ErrorKind::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            ErrorKind::Plugin(error) => Some(error),
            ErrorKind::Io { source, .. } => Some(source),
            ErrorKind::Database { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<PluginError> for Error {
    fn from(error: PluginError) -> Error {
        Error::new(ErrorKind::Plugin(error))
    }
}
