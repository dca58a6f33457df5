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
    /// No installed plugin has this name (and version).
    UnknownPlugin {
        /// The plugin's name.
        name: String,
        /// The version asked for, if one was.
        version: Option<String>,
    },
    /// The plugin is not enabled for the tenant.
    PluginNotEnabled {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
    },
    /// The plugin cannot be uninstalled: tenants have it enabled.
    PluginInUse {
        /// The plugin and version.
        plugin: String,
        /// The tenants that have it enabled.
        tenants: Vec<String>,
    },
    /// A plugin's configuration does not fit the keys it declares.
    PluginConfig {
        /// The plugin.
        plugin: String,
        /// The key at fault.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A plugin's limits exceed the platform maxima.
    LimitsExceeded {
        /// The plugin.
        plugin: String,
        /// The limits over their maximum: `deadline`, `fuel`, `memory`, `output`, `log`.
        limits: Vec<String>,
    },
    /// The WebAssembly engine could not be set up.
    Engine(String),
    /// The database failed.
    Database {
        /// The database file (or `:memory:`).
        database: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database was written by a newer cs-host: its schema has more migration steps than
    /// this version knows. It is left untouched.
    SchemaTooNew {
        /// The database file.
        database: String,
        /// The database's schema version (its `user_version`).
        version: i64,
        /// The newest schema version this cs-host knows.
        supported: i64,
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
    /// A company or relationship is managed by a partner already, and a record has at most
    /// one partner: clear it before giving the record to another.
    AlreadyManaged {
        /// The record, such as `Customer Co (company 12)`.
        record: String,
        /// The id of the partner that manages it now.
        partner_id: i64,
        /// The name of the partner that manages it now.
        partner: String,
    },
    /// A field's value does not fit the tenant's field schema.
    InvalidField {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A CSV file was refused before or while its rows were read.
    Csv {
        /// The file, as the import names it.
        file: String,
        /// The data row at fault (1 for the first data row), if it is one row.
        row: Option<u64>,
        /// The column at fault, if it is one column.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A CSV file is over the tenant's import size limit.
    FileTooLarge {
        /// The file.
        file: String,
        /// Its size in bytes.
        size: u64,
        /// The tenant's limit in bytes.
        limit: u64,
    },
    /// Criteria cannot be run: a filter does not fit its field, or the logic expression does
    /// not parse.
    Criteria {
        /// Where in the logic expression (0-based character offset), for a parse error.
        position: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The tenant has no record of this kind with this id.
    NotFound {
        /// What kind of record: `success plan`, `objective`, `CTA`, `task`, `company`, ...
        object: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A plan cannot become active because CTAs of it are due before some of their tasks (the
    /// SUCCESS_PLAN_OBJECTIVES_UPDATED_FAILED case); the plan keeps its status.
    CtaDueBeforeTask {
        /// The plan.
        plan: i64,
        /// The status the plan keeps: draft (activating) or complete (reopening).
        from: crate::plans::PlanStatus,
        /// Every CTA due before one of its tasks, in the order they were opened, each with
        /// its latest task.
        broken: Vec<crate::plans::LateCta>,
    },
    /// A plan cannot move from one status to another: the move is not part of its state
    /// machine, or it needs something else first (the reason says what).
    PlanTransitionRefused {
        /// The plan.
        plan: i64,
        /// Its status, which it keeps.
        from: crate::plans::PlanStatus,
        /// The status asked for.
        to: crate::plans::PlanStatus,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A plan cannot be shared with this internal user.
    ShareRefused {
        /// The recipient's email.
        email: String,
        /// Why: no such user, or a licence that cannot receive plans.
        reason: String,
    },
    /// A shared link cannot be opened: unknown, expired, revoked or blocked. The message is the
    /// same in every case, so a link's holder learns nothing about which.
    LinkUnavailable,
    /// A one-time code was refused.
    Otp(crate::sharing::OtpError),
    /// A change through a link that needs a one-time code came without the session a verified
    /// code opens, or after that session ended.
    SessionRequired,
    /// A recipient of a shared plan may not make this change through their link.
    RecipientRefused {
        /// The recipient's email.
        email: String,
        /// Why: view permission only, a task or objective they do not see.
        reason: String,
    },
    /// The operating system's random number generator failed.
    Random(String),
    /// An operation was asked to act as someone who is not a user of the tenant.
    UnknownActor {
        /// The tenant.
        tenant: String,
        /// Who was named.
        actor: String,
    },
    /// The acting principal may not do this.
    PermissionDenied {
        /// Who acted.
        actor: String,
        /// Its role, such as `user:viewer`.
        role: String,
        /// The permission the operation needs, such as `plans.share`.
        permission: &'static str,
    },
    /// The tenant has an import running already: one import per tenant runs at a time.
    ImportRunning {
        /// The tenant.
        tenant: String,
    },
    /// A partner user asked to write a kind of record its partner's access scope does not reach
    /// (a partner with relationship records importing companies, or the reverse).
    OutOfScope {
        /// Who acted.
        actor: String,
        /// What it asked to write: `companies` or `relationships`.
        records: &'static str,
    },
    /// The tenant has no partner seat left.
    SeatsExhausted {
        /// The tenant.
        tenant: String,
        /// What ran out: `partners` or `partner users`.
        what: &'static str,
        /// How many the tenant may have.
        limit: u32,
        /// How many it has.
        used: u64,
    },
    /// A bearer token is unknown, expired or revoked (the message does not say which).
    Unauthenticated,
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

    /// The error's class as a short, stable code, for programs that answer errors (the HTTP
    /// API's JSON errors carry it beside the message): one of [`Error::CODES`]. The classes
    /// stay the same when kinds are added; the message says what exactly went wrong.
    pub fn code(&self) -> &'static str {
        use crate::plugins::PluginErrorKind as P;
        use crate::sharing::OtpError;
        match &*self.kind {
            ErrorKind::Unauthenticated | ErrorKind::SessionRequired => "unauthenticated",
            ErrorKind::PermissionDenied { .. }
            | ErrorKind::OutOfScope { .. }
            | ErrorKind::UnknownActor { .. }
            | ErrorKind::RecipientRefused { .. } => "forbidden",
            ErrorKind::UnknownTenant(_)
            | ErrorKind::NotFound { .. }
            | ErrorKind::UnknownPlugin { .. }
            | ErrorKind::PluginNotEnabled { .. }
            | ErrorKind::LinkUnavailable => "not_found",
            ErrorKind::Invalid(_)
            | ErrorKind::InvalidField { .. }
            | ErrorKind::Csv { .. }
            | ErrorKind::Criteria { .. }
            | ErrorKind::PluginConfig { .. }
            | ErrorKind::ShareRefused { .. } => "invalid_input",
            ErrorKind::Otp(OtpError::NoMoreCodes) => "limit_exceeded",
            ErrorKind::Otp(_) => "invalid_input",
            ErrorKind::TenantExists(_)
            | ErrorKind::AlreadyManaged { .. }
            | ErrorKind::PluginInUse { .. }
            | ErrorKind::CtaDueBeforeTask { .. }
            | ErrorKind::PlanTransitionRefused { .. }
            | ErrorKind::ImportRunning { .. } => "conflict",
            ErrorKind::LimitsExceeded { .. } | ErrorKind::SeatsExhausted { .. } => "limit_exceeded",
            ErrorKind::FileTooLarge { .. } => "too_large",
            // A file that is no plugin this host runs is bad input; the host's own trouble
            // running a plugin is the host's; anything else is the plugin failing.
            ErrorKind::Plugin(error) => match error.kind() {
                P::IncompatibleComponent { .. }
                | P::ForbiddenImport { .. }
                | P::ManifestChanged { .. } => "invalid_input",
                P::Host { .. } => "internal",
                _ => "plugin_failed",
            },
            ErrorKind::Engine(_)
            | ErrorKind::Database { .. }
            | ErrorKind::SchemaTooNew { .. }
            | ErrorKind::Io { .. }
            | ErrorKind::Random(_) => "internal",
        }
    }

    /// Every code [`Error::code`] answers, each with what it means.
    pub const CODES: &'static [(&'static str, &'static str)] = &[
        (
            "unauthenticated",
            "no valid token (unknown, expired, revoked), or a link session is needed",
        ),
        (
            "forbidden",
            "the acting principal may not do this (a permission, a partner's scope)",
        ),
        (
            "not_found",
            "no such tenant, record, plugin or link (or one the caller may not see)",
        ),
        (
            "invalid_input",
            "the input is refused: the message names the field, row, column or plugin",
        ),
        (
            "conflict",
            "the current state refuses the change (exists already, in use, a plan's state)",
        ),
        (
            "limit_exceeded",
            "a limit refuses it: plugin limits over the platform maxima, partner seats, codes",
        ),
        ("too_large", "a file is over the tenant's import size limit"),
        ("plugin_failed", "a plugin failed and the operation with it"),
        (
            "internal",
            "the database, a file, the engine: the host's trouble, not the caller's",
        ),
    ];
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            ErrorKind::Plugin(error) => error.fmt(f),
            ErrorKind::Engine(reason) => write!(f, "the WebAssembly engine failed: {reason}"),
            ErrorKind::Database { database, source } => {
                write!(f, "database {database}: {source}")
            }
            ErrorKind::SchemaTooNew {
                database,
                version,
                supported,
            } => write!(
                f,
                "database {database}: its schema version {version} is newer than this cs-host \
                 knows ({supported}); use the cs-host that wrote it, or a newer one"
            ),
            ErrorKind::UnknownTenant(id) => write!(f, "there is no tenant `{id}`"),
            ErrorKind::TenantExists(id) => write!(f, "a tenant `{id}` exists already"),
            ErrorKind::Invalid(message) => f.write_str(message),
            ErrorKind::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ErrorKind::UnknownPlugin {
                name,
                version: Some(version),
            } => write!(f, "plugin `{name}` {version} is not installed"),
            ErrorKind::UnknownPlugin {
                name,
                version: None,
            } => write!(f, "plugin `{name}` is not installed"),
            ErrorKind::PluginNotEnabled { tenant, plugin } => {
                write!(f, "plugin `{plugin}` is not enabled for tenant `{tenant}`")
            }
            ErrorKind::PluginInUse { plugin, tenants } => write!(
                f,
                "plugin `{plugin}` is enabled for {}; disable it there first, or force",
                tenants.join(", ")
            ),
            ErrorKind::PluginConfig {
                plugin,
                key,
                problem,
            } => write!(f, "plugin `{plugin}`, configuration key `{key}`: {problem}"),
            ErrorKind::LimitsExceeded { plugin, limits } => write!(
                f,
                "plugin `{plugin}`: the {} limit exceeds the platform maximum",
                limits.join(", ")
            ),
            ErrorKind::AlreadyManaged {
                record,
                partner_id,
                partner,
            } => write!(
                f,
                "{record} is managed by partner `{partner}` (id {partner_id}) already; a record \
                 has at most one partner: clear it first"
            ),
            ErrorKind::InvalidField { field, message } => write!(f, "field `{field}`: {message}"),
            ErrorKind::Csv {
                file,
                row,
                column,
                message,
            } => {
                write!(f, "{file}")?;
                if let Some(row) = row {
                    write!(f, ", row {row}")?;
                }
                if let Some(column) = column {
                    write!(f, ", column `{column}`")?;
                }
                write!(f, ": {message}")
            }
            ErrorKind::FileTooLarge { file, size, limit } => write!(
                f,
                "{file}: {size} bytes is over the tenant's import limit of {limit} bytes; an \
                 admin can raise it"
            ),
            ErrorKind::Criteria { position, message } => match position {
                Some(at) => write!(f, "logic expression, at character {}: {message}", at + 1),
                None => write!(f, "criteria: {message}"),
            },
            ErrorKind::NotFound { object, id } => write!(f, "there is no {object} {id}"),
            ErrorKind::CtaDueBeforeTask { plan, from, broken } => {
                write!(
                    f,
                    "SUCCESS_PLAN_OBJECTIVES_UPDATED_FAILED: success plan {plan} stays {from} \
                     ({from} → active refused): "
                )?;
                for (n, late) in broken.iter().enumerate() {
                    if n > 0 {
                        f.write_str("; ")?;
                    }
                    write!(
                        f,
                        "CTA {} `{}` is due {}, before its task {} `{}` (due {})",
                        late.cta,
                        late.cta_name,
                        late.cta_due,
                        late.task,
                        late.task_name,
                        late.task_due
                    )?;
                }
                let again = if *from == crate::plans::PlanStatus::Complete {
                    "reopen"
                } else {
                    "activate"
                };
                write!(
                    f,
                    "; re-apply each task's due date (which moves its CTA's) and {again} again"
                )
            }
            ErrorKind::PlanTransitionRefused {
                plan,
                from,
                to,
                reason,
            } => write!(f, "success plan {plan}: {from} → {to} is refused: {reason}"),
            ErrorKind::ShareRefused { email, reason } => {
                write!(f, "cannot share with {email}: {reason}")
            }
            ErrorKind::LinkUnavailable => f.write_str(
                "this link is not valid; ask the person who shared it to send you a new one",
            ),
            ErrorKind::Otp(error) => error.fmt(f),
            ErrorKind::UnknownActor { tenant, actor } => write!(
                f,
                "`{actor}` is not a user of tenant `{tenant}`: operations run as one of its users \
                 (`cshost user list --tenant {tenant}` lists them)"
            ),
            ErrorKind::PermissionDenied {
                actor,
                role,
                permission,
            } => write!(
                f,
                "{actor} ({role}) may not do this: it needs permission `{permission}`, which \
                 none of its bundles grants (a tenant admin assigns bundles)"
            ),
            ErrorKind::ImportRunning { tenant } => write!(
                f,
                "tenant `{tenant}` has an import running already; one import per tenant runs at \
                 a time: wait for it to finish (`cshost import list`)"
            ),
            ErrorKind::OutOfScope { actor, records } => write!(
                f,
                "{actor} may not write {records}: its partner's access scope does not include \
                 {records} (a tenant admin sets the partner's scope)"
            ),
            ErrorKind::SeatsExhausted {
                tenant,
                what,
                limit,
                used,
            } => write!(
                f,
                "tenant `{tenant}` has {used} {what} of the {limit} its partner seats allow; \
                 the platform operator or a tenant admin can raise the limit"
            ),
            ErrorKind::Unauthenticated => {
                f.write_str("the token is not valid: it is unknown, expired or revoked")
            }
            ErrorKind::SessionRequired => f.write_str(
                "this link needs a one-time code: ask for a code, enter it, and try again",
            ),
            ErrorKind::RecipientRefused { email, reason } => {
                write!(f, "{email} cannot change the shared plan: {reason}")
            }
            ErrorKind::Random(reason) => {
                write!(
                    f,
                    "the operating system's random number generator failed: {reason}"
                )
            }
        }
    }
}

/// The message of an [`Error`] is whole: it already says what its cause said (the file's
/// operating-system error, the database's message, the plugin's failure), so it reports no
/// separate `source`, and a caller that prints the chain of causes (`anyhow`'s `{:#}`) prints
/// each fact once. The cause itself stays reachable through [`Error::kind`].
impl std::error::Error for Error {}

impl From<PluginError> for Error {
    fn from(error: PluginError) -> Error {
        Error::new(ErrorKind::Plugin(error))
    }
}

/// A database error. The database is named once, where the operation leaves the store
/// (`Store::with` and `Store::write`), so the code that runs SQL
/// only writes `?`.
impl From<rusqlite::Error> for Error {
    fn from(source: rusqlite::Error) -> Error {
        Error::new(ErrorKind::Database {
            database: String::new(),
            source,
        })
    }
}

impl Error {
    /// Names the database of a database error that does not name one yet.
    pub(crate) fn in_database(mut self, name: impl FnOnce() -> String) -> Error {
        if let ErrorKind::Database { database, .. } = &mut *self.kind
            && database.is_empty()
        {
            *database = name();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginErrorKind;

    fn code(kind: ErrorKind) -> &'static str {
        Error::new(kind).code()
    }

    #[test]
    fn each_kind_of_error_has_the_code_of_its_class() {
        let plugin = |kind| ErrorKind::Plugin(PluginError::new("p", kind));
        let cases = [
            (ErrorKind::Unauthenticated, "unauthenticated"),
            (ErrorKind::SessionRequired, "unauthenticated"),
            (
                ErrorKind::PermissionDenied {
                    actor: "v@x".into(),
                    role: "user:viewer".into(),
                    permission: "plans.share",
                },
                "forbidden",
            ),
            (ErrorKind::UnknownTenant("nope".into()), "not_found"),
            (
                ErrorKind::NotFound {
                    object: "task",
                    id: "7".into(),
                },
                "not_found",
            ),
            (ErrorKind::LinkUnavailable, "not_found"),
            (ErrorKind::Invalid("bad".into()), "invalid_input"),
            (
                ErrorKind::InvalidField {
                    field: "arr".into(),
                    message: "not a number".into(),
                },
                "invalid_input",
            ),
            (
                ErrorKind::Otp(crate::sharing::OtpError::Expired),
                "invalid_input",
            ),
            (
                ErrorKind::Otp(crate::sharing::OtpError::NoMoreCodes),
                "limit_exceeded",
            ),
            (ErrorKind::TenantExists("acme".into()), "conflict"),
            (
                ErrorKind::PluginInUse {
                    plugin: "p".into(),
                    tenants: vec!["acme".into()],
                },
                "conflict",
            ),
            (
                ErrorKind::LimitsExceeded {
                    plugin: "p".into(),
                    limits: vec!["fuel".into()],
                },
                "limit_exceeded",
            ),
            (
                ErrorKind::FileTooLarge {
                    file: "a.csv".into(),
                    size: 2,
                    limit: 1,
                },
                "too_large",
            ),
            (
                plugin(PluginErrorKind::IncompatibleComponent {
                    reason: "not a component".into(),
                }),
                "invalid_input",
            ),
            (
                plugin(PluginErrorKind::Trap {
                    reason: "unreachable".into(),
                    panic: None,
                }),
                "plugin_failed",
            ),
            (
                plugin(PluginErrorKind::Host {
                    reason: "pool full".into(),
                }),
                "internal",
            ),
            (ErrorKind::Engine("no".into()), "internal"),
            (ErrorKind::Random("no".into()), "internal"),
        ];
        for (kind, expected) in cases {
            let shown = format!("{kind:?}");
            let got = code(kind);
            assert_eq!(got, expected, "{shown}");
            assert!(
                Error::CODES.iter().any(|(c, _)| *c == got),
                "{got} is not listed in Error::CODES"
            );
        }
    }
}
