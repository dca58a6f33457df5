//! cs-host: an embeddable, multi-tenant plugin runtime for a customer-success platform.
//!
//! A [`Host`] owns one SQLite database (many tenants), the WebAssembly plugin runtime and the
//! clock; [`Host::tenant`] hands out the [`Tenant`] handle through which every tenant-scoped
//! operation goes, so none can forget its tenant. The handle is a thin façade: each accessor
//! ([`Tenant::companies`], [`Tenant::partners`], [`Tenant::imports`], [`Tenant::plans`], ...)
//! returns a small handle for one domain, and each operation has one path. Plugins (components
//! built against the `cs:plugin` WIT package) are installed once for the platform and enabled per
//! tenant ([`Tenant::plugins`]); the hooks run them as the operations below happen.
//!
//! ```
//! use cs_host::model::{AccessScope, Audience, FieldValue};
//! use cs_host::{
//!     CompanyKey, Criteria, Filter, Host, HostConfig, ImportOptions, Licence, NewCompany, NewPlan,
//!     Operator, PlanStatus, ShareRequest, TenantLevel,
//! };
//!
//! # fn main() -> cs_host::Result<()> {
//! let host = Host::open_in_memory(HostConfig::default())?;
//! host.create_tenant("acme", "Acme Corp", TenantLevel::Both)?;
//! // The platform operator adds the tenant's admin; operations then run as that user, checked.
//! host.tenant("acme")?.access().add_admin("admin@acme.example", "Ada")?;
//! let acme = host.tenant("acme")?.as_user("admin@acme.example")?;
//!
//! // A company through the form: Name is mandatory, fields are checked against the schema.
//! let globex = acme.companies().add(NewCompany::new("Globex").field("arr", 250_000.0))?;
//! let company = acme.companies().get(CompanyKey::Id(globex))?.expect("added above");
//! assert_eq!(company.fields["arr"], FieldValue::Number(250_000.0));
//!
//! // Partners from a CSV: the header maps to fields by name; a bad row is a row error.
//! let csv = "Name,Industry,ARR\nBennett & Co.,Logistics,120000\nNo Name Row,,not a number\n";
//! let options = ImportOptions::partners(Some(AccessScope::Both));
//! let job = acme.imports().bytes("partners.csv", csv.as_bytes(), &options)?;
//! assert_eq!((job.created, job.failed), (1, 1));
//! assert!(job.errors[0].reason.contains("arr"));
//! let partners = acme.partners().list()?;
//! assert_eq!(partners[0].company.name, "Bennett & Co.");
//!
//! // Criteria select companies: here, the partners.
//! let partner = FieldValue::from("partner");
//! let criteria = Criteria::new(vec![Filter::field("managed_as", Operator::Eq, [partner])]);
//! assert_eq!(acme.criteria().run(&criteria)?.count, 1);
//!
//! // A success plan for Globex with an objective, shared with a colleague by a link of their own.
//! acme.users().add("fay@acme.example", "Fay", Licence::Full)?;
//! let plan = acme.plans().create(&NewPlan {
//!     company_id: globex,
//!     name: "Onboarding".into(),
//!     ..NewPlan::default()
//! })?;
//! acme.plans().add_objective(plan, "Go live", None, None)?;
//! let request = ShareRequest::new(plan, Audience::Users, ["fay@acme.example"]);
//! let receipt = acme.shares().share(&request)?;
//! assert_eq!(receipt.links.len(), 1);
//! assert_eq!(acme.plans().get(plan)?.status, PlanStatus::Draft);
//!
//! // Every change is in the audit log, by who made it.
//! assert!(acme.audit().list()?.iter().any(|e| e.actor == "admin@acme.example"));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod access;
mod audit;
mod clock;
mod companies;
mod context;
mod criteria;
mod error;
mod hooks;
mod host;
mod import;
mod inert;
pub mod model;
mod names;
mod outbox;
mod partners;
mod persons;
mod plans;
mod plugins;
mod relationships;
mod sharing;
mod store;
mod tenant;
mod users;

// The host and the tenant façade, with one handle per domain.
pub use host::{Host, HostConfig, TenantInfo, TenantLevel};
pub use store::TenantId;
pub use tenant::Tenant;

pub use audit::{AuditEntry, AuditLog};
pub use clock::{Clock, ManualClock, SystemClock};
pub use companies::{Companies, CompanyKey, FieldDef, FieldType, NewCompany};
pub use criteria::{Criteria, Filter, Operator, Selection, Selections};
pub use error::{Error, ErrorKind, Result};
pub use hooks::pending::PendingHooksRun;
pub use hooks::{
    CriteriaInput, Hooks, IMPORT_OBJECT_KEY, IMPORT_OBJECTS, PartnerInput, RowInput, RowsInput,
    ShareInput, parse_hook_input,
};
pub use import::{
    CsvProperties, Encoding, ImportCancel, ImportJob, ImportOptions, ImportTarget, Imports,
    JobStatus, Mapping, Progress, RowError, RowErrorKind, Separator,
};
pub use outbox::{
    DeliveryReport, FileMailbox, Outbox, OutboxMessage, OutboxStatus, Sent, SmtpMailer, Transport,
    TransportError,
};
pub use partners::{HookReport, Partners, Portfolio};
pub use persons::{Person, Persons};
pub use plans::{
    Cta, CtaFilter, CtaStatus, Ctas, LateCta, NewCta, NewPlan, NewTask, ObjectiveComment, Plan,
    PlanObjective, PlanStatus, Plans, Playbook, PlaybookTask, Playbooks, Task, TaskOf, TaskUpdate,
};
pub use relationships::{
    NewRelationship, Relationship, RelationshipEdit, RelationshipType, RelationshipTypes,
    Relationships, STANDARD_FIELDS as RELATIONSHIP_STANDARD_FIELDS,
};
pub use sharing::{
    LinkState, Links, Notifications, Opened, OtpError, RecipientLink, RecipientSession,
    ShareActivity, SharePermission, SharePreview, ShareReceipt, ShareRequest, ShareRow, ShareTo,
    SharedPlan, Shares, SharingSettings,
};
pub use users::{Licence, PartnerId, User, Users};

// Plugins: the engine (usable without a database), the registry and each tenant's enablements.
pub use plugins::{
    AvailablePlugin, BatchRow, Budget, CallStats, Capability, CompanyDirectory, ConfigKey,
    DEFAULT_BREAKER_THRESHOLD, EnableOptions, Enablement, ExtensionPoint, FailurePolicy,
    InstallOutcome, Installed, InstalledPlugin, KEPT_FAILURES, Limits, LogLevel, LogLine, Manifest,
    Plugin, PluginContext, PluginError, PluginErrorKind, PluginInstance, PluginRuntime, Plugins,
    RecordedFailure, RowAction, RowOutcome, RunStats, RuntimeConfig, StaticDirectory, Tuning,
    UnknownCapability, UnknownExtensionPoint, supported_contracts,
};

// Helpers of the `cshost` program (escaping for a terminal and a shell, the sample-data
// generator, number and date formats, the nearest name): not part of the library's API, and
// present only with the `cli` feature.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub use {
    import::generate_partners_csv,
    inert::{inert, shell_quote},
    names::nearest,
    plans::dates::rfc3339 as utc_timestamp,
    plugins::grouped,
};
