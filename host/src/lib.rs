//! cs-host: an embeddable, multi-tenant plugin runtime for a customer-success platform.
//!
//! A [`Host`] owns one SQLite database (many tenants), the WebAssembly plugin runtime and the
//! clock; [`Host::tenant`] hands out the [`Tenant`] handle through which every tenant-scoped
//! operation goes, so none can forget its tenant. Plugins (components built against the
//! `cs:plugin` WIT package) are installed once for the platform and enabled per tenant; the
//! hooks run them as the operations below happen.
//!
//! ```
//! use cs_host::model::{AccessScope, FieldValue};
//! use cs_host::{CompanyKey, Host, HostConfig, ImportOptions, NewCompany, TenantLevel};
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
//!
//! // Partners from a CSV: the header maps to fields by name; a bad row is a row error.
//! let csv = "Name,Industry,ARR\nBennett & Co.,Logistics,120000\nNo Name Row,,not a number\n";
//! let job = acme.imports().bytes("partners.csv", csv.as_bytes(), &ImportOptions::partners(Some(AccessScope::Both)))?;
//! assert_eq!((job.created, job.failed), (1, 1));
//! assert!(job.errors[0].reason.contains("arr"));
//!
//! let partners = acme.partners().list()?;
//! assert_eq!(partners[0].company.name, "Bennett & Co.");
//! let company = acme.companies().get(CompanyKey::Id(globex))?.expect("added above");
//! assert_eq!(company.fields["arr"], FieldValue::Number(250_000.0));
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
pub mod plugins;
mod relationships;
mod sharing;
mod store;
mod tenant;
mod users;

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
pub use host::{Host, HostConfig, TenantInfo, TenantLevel};
pub use import::{
    CsvProperties, Encoding, ImportCancel, ImportJob, Imports, ImportOptions, ImportTarget, JobStatus,
    Mapping, Progress, RowError, RowErrorKind, Separator, generate_partners_csv,
};
pub use inert::{inert, shell_quote};
pub use names::nearest;
pub use outbox::{
    DeliveryReport, FileMailbox, Outbox, OutboxMessage, OutboxStatus, Sent, SmtpMailer, Transport,
    TransportError,
};
pub use partners::{HookReport, Partners, Portfolio};
pub use persons::{Person, Persons};
pub use plans::dates::rfc3339 as utc_timestamp;
pub use plans::{
    Cta, CtaFilter, CtaStatus, Ctas, LateCta, NewCta, NewPlan, NewTask, ObjectiveComment, Plan,
    PlanObjective, PlanStatus, Plans, Playbook, PlaybookTask, Playbooks, Task, TaskOf, TaskUpdate,
};
pub use plugins::{
    Capability, ExtensionPoint, Limits, Manifest, Plugin, PluginContext, PluginError,
    PluginErrorKind, PluginInstance, PluginRuntime, RuntimeConfig,
};
pub use plugins::{
    EnableOptions, Enablement, FailurePolicy, InstallOutcome, Installed, InstalledPlugin, Plugins,
    RecordedFailure, RunStats,
};
pub use relationships::{
    NewRelationship, Relationship, RelationshipEdit, RelationshipType, RelationshipTypes, Relationships,
    STANDARD_FIELDS as RELATIONSHIP_STANDARD_FIELDS,
};
pub use sharing::{
    LinkState, Links, Notifications, Opened, OtpError, RecipientLink, RecipientSession, ShareActivity,
    SharePermission, SharePreview, ShareReceipt, ShareRequest, ShareRow, ShareTo, SharedPlan,
    Shares, SharingSettings,
};
pub use store::TenantId;
pub use tenant::Tenant;
pub use users::{Licence, PartnerId, User, Users};
