//! Ctrl-C and SIGTERM during an import: the first one cancels the import (it stops between two
//! rows, and its job ends `cancelled` with every row written before it committed and the run
//! log written), a second one ends the process at once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use cs_host::ImportCancel;

/// The cancel the signal handler sets.
static CANCEL: OnceLock<ImportCancel> = OnceLock::new();

/// Signals received so far.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// The exit code of a process ended by a second signal, as shells report an interrupted command.
pub const INTERRUPTED: u8 = 130;

#[cfg(unix)]
extern "C" fn on_signal(_signal: libc::c_int) {
    // Only atomic loads and stores here: all a signal handler may safely do.
    if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
        // SAFETY: `_exit` is async-signal-safe; the second signal means "stop now".
        unsafe { libc::_exit(i32::from(INTERRUPTED)) };
    }
    if let Some(cancel) = CANCEL.get() {
        cancel.cancel();
    }
}

/// The cancel that Ctrl-C (SIGINT) and SIGTERM set from now on.
pub fn cancel_on_signals() -> ImportCancel {
    let cancel = CANCEL.get_or_init(ImportCancel::new).clone();
    #[cfg(unix)]
    {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only touches atomics (and `_exit`), as a handler must.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
    cancel
}
