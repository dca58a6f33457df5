//! The budgets every plugin call runs under.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The limits a plugin runs under.
///
/// Deadline, fuel, output and log are per call; memory is per instance (one instance serves one
/// operation, such as one import job); the operation budget (time and fuel) is per operation:
/// everything one plugin's calls of one import, share, selection or partner creation may use
/// together. Every setter's documentation gives its default.
///
/// ```
/// use std::time::Duration;
/// use cs_host::Limits;
///
/// let limits = Limits::default().deadline(Duration::from_millis(50)).fuel(10_000_000);
/// assert_eq!(limits.deadline_value(), Duration::from_millis(50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Limits {
    #[serde(with = "millis")]
    #[cfg_attr(feature = "cli", schemars(with = "u64"))]
    deadline: Duration,
    fuel: u64,
    memory: usize,
    output: usize,
    log: usize,
    notifications: usize,
    #[serde(with = "millis")]
    #[cfg_attr(feature = "cli", schemars(with = "u64"))]
    operation_time: Duration,
    operation_fuel: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            deadline: Duration::from_secs(1),
            fuel: 1_000_000_000,
            memory: 32 << 20,
            output: 1 << 20,
            log: 64 << 10,
            notifications: 2,
            operation_time: Duration::from_secs(60),
            operation_fuel: 1_000_000_000_000,
        }
    }
}

impl Limits {
    /// The wall-clock time one call may take before it is stopped with
    /// [`DeadlineExceeded`](crate::PluginErrorKind::DeadlineExceeded).
    ///
    /// By default, one second. The host checks the deadline every millisecond, so a call stops
    /// at most about a millisecond late.
    pub fn deadline(mut self, deadline: Duration) -> Limits {
        self.deadline = deadline;
        self
    }

    /// The fuel one call may burn before it is stopped with
    /// [`FuelExhausted`](crate::PluginErrorKind::FuelExhausted). Fuel counts WebAssembly
    /// instructions, roughly one unit each, so the same call on the same input always uses the
    /// same fuel whatever the machine's load.
    ///
    /// By default, 1,000,000,000: between 40 and 150 ms of busy computation, depending on the
    /// machine. Mapping one CSV row takes about 30,000.
    pub fn fuel(mut self, fuel: u64) -> Limits {
        self.fuel = fuel;
        self
    }

    /// The most memory, in bytes, a plugin instance may use: every linear memory and table of
    /// the component together (a table element counts 8 bytes). Growing past it, or a
    /// component whose memories start bigger, fails with
    /// [`MemoryLimit`](crate::PluginErrorKind::MemoryLimit).
    ///
    /// By default, 32 MiB.
    pub fn memory(mut self, bytes: usize) -> Limits {
        self.memory = bytes;
        self
    }

    /// The most data, in bytes, one call may return; more fails with
    /// [`OutputTooLarge`](crate::PluginErrorKind::OutputTooLarge). Each notification counts 256
    /// bytes besides its text, so empty ones are not free.
    ///
    /// By default, 1 MiB.
    pub fn output(mut self, bytes: usize) -> Limits {
        self.output = bytes;
        self
    }

    /// The most log text, in bytes, the host keeps from one call (log lines and anything the
    /// plugin writes to stdout or stderr). Each line counts 32 bytes besides its text, so
    /// empty lines are not free. Lines beyond it are dropped and the log says so.
    ///
    /// By default, 64 KiB (at most 2,048 lines).
    pub fn log(mut self, bytes: usize) -> Limits {
        self.log = bytes;
        self
    }

    /// The most notifications one call of a notifier or lifecycle plugin may return, per
    /// address the event names (each recipient of a share and the user who shared; each
    /// address of a new partner's record); more fails with
    /// [`TooManyNotifications`](crate::PluginErrorKind::TooManyNotifications).
    ///
    /// By default, 2.
    pub fn notifications(mut self, per_address: usize) -> Limits {
        self.notifications = per_address;
        self
    }

    /// The wall-clock time all of one plugin's calls of one operation (an import, a share, a
    /// criteria selection, a partner's creation) may take together, time spent in host waits
    /// included. A call that would run past it is stopped with
    /// [`BudgetSpent`](crate::PluginErrorKind::BudgetSpent), which names the operation and, in an
    /// import, the row; the plugin is not called again in that operation, and its failure policy
    /// decides what happens to the rest (fail-closed: the remaining rows fail with that error;
    /// fail-open: they go on without the plugin).
    ///
    /// By default, 60 seconds.
    pub fn operation_time(mut self, time: Duration) -> Limits {
        self.operation_time = time;
        self
    }

    /// The fuel all of one plugin's calls of one operation may burn together; see
    /// [`operation_time`](Self::operation_time) for what happens when it is spent.
    ///
    /// By default, 1,000,000,000,000 (about 30 million rows of a typical field mapper).
    pub fn operation_fuel(mut self, fuel: u64) -> Limits {
        self.operation_fuel = fuel;
        self
    }

    /// The time budget of one operation.
    pub fn operation_time_value(&self) -> Duration {
        self.operation_time
    }

    /// The fuel budget of one operation.
    pub fn operation_fuel_value(&self) -> u64 {
        self.operation_fuel
    }

    /// The deadline of one call.
    pub fn deadline_value(&self) -> Duration {
        self.deadline
    }

    /// The fuel budget of one call.
    pub fn fuel_value(&self) -> u64 {
        self.fuel
    }

    /// The memory cap of one instance, in bytes.
    pub fn memory_value(&self) -> usize {
        self.memory
    }

    /// The output cap of one call, in bytes.
    pub fn output_value(&self) -> usize {
        self.output
    }

    /// The log cap of one call, in bytes.
    pub fn log_value(&self) -> usize {
        self.log
    }

    /// The notifications one call may return per address the event names.
    pub fn notifications_value(&self) -> usize {
        self.notifications
    }

    /// These limits, each lowered to at most the matching limit of `max`.
    pub fn capped_by(self, max: &Limits) -> Limits {
        Limits {
            deadline: self.deadline.min(max.deadline),
            fuel: self.fuel.min(max.fuel),
            memory: self.memory.min(max.memory),
            output: self.output.min(max.output),
            log: self.log.min(max.log),
            notifications: self.notifications.min(max.notifications),
            operation_time: self.operation_time.min(max.operation_time),
            operation_fuel: self.operation_fuel.min(max.operation_fuel),
        }
    }

    /// The limits of `self` that exceed the matching limit of `max`, by name.
    pub fn exceeding(&self, max: &Limits) -> Vec<&'static str> {
        let mut over = Vec::new();
        if self.deadline > max.deadline {
            over.push("deadline");
        }
        if self.fuel > max.fuel {
            over.push("fuel");
        }
        if self.memory > max.memory {
            over.push("memory");
        }
        if self.output > max.output {
            over.push("output");
        }
        if self.log > max.log {
            over.push("log");
        }
        if self.notifications > max.notifications {
            over.push("notifications");
        }
        if self.operation_time > max.operation_time {
            over.push("operation time");
        }
        if self.operation_fuel > max.operation_fuel {
            over.push("operation fuel");
        }
        over
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(duration.as_millis().try_into().unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capping_lowers_each_limit_to_the_maximum() {
        let max = Limits::default().fuel(100).memory(1 << 20);
        let wanted = Limits::default().fuel(1_000).memory(1 << 10);
        let capped = wanted.capped_by(&max);
        assert_eq!(capped.fuel_value(), 100);
        assert_eq!(capped.memory_value(), 1 << 10);
        assert_eq!(wanted.exceeding(&max), vec!["fuel"]);
    }

    #[test]
    fn limits_serialize_the_deadline_in_milliseconds() {
        let json =
            serde_json::to_value(Limits::default().deadline(Duration::from_millis(250))).unwrap();
        assert_eq!(json["deadline"], 250);
        let back: Limits = serde_json::from_str(r#"{"fuel": 5}"#).unwrap();
        assert_eq!(back.fuel_value(), 5);
        assert_eq!(back.deadline_value(), Duration::from_secs(1));
    }
}
