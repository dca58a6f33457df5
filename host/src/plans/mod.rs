//! Success plans, their objectives and tasks, and CTAs (calls to action).
//!
//! A plan belongs to a company (optionally to one of its relationships) and moves from Draft to
//! Active to Complete. Its objectives are each internal-only or shared with external contacts.
//! A CTA's due date may not be earlier than any of its tasks' due dates; a plan whose CTAs break
//! that rule cannot become active, and stays a draft (the SUCCESS_PLAN_OBJECTIVES_UPDATED_FAILED
//! case of the CS handbook).

mod cockpit;
mod cta_due;
mod ctas;
pub(crate) mod dates;
mod objectives;
mod playbooks;
mod relationship;
pub(crate) mod scope;
mod state;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::access::Permission;
use crate::audit::{self, Change};
use crate::companies;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{CtaRequest, CtaType, Date, Priority};
use crate::names::named_enum;
use crate::relationships;
use crate::tenant::Tenant;
use scope::Of;

pub use cockpit::{CtaFilter, CtaStatus};
pub(crate) use ctas::open_cta;
pub use ctas::{Cta, NewCta};
use ctas::{cta_due_and_plan_status, cta_type_str, load_ctas};
pub(crate) use objectives::{add_comment, task_place, update_task_for_recipient};
use objectives::{load_comments, load_tasks};
pub use playbooks::{Playbook, PlaybookTask};
pub(crate) use relationship::{count_on_relationship, ids_of_relationship};

/// Where a plan is in its life. The state machine:
///
/// | from     | to       | how                                   | rule                           |
/// |----------|----------|---------------------------------------|--------------------------------|
/// | (new)    | Draft    | [`Plans::create`]               |                                |
/// | Draft    | Active   | [`Plans::set_status`]           | no CTA due before its tasks    |
/// | Active   | Complete | [`Plans::set_status`]           |                                |
/// | Complete | Active   | [`Plans::reopen`], with a reason| no CTA due before its tasks    |
///
/// Every other move (Draft → Complete, Active → Draft, Complete → Draft, a status to itself) is
/// refused with [`ErrorKind::PlanTransitionRefused`], naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Being written; the default.
    #[default]
    Draft,
    /// Being worked on. A plan only becomes active if no CTA of it is due before its tasks.
    Active,
    /// Done.
    Complete,
}

named_enum!(PlanStatus, "plan status", {
    Draft => "draft",
    Active => "active",
    Complete => "complete",
});

/// A CTA of a plan due before one of its tasks, as a refused activation names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct LateCta {
    /// The CTA.
    pub cta: i64,
    /// The CTA's name.
    pub cta_name: String,
    /// The CTA's due date.
    pub cta_due: String,
    /// Its latest task, due after it.
    pub task: i64,
    /// The task's name.
    pub task_name: String,
    /// The task's due date.
    pub task_due: String,
}

/// A new success plan, for [`Plans::create`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct NewPlan {
    /// The customer company the plan is for.
    pub company_id: i64,
    /// The relationship of that company the plan is for, if any.
    #[serde(default)]
    pub relationship_id: Option<i64>,
    /// The plan's name (required).
    pub name: String,
    /// A free-form type, such as `Onboarding`.
    #[serde(default)]
    pub plan_type: String,
    /// When the plan is due.
    #[serde(default)]
    pub due_date: Option<Date>,
    /// Whether the plan may be shared with external contacts. By default, it may not (plans are
    /// for internal sharing only until this is turned on).
    #[serde(default)]
    pub share_with_contacts: bool,
}

/// A success plan with its objectives, their tasks, and the plan's CTAs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Plan {
    /// The plan's id.
    pub id: i64,
    /// The customer company.
    pub company_id: i64,
    /// The relationship, if the plan is for one.
    pub relationship_id: Option<i64>,
    /// The plan's name.
    pub name: String,
    /// Its free-form type.
    pub plan_type: String,
    /// Draft, active or complete.
    pub status: PlanStatus,
    /// When it is due.
    pub due_date: Option<Date>,
    /// Whether it may be shared with external contacts.
    pub share_with_contacts: bool,
    /// Its objectives, in the order they were added.
    pub objectives: Vec<PlanObjective>,
    /// Its CTAs, in the order they were opened.
    pub ctas: Vec<Cta>,
}

/// An objective of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct PlanObjective {
    /// The objective's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its status, such as `open`.
    pub status: String,
    /// When it is due.
    pub due_date: Option<Date>,
    /// True if external contacts may see it; false if it is internal only.
    pub shared_externally: bool,
    /// Its tasks.
    pub tasks: Vec<Task>,
    /// Comments on it, oldest first: the sharer's side's and recipients' (through a link).
    #[serde(default)]
    pub comments: Vec<ObjectiveComment>,
}

/// A comment on an objective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ObjectiveComment {
    /// The comment's id.
    pub id: i64,
    /// Who wrote it: a user's email, or a recipient's email.
    pub author: String,
    /// True when an external contact wrote it through a shared link.
    pub external: bool,
    /// What they wrote (untrusted text: escape it before showing it).
    pub body: String,
    /// When (Unix seconds).
    pub at: i64,
}

/// A change a recipient with update permission makes to a task through a shared link, for
/// [`Links::update_task`](crate::Links::update_task): its status, its due date, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct TaskUpdate {
    /// `Some(true)` marks the task done, `Some(false)` open again.
    #[serde(default)]
    pub done: Option<bool>,
    /// The task's new due date.
    #[serde(default)]
    pub due_date: Option<Date>,
}

/// A task of an objective or of a CTA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Task {
    /// The task's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Who owns it (an email or a name).
    pub owner: Option<String>,
    /// When it is due.
    pub due_date: Option<Date>,
    /// `open` or `done`.
    pub status: String,
}

/// A new task, for [`Plans::add_task`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct NewTask {
    /// The task's name (required).
    pub name: String,
    /// Who owns it.
    #[serde(default)]
    pub owner: Option<String>,
    /// When it is due.
    #[serde(default)]
    pub due_date: Option<Date>,
}

/// What a task belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskOf {
    /// An objective of a plan.
    Objective(i64),
    /// A CTA.
    Cta(i64),
}

/// The tenant's success plans, from [`Tenant::plans`]: creating them, their state, objectives,
/// tasks and comments.
#[derive(Debug, Clone, Copy)]
pub struct Plans<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

/// The tenant's CTAs (calls to action), from [`Tenant::ctas`]: opening them, the cockpit's lists,
/// closing, reopening, owners and due dates.
#[derive(Debug, Clone, Copy)]
pub struct Ctas<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

/// The tenant's playbooks, from [`Tenant::playbooks`]: named task lists applied to CTAs.
#[derive(Debug, Clone, Copy)]
pub struct Playbooks<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Plans<'_> {
    /// A plan with its objectives, tasks and CTAs.
    pub fn get(&self, plan_id: i64) -> Result<Plan> {
        self.tenant.read(|op| load_plan(op, plan_id))
    }

    /// The plans of a company, oldest first, with their objectives, tasks and CTAs.
    pub fn list(&self, company_id: i64) -> Result<Vec<Plan>> {
        self.tenant.read(|op| {
            ids_of_company(op, company_id)?
                .into_iter()
                .map(|id| load_plan(op, id))
                .collect()
        })
    }
}

/// Records a change of a plan (or its parts) in the audit log, in the operation's transaction.
fn plan_audit(
    op: &Op<'_>,
    action: &str,
    subject: &str,
    before: Option<serde_json::Value>,
    after: &impl Serialize,
) -> Result<()> {
    op.audit(action, subject, before, serde_json::to_value(after).ok())
}

pub(crate) fn load_plan(op: &Op<'_>, plan_id: i64) -> Result<Plan> {
    scope::check(op, Of::Plan(plan_id))?;
    let Op { conn, tenant, .. } = *op;
    let mut plan = conn
        .prepare_cached(
            "SELECT id, company_id, relationship_id, name, type, status, due_date,
                    share_with_contacts
             FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
        )
        .and_then(|mut q| {
            q.query_row(params![tenant.as_str(), plan_id], |r| {
                Ok(Plan {
                    id: r.get(0)?,
                    company_id: r.get(1)?,
                    relationship_id: r.get(2)?,
                    name: r.get(3)?,
                    plan_type: r.get(4)?,
                    status: r.get::<_, String>(5)?.parse().unwrap_or(PlanStatus::Draft),
                    due_date: date_column(r, 6)?,
                    share_with_contacts: r.get(7)?,
                    objectives: Vec::new(),
                    ctas: Vec::new(),
                })
            })
            .optional()
        })?
        .ok_or_else(|| not_found("success plan", plan_id))?;
    plan.objectives = conn
        .prepare_cached(
            "SELECT id, name, status, due_date, shared_externally FROM objectives
             WHERE tenant_id = ?1 AND plan_id = ?2 ORDER BY id",
        )
        .and_then(|mut q| {
            q.query_map(params![tenant.as_str(), plan_id], |r| {
                Ok(PlanObjective {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    status: r.get(2)?,
                    due_date: date_column(r, 3)?,
                    shared_externally: r.get(4)?,
                    tasks: Vec::new(),
                    comments: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
    for objective in &mut plan.objectives {
        objective.tasks = load_tasks(op, "objective_id", objective.id)?;
        objective.comments = load_comments(op, objective.id)?;
    }
    plan.ctas = load_ctas(op, "plan_id", plan_id)?;
    Ok(plan)
}

/// A `YYYY-MM-DD` column as a date. A date that is not one (a year outside 1 to 9999, written
/// before dates were checked) reads as no date, with a warning: one bad row must not make a
/// whole plan or CTA list unreadable, and setting the date again repairs it.
fn date_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<Date>> {
    let text: Option<String> = row.get(index)?;
    Ok(text.and_then(|t| match t.parse::<Date>() {
        Ok(date) => Some(date),
        Err(error) => {
            tracing::warn!(stored = %t.escape_debug(), %error, "a stored date is not a date; read as none");
            None
        }
    }))
}

/// A snake_case enum column (CTA type, priority) read through its serde name.
fn json_enum<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_value(serde_json::Value::String(text)).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

/// The name of plan `id`; `None` when the tenant has no such plan.
pub(crate) fn name(op: &Op<'_>, id: i64) -> Result<Option<String>> {
    let name = op
        .conn
        .prepare_cached("SELECT name FROM success_plans WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![op.tenant.as_str(), id], |row| row.get(0))
        .optional()?;
    Ok(name)
}

/// The ids of the plans of company `company` the acting principal reaches, oldest first.
pub(crate) fn ids_of_company(op: &Op<'_>, company: i64) -> Result<Vec<i64>> {
    let scope = scope::condition(op, "company_id", "relationship_id");
    let ids = op
        .conn
        .prepare_cached(&format!(
            "SELECT id FROM success_plans WHERE tenant_id = ?1 AND company_id = ?2{scope}
             ORDER BY id"
        ))?
        .query_map(params![op.tenant.as_str(), company], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// A kind of record this module owns, for [`require`].
#[derive(Clone, Copy)]
pub(crate) enum Record {
    /// A success plan.
    Plan,
    /// An objective of a plan.
    Objective,
}

/// Fails with [`ErrorKind::NotFound`] unless the tenant has the record `id` and the acting
/// principal may reach it.
pub(crate) fn require(op: &Op<'_>, record: Record, id: i64) -> Result<()> {
    scope::check(
        op,
        match record {
            Record::Plan => Of::Plan(id),
            Record::Objective => Of::Objective(id),
        },
    )?;
    let (sql, object) = match record {
        Record::Plan => (
            "SELECT 1 FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
            "success plan",
        ),
        Record::Objective => (
            "SELECT 1 FROM objectives WHERE tenant_id = ?1 AND id = ?2",
            "objective",
        ),
    };
    if op
        .conn
        .prepare_cached(sql)?
        .exists(params![op.tenant.as_str(), id])?
    {
        Ok(())
    } else {
        Err(not_found(object, id))
    }
}

pub(crate) fn not_found(object: &'static str, id: impl ToString) -> Error {
    Error::new(ErrorKind::NotFound {
        object,
        id: id.to_string(),
    })
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::Invalid(message))
}

/// The trimmed text, or an error naming the field when it is empty.
fn required<'a>(field: &str, text: &'a str) -> Result<&'a str> {
    let text = text.trim();
    if text.is_empty() {
        Err(invalid(format!("the {field} is required")))
    } else {
        Ok(text)
    }
}
