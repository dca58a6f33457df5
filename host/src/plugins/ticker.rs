//! The epoch ticker: the thread that advances the engine's epoch, by which running calls' deadlines
//! are checked. It runs only while plugin code may be running: started by the runtime's first
//! call, parked once no call has run for a few ticks, woken by the next call. An idle process
//! (a server between requests, an embedder with nothing to map) then spends no CPU on it.
//!
//! A call's deadline is counted in ticks from the epoch at the moment the call is armed. While the
//! ticker is parked the epoch stands still, and when it wakes it counts its ticks from the moment
//! it woke, never catching up the time it slept: a call is therefore never stopped before its
//! deadline, and at most the thread's wake-up latency later than with a ticker that never stops.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use wasmtime::{Engine, EngineWeak};

/// How many ticks in a row with no call running and none started the ticker waits before it
/// parks: a stream of short calls (an import's rows) keeps it ticking instead of waking it for
/// every call.
const IDLE_TICKS: u32 = 10;

/// The ticker of one runtime. Dropping it stops the thread.
pub(crate) struct Ticker {
    shared: Arc<Shared>,
    engine: EngineWeak,
    tick: Duration,
    /// The ticker thread, once the first call started it.
    thread: OnceLock<Result<Thread, String>>,
}

/// What the calls and the ticker thread share.
struct Shared {
    /// Calls running now.
    running: AtomicUsize,
    /// Whether a call started since the ticker last looked.
    started: AtomicBool,
    /// Whether the ticker is parked (or about to park): the next call must wake it.
    parked: AtomicBool,
    /// Set when the runtime is gone: the thread ends.
    stop: AtomicBool,
}

/// A call in flight: the ticker ticks at least until it is dropped.
pub(crate) struct Ticking<'t> {
    shared: &'t Shared,
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.shared.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Ticker {
    /// A ticker for `engine` advancing its epoch every `tick`. No thread starts before the first
    /// call.
    pub(crate) fn new(engine: &Engine, tick: Duration) -> Ticker {
        Ticker {
            shared: Arc::new(Shared {
                running: AtomicUsize::new(0),
                started: AtomicBool::new(false),
                parked: AtomicBool::new(false),
                stop: AtomicBool::new(false),
            }),
            engine: engine.weak(),
            tick,
            thread: OnceLock::new(),
        }
    }

    /// Marks a call as running until the returned guard is dropped: starts the ticker thread on
    /// the first call and wakes it if it is parked. Call it after arming the call's deadline, so
    /// the ticks that count towards the deadline are all ticks after the call was armed.
    pub(crate) fn ticking(&self) -> Result<Ticking<'_>, String> {
        let shared = &*self.shared;
        // SeqCst on both sides: either this call sees `parked` and wakes the thread, or the
        // thread, about to park, sees the call running and does not.
        shared.running.fetch_add(1, Ordering::SeqCst);
        let guard = Ticking { shared };
        shared.started.store(true, Ordering::Relaxed);
        let thread = self
            .thread
            .get_or_init(|| self.spawn())
            .as_ref()
            .map_err(Clone::clone)?;
        if shared.parked.load(Ordering::SeqCst) {
            shared.parked.store(false, Ordering::SeqCst);
            thread.unpark();
        }
        Ok(guard)
    }

    fn spawn(&self) -> Result<Thread, String> {
        let shared = self.shared.clone();
        let engine = self.engine.clone();
        let tick = self.tick;
        std::thread::Builder::new()
            .name("cs-host-epoch".into())
            .spawn(move || run(&shared, &engine, tick))
            .map(|handle| handle.thread().clone())
            .map_err(|e| format!("cannot start the epoch ticker: {e}"))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(Ok(thread)) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// The ticker thread: ticks while calls run, parks when none has for [`IDLE_TICKS`], ends with
/// the runtime (or once the engine is gone).
fn run(shared: &Shared, engine: &EngineWeak, tick: Duration) {
    let tick_micros = tick.as_micros().max(1);
    loop {
        // Ticks follow the clock, not the sum of sleeps: a sleep always runs a little long, and
        // a deadline of a second would otherwise end 10% late. The count starts afresh after
        // each park: the time parked is not ticked, since no call was armed before it that is
        // still running.
        let start = Instant::now();
        let mut ticks: u128 = 0;
        let mut idle = 0;
        while idle < IDLE_TICKS {
            std::thread::sleep(tick);
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let Some(engine) = engine.upgrade() else {
                return;
            };
            let due = start.elapsed().as_micros() / tick_micros;
            while ticks < due {
                engine.increment_epoch();
                ticks += 1;
            }
            let started = shared.started.swap(false, Ordering::Relaxed);
            if started || shared.running.load(Ordering::SeqCst) > 0 {
                idle = 0;
            } else {
                idle += 1;
            }
        }
        shared.parked.store(true, Ordering::SeqCst);
        // A call that started between the check above and `parked` being set is seen here.
        while shared.parked.load(Ordering::SeqCst) && shared.running.load(Ordering::SeqCst) == 0 {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::park();
        }
        shared.parked.store(false, Ordering::SeqCst);
    }
}
