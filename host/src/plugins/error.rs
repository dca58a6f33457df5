//! Typed plugin errors: what went wrong, and whose fault it was.

use std::fmt;
use std::time::Duration;

use crate::inert::Inert;

/// A plugin failed, or could not be installed or run.
///
/// The host never crashes on a plugin's behalf: every way a plugin can misbehave ends in one of
/// these, naming the plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    plugin: String,
    kind: PluginErrorKind,
}

/// What went wrong with a plugin.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PluginErrorKind {
    /// The plugin crashed: a panic, an `unreachable`, an out-of-bounds access, a stack overflow.
    Trap {
        /// What the engine reported, such as "wasm `unreachable` instruction executed".
        reason: String,
        /// The plugin's panic message, when it sent one before crashing.
        panic: Option<String>,
    },
    /// The call ran past its wall-clock deadline and was stopped.
    DeadlineExceeded {
        /// The deadline.
        deadline: Duration,
    },
    /// The call used up its fuel budget and was stopped.
    FuelExhausted {
        /// The budget.
        budget: u64,
    },
    /// The plugin used up its budget for the whole operation (an import, a share, a criteria
    /// selection): it is not called again in that operation.
    BudgetSpent {
        /// The operation: `import`, `share`, `selection` or `partner creation`.
        operation: String,
        /// The budget it used up.
        budget: Budget,
        /// The import's data row it was mapping when the budget ran out.
        row: Option<u64>,
    },
    /// The plugin tried to grow its memory past its cap.
    MemoryLimit {
        /// The cap in bytes.
        limit: usize,
    },
    /// The plugin returned more data than the output cap allows.
    OutputTooLarge {
        /// The size of the output in bytes.
        size: usize,
        /// The cap in bytes.
        limit: usize,
    },
    /// The plugin returned something the host cannot accept, such as the wrong number of answers.
    InvalidOutput {
        /// What was wrong with it.
        reason: String,
    },
    /// The plugin addressed a notification to someone the egress policy does not allow: not a
    /// recipient of the event, the user who caused it, or one of the tenant's users.
    EgressDenied {
        /// The address, normalised.
        recipient: String,
    },
    /// The plugin returned more notifications than one event may send.
    TooManyNotifications {
        /// How many it returned.
        count: usize,
        /// The most the event allows.
        limit: usize,
    },
    /// The plugin reported an error on purpose.
    Reported {
        /// The plugin's error code.
        code: String,
        /// The plugin's message.
        message: String,
    },
    /// The plugin called a host function whose capability it lacks, and then failed.
    CapabilityNotGranted {
        /// The capability, as the contract spells it (`read-companies`).
        capability: String,
    },
    /// The file is not a component this host can run: not a component at all, no supported
    /// contract version, a missing export or a mismatched type.
    IncompatibleComponent {
        /// What is wrong, naming the export or type at fault.
        reason: String,
    },
    /// The component imports an interface the host does not offer to plugins.
    ForbiddenImport {
        /// The import, for example `wasi:sockets/tcp@0.2.0`.
        import: String,
    },
    /// The component describes itself differently from the manifest recorded when it was
    /// installed: it is refused, and the recorded manifest stays the one enforced.
    ManifestChanged {
        /// The first difference, such as the fields it reads.
        change: String,
    },
    /// The plugin does not implement the extension point the host asked for.
    NotImplemented {
        /// The extension point.
        extension_point: String,
    },
    /// The host could not run the plugin, through no fault of the plugin: the instance pool is
    /// full, or the compile cache could not be written.
    Host {
        /// What went wrong.
        reason: String,
    },
}

impl PluginError {
    /// A new error for the named plugin.
    pub fn new(plugin: impl Into<String>, kind: PluginErrorKind) -> PluginError {
        PluginError {
            plugin: plugin.into(),
            kind,
        }
    }

    /// The plugin's name, or its file name when the error came before it could say its name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// What went wrong.
    pub fn kind(&self) -> &PluginErrorKind {
        &self.kind
    }

    /// Whether the plugin is to blame, as opposed to the host.
    pub fn is_plugin_fault(&self) -> bool {
        !matches!(self.kind, PluginErrorKind::Host { .. })
    }

    /// A short stable name of the kind of error, for logs, statistics and JSON output.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl PluginErrorKind {
    /// A short stable name of the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            PluginErrorKind::Trap { .. } => "trap",
            PluginErrorKind::DeadlineExceeded { .. } => "deadline-exceeded",
            PluginErrorKind::FuelExhausted { .. } => "fuel-exhausted",
            PluginErrorKind::BudgetSpent { .. } => "budget-spent",
            PluginErrorKind::MemoryLimit { .. } => "memory-limit",
            PluginErrorKind::OutputTooLarge { .. } => "output-too-large",
            PluginErrorKind::InvalidOutput { .. } => "invalid-output",
            PluginErrorKind::EgressDenied { .. } => "egress-denied",
            PluginErrorKind::TooManyNotifications { .. } => "too-many-notifications",
            PluginErrorKind::Reported { .. } => "reported",
            PluginErrorKind::CapabilityNotGranted { .. } => "capability-not-granted",
            PluginErrorKind::IncompatibleComponent { .. } => "incompatible-component",
            PluginErrorKind::ForbiddenImport { .. } => "forbidden-import",
            PluginErrorKind::ManifestChanged { .. } => "manifest-changed",
            PluginErrorKind::NotImplemented { .. } => "not-implemented",
            PluginErrorKind::Host { .. } => "host",
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin `{}`: {}", Inert(&self.plugin), self.kind)
    }
}

impl fmt::Display for PluginErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginErrorKind::Trap {
                reason,
                panic: Some(panic),
            } => write!(f, "crashed: {} ({})", Inert(panic), Inert(reason)),
            PluginErrorKind::Trap {
                reason,
                panic: None,
            } => write!(f, "crashed: {}", Inert(reason)),
            PluginErrorKind::DeadlineExceeded { deadline } => {
                write!(f, "stopped after its deadline of {deadline:?}")
            }
            PluginErrorKind::FuelExhausted { budget } => {
                write!(f, "stopped after using its fuel budget of {budget}")
            }
            PluginErrorKind::BudgetSpent {
                operation,
                budget,
                row,
            } => {
                write!(f, "used its {budget} {operation} budget")?;
                match row {
                    Some(row) => write!(f, " at row {}", grouped(*row)),
                    None => Ok(()),
                }
            }
            PluginErrorKind::MemoryLimit { limit } => {
                write!(
                    f,
                    "tried to use more than its memory limit of {limit} bytes"
                )
            }
            PluginErrorKind::OutputTooLarge { size, limit } => {
                write!(
                    f,
                    "returned {size} bytes, over the output limit of {limit} bytes"
                )
            }
            PluginErrorKind::InvalidOutput { reason } => {
                write!(f, "returned invalid output: {}", Inert(reason))
            }
            PluginErrorKind::EgressDenied { recipient } => write!(
                f,
                "addressed a notification to `{recipient}`, who is not a recipient of the event \
                 nor a user of the tenant"
            ),
            PluginErrorKind::TooManyNotifications { count, limit } => write!(
                f,
                "returned {count} notifications, over the limit of {limit} for this event"
            ),
            PluginErrorKind::Reported { code, message } => {
                write!(f, "failed ({}): {}", Inert(code), Inert(message))
            }
            PluginErrorKind::CapabilityNotGranted { capability } => {
                write!(
                    f,
                    "called a host function without the `{capability}` capability"
                )
            }
            PluginErrorKind::IncompatibleComponent { reason } => {
                write!(f, "is not a compatible component: {}", Inert(reason))
            }
            PluginErrorKind::ForbiddenImport { import } => {
                write!(f, "imports `{import}`, which plugins may not use")
            }
            PluginErrorKind::ManifestChanged { change } => {
                write!(
                    f,
                    "describes itself differently from its manifest recorded at install, so it \
                     is refused: {change}"
                )
            }
            PluginErrorKind::NotImplemented { extension_point } => {
                write!(
                    f,
                    "does not implement the {extension_point} extension point"
                )
            }
            PluginErrorKind::Host { reason } => write!(f, "could not be run by the host: {reason}"),
        }
    }
}

impl std::error::Error for PluginError {}

/// A budget of a whole operation: see [`Limits::operation_time`](crate::Limits::operation_time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Wall-clock time.
    Time(Duration),
    /// Fuel.
    Fuel(u64),
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Time(time) if time.subsec_millis() == 0 => write!(f, "{} s", time.as_secs()),
            Budget::Time(time) => write!(f, "{:.3} s", time.as_secs_f64()),
            Budget::Fuel(fuel) => write!(f, "{}-fuel", grouped(*fuel)),
        }
    }
}

/// A number with its thousands separated by commas: `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_names_the_budget_the_operation_and_the_row() {
        let error = PluginError::new(
            "slow-mapper",
            PluginErrorKind::BudgetSpent {
                operation: "import".into(),
                budget: Budget::Time(Duration::from_secs(30)),
                row: Some(1234),
            },
        );
        assert_eq!(
            error.to_string(),
            "plugin `slow-mapper`: used its 30 s import budget at row 1,234"
        );
        let fuel = PluginErrorKind::BudgetSpent {
            operation: "share".into(),
            budget: Budget::Fuel(5_000_000),
            row: None,
        };
        assert_eq!(fuel.to_string(), "used its 5,000,000-fuel share budget");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(1000), "1,000");
    }
}
