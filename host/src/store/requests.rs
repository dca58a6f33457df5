//! Requests one process makes of another working on the same database, such as stopping a
//! tenant's running import. A request is a file beside the database, next to the claims, so
//! asking never waits for the database's write lock (which the running import holds for a
//! whole batch), and the process doing the work notices it with one `stat` now and then.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{Location, Store, TenantId, locks_dir};
use crate::error::{Error, ErrorKind, Result};

/// The stop requests made on in-memory databases (one process only).
static MEMORY_REQUESTS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

impl Store {
    /// The name of a request to stop the tenant's run `id` of `activity` (such as `import`).
    fn stop_name(tenant: &TenantId, activity: &str, id: i64) -> String {
        format!("{tenant}.{activity}.{id}.stop")
    }

    /// Where the request lives: a file beside a database file, or a key among the in-memory
    /// requests.
    fn stop_place(&self, tenant: &TenantId, activity: &str, id: i64) -> Place {
        let name = Store::stop_name(tenant, activity, id);
        match &self.location {
            Location::File(path) => Place::File(locks_dir(path).join(name)),
            Location::Memory(uri) => Place::Memory(format!("{uri}/{name}")),
        }
    }

    /// Asks whichever process runs the tenant's run `id` of `activity` to stop it.
    pub(crate) fn request_stop(&self, tenant: &TenantId, activity: &str, id: i64) -> Result<()> {
        match self.stop_place(tenant, activity, id) {
            Place::File(file) => {
                let io_error = |source| {
                    Error::new(ErrorKind::Io {
                        path: file.clone(),
                        source,
                    })
                };
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir).map_err(io_error)?;
                }
                std::fs::write(&file, b"").map_err(io_error)
            }
            Place::Memory(key) => {
                memory().insert(key);
                Ok(())
            }
        }
    }

    /// Whether a stop of the tenant's run `id` of `activity` was requested.
    pub(crate) fn stop_requested(&self, tenant: &TenantId, activity: &str, id: i64) -> bool {
        match self.stop_place(tenant, activity, id) {
            Place::File(file) => file.exists(),
            Place::Memory(key) => memory().contains(&key),
        }
    }

    /// Forgets a stop request: the run has ended.
    pub(crate) fn clear_stop(&self, tenant: &TenantId, activity: &str, id: i64) {
        match self.stop_place(tenant, activity, id) {
            // Nothing to forget is the usual case; a file that cannot be removed only means a
            // later `stop_requested` for this (ended) run says yes, which nothing asks.
            Place::File(file) => {
                let _ = std::fs::remove_file(file);
            }
            Place::Memory(key) => {
                memory().remove(&key);
            }
        }
    }
}

/// Where a request lives.
enum Place {
    File(PathBuf),
    Memory(String),
}

fn memory() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    MEMORY_REQUESTS.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_request_is_seen_by_another_store_on_the_same_file_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cs.db");
        let (one, two) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
        let acme = TenantId::new("acme");
        assert!(!two.stop_requested(&acme, "import", 7));
        one.request_stop(&acme, "import", 7).unwrap();
        assert!(two.stop_requested(&acme, "import", 7));
        assert!(!two.stop_requested(&acme, "import", 8));
        two.clear_stop(&acme, "import", 7);
        assert!(!one.stop_requested(&acme, "import", 7));
    }
}
