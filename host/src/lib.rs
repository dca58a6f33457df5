//! cs-host: an embeddable, multi-tenant plugin runtime for a customer-success platform.
#![deny(missing_docs)]

mod audit;
mod clock;
mod companies;
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
mod sharing;
mod store;
mod users;

pub use audit::AuditEntry;
pub use clock::{Clock, ManualClock, SystemClock};
pub use companies::{CompanyKey, FieldDef, FieldType, NewCompany};
pub use criteria::{Criteria, Filter, Operator, Selection};
pub use error::{Error, ErrorKind, Result};
pub use hooks::{CriteriaInput, PartnerInput, RowInput, RowsInput, ShareInput, parse_hook_input};
pub use host::{Host, HostConfig, Tenant, TenantInfo, TenantLevel};
pub use import::{
    CsvProperties, Encoding, ImportJob, ImportOptions, ImportTarget, JobStatus, Mapping, Progress,
    RowError, RowErrorKind, Separator, generate_partners_csv,
};
pub use inert::{inert, shell_quote};
pub use names::nearest;
pub use outbox::{
    DeliveryReport, FileMailbox, OutboxMessage, OutboxStatus, Sent, SmtpMailer, Transport,
    TransportError,
};
pub use partners::HookReport;
pub use persons::Person;
pub use plans::dates::rfc3339 as utc_timestamp;
pub use plans::{Cta, NewCta, NewPlan, NewTask, Plan, PlanObjective, PlanStatus, Task, TaskOf};
pub use plugins::{
    Capability, ExtensionPoint, Limits, Manifest, Plugin, PluginContext, PluginError,
    PluginErrorKind, PluginInstance, PluginRuntime, RuntimeConfig,
};
pub use plugins::{
    EnableOptions, Enablement, FailurePolicy, InstallOutcome, Installed, InstalledPlugin,
    RecordedFailure, RunStats,
};
pub use sharing::{
    LinkState, Notifications, Opened, OtpError, RecipientLink, ShareReceipt, ShareRequest,
    ShareRow, ShareTo, SharedPlan, SharingSettings,
};
pub use store::TenantId;
pub use users::{Licence, User};
