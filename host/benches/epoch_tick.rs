//! How fine the epoch ticker must be: for each tick, how late a call that never returns (the
//! `spin` plugin) is stopped after its deadline, and what the ticker costs an idle process in
//! CPU time.
//!
//! A deadline is counted in ticks, rounded up, plus one; a coarser tick saves wake-ups but lets a
//! call run up to about two ticks past its deadline. The numbers go into README "The sandbox".
//!
//! Run with `cargo bench -p cs-host --bench epoch_tick` (plugins built: `make plugins`). Set
//! `CSHOST_BENCH_CALLS` to change how many calls are timed per tick and deadline (default 20).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use cs_host::model::FieldValue;
use cs_host::{Limits, PluginContext, PluginRuntime, RuntimeConfig};

/// The CPU time this process has used so far (user and system), from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks of the kernel: 100 a second on every Linux this runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let calls: usize = std::env::var("CSHOST_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let spin = support::plugin_bytes("spin");
    let fields = vec!["name".to_owned()];
    let values = vec![FieldValue::from("x")];
    println!(
        "{:>6} {:>9} {:>14} {:>14} {:>18}",
        "tick", "deadline", "overshoot avg", "overshoot max", "idle CPU per sec"
    );
    for tick_ms in [1u64, 2, 5, 10] {
        let tick = Duration::from_millis(tick_ms);
        let runtime = PluginRuntime::new(
            RuntimeConfig::default()
                .cache_dir(support::cache_dir())
                .epoch_tick(tick),
        )
        .expect("runtime starts");
        let plugin = runtime.load(&spin).expect("spin loads");
        // The ticker's cost alone: the runtime is up, nothing runs.
        let idle = Duration::from_secs(2);
        let before = cpu_time();
        std::thread::sleep(idle);
        let idle_cpu = match (before, cpu_time()) {
            (Some(before), Some(after)) => {
                format!("{:.1} ms", (after - before).as_secs_f64() * 500.0)
            }
            _ => "n/a".to_owned(),
        };
        for deadline_ms in [20u64, 100] {
            let deadline = Duration::from_millis(deadline_ms);
            let context = PluginContext::new("acme")
                .limits(Limits::default().deadline(deadline).fuel(u64::MAX / 2));
            let mut overshoots = Vec::with_capacity(calls);
            for _ in 0..calls {
                let mut instance = plugin.instantiate(&context);
                instance.begin_rows(&[], &fields).expect("begin");
                let started = Instant::now();
                let error = instance
                    .map_row(2, &[], &values)
                    .expect_err("spin never returns");
                let took = started.elapsed();
                assert_eq!(error.code(), "deadline-exceeded", "{error}");
                overshoots.push(took.saturating_sub(deadline));
            }
            let avg = overshoots.iter().sum::<Duration>() / calls as u32;
            let max = overshoots.iter().max().copied().unwrap_or_default();
            println!(
                "{:>4}ms {:>7}ms {:>12.2}ms {:>12.2}ms {:>18}",
                tick_ms,
                deadline_ms,
                avg.as_secs_f64() * 1000.0,
                max.as_secs_f64() * 1000.0,
                idle_cpu
            );
        }
    }
}
