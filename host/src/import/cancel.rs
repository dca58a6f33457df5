//! Cancelling a running import, and reporting its progress while it runs.
//!
//! An import is cancelled in its own process through an [`ImportCancel`] (the command line sets
//! one on Ctrl-C and SIGTERM), or from another process with [`Imports::cancel`], which
//! leaves a request beside the database that the import looks for twice a second. Either way
//! the import stops between two rows: every row written before the cancel is committed with
//! the job's counts and its row errors, the rows read ahead but not yet written are dropped,
//! the plugins' run log is written as at the end of any import, and the job ends `cancelled`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::*;

/// How often a running import reports its progress and looks for a cancel request from another
/// process, at most: whatever the plugins' speed, progress comes at least this often.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Cancels an import from the thread or signal handler of your choice: give a clone to
/// [`ImportOptions::cancel_on`], call [`cancel`](Self::cancel) from anywhere.
///
/// ```
/// use cs_host::{Host, HostConfig, ImportCancel, ImportOptions, JobStatus, TenantLevel};
///
/// # fn main() -> cs_host::Result<()> {
/// let host = Host::open_in_memory(HostConfig::default())?;
/// host.create_tenant("acme", "Acme", TenantLevel::Company)?;
/// let cancel = ImportCancel::new();
/// cancel.cancel();
/// let options = ImportOptions::companies().cancel_on(cancel);
/// let job = host.tenant("acme")?.imports().bytes("c.csv", b"Name\nGlobex\n", &options)?;
/// assert_eq!((job.status, job.rows), (JobStatus::Cancelled, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ImportCancel(Arc<AtomicBool>);

impl ImportCancel {
    /// A cancel not yet asked for.
    pub fn new() -> ImportCancel {
        ImportCancel::default()
    }

    /// Asks the import to stop after the row it is writing. Safe to call from a signal
    /// handler: it only stores a flag.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the cancel was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the two threads of a running import share besides the rows.
#[derive(Default)]
pub(super) struct Shared {
    /// Set when the import is cancelled: the reading thread maps no further row.
    pub(super) stop: AtomicBool,
    /// Data rows the reading thread has read and mapped.
    pub(super) read: AtomicU64,
}

/// Watches a running import from its writing thread: reports progress at least every
/// [`PROGRESS_EVERY`] and notices a cancel.
pub(super) struct Watch<'a> {
    pub(super) tenant: &'a Tenant<'a>,
    pub(super) job: Option<i64>,
    pub(super) cancel: Option<&'a ImportCancel>,
    pub(super) shared: &'a Shared,
    pub(super) bytes: &'a AtomicU64,
    pub(super) total_bytes: u64,
    pub(super) last: Instant,
    pub(super) cancelled: bool,
}

impl Watch<'_> {
    /// The progress of `job` now.
    pub(super) fn progress(&self, rows: u64) -> Progress {
        Progress {
            job: self.job,
            rows,
            read: self.shared.read.load(Ordering::Relaxed).max(rows),
            bytes: self.bytes.load(Ordering::Relaxed).min(self.total_bytes),
            total_bytes: self.total_bytes,
        }
    }

    /// Called between rows and while waiting for them. Returns whether the import is cancelled
    /// (and tells the reading thread to stop then).
    pub(super) fn tick(&mut self, rows: u64, progress: &mut dyn FnMut(Progress)) -> bool {
        if !self.cancelled && self.cancel.is_some_and(ImportCancel::is_cancelled) {
            self.cancelled = true;
        }
        if !self.cancelled && self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            if let Some(id) = self.job
                && self
                    .tenant
                    .store()
                    .stop_requested(&self.tenant.id, "import", id)
            {
                self.cancelled = true;
            }
            progress(self.progress(rows));
        }
        if self.cancelled {
            self.shared.stop.store(true, Ordering::Relaxed);
        }
        self.cancelled
    }

    /// A batch was committed: report it now.
    pub(super) fn committed(&mut self, rows: u64, progress: &mut dyn FnMut(Progress)) {
        self.last = Instant::now();
        progress(self.progress(rows));
    }
}

impl Imports<'_> {
    /// Cancels the running import job `id`, from any process on the same database: the import
    /// stops between two rows within about half a second (or, while a plugin call is under
    /// way, when the call ends, within its deadline), and its job ends
    /// [`Cancelled`](JobStatus::Cancelled) with the rows written before.
    ///
    /// Returns the job's status now: [`Running`](JobStatus::Running) until the import has
    /// seen the request (poll [`job`](Self::job) to see it end), or
    /// [`Interrupted`](JobStatus::Interrupted) when no process was running it any more (it
    /// died mid-import). A job that has ended already is an error saying how it ended.
    pub fn cancel(&self, id: i64) -> Result<JobStatus> {
        self.tenant.require(crate::access::Permission::Import)?;
        let job = self.job(id)?;
        if job.status != JobStatus::Running {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "import job {id} is {}: only a running job can be cancelled",
                job.status
            ))));
        }
        // No process holds the tenant's import claim: the job's process died.
        if let Some(_claim) = self.tenant.store().claim(&self.tenant.id, "import")? {
            self.tenant.write(job::interrupt_stale)?;
            return Ok(JobStatus::Interrupted);
        }
        self.tenant
            .store()
            .request_stop(&self.tenant.id, "import", id)?;
        Ok(JobStatus::Running)
    }
}
