//! The tenant façade: a [`Tenant`] handle names one tenant and who acts; its accessors return
//! one small handle per domain, defined in the domain's module, through which every
//! tenant-scoped operation goes.

use std::fmt;
use std::sync::Arc;

use crate::access::{self, Access, Permission, Principal};
use crate::audit::AuditLog;
use crate::companies::Companies;
use crate::context::Op;
use crate::criteria::Selections;
use crate::error::Result;
use crate::hooks::Hooks;
use crate::host::{Host, TenantInfo};
use crate::import::Imports;
use crate::outbox::Outbox;
use crate::partners::Partners;
use crate::persons::Persons;
use crate::plans::{Ctas, Plans, Playbooks};
use crate::plugins::Plugins;
use crate::relationships::{RelationshipTypes, Relationships};
use crate::sharing::{Links, Shares};
use crate::store::{Store, TenantId};
use crate::users::Users;

/// A handle on one tenant: every tenant-scoped operation starts from it (through the handle of
/// its domain, such as [`Tenant::companies`]), so none can forget which tenant it works for. Cheap to make; get one from [`Host::tenant`], which acts as the
/// platform operator, and act as one of the tenant's users with [`Tenant::as_user`].
#[derive(Clone)]
pub struct Tenant<'h> {
    pub(crate) host: &'h Host,
    pub(crate) id: TenantId,
    info: TenantInfo,
    /// The acting principal's name, as the audit log records it.
    pub(crate) actor: String,
    acting: Acting,
}

/// Who a tenant handle acts as.
#[derive(Clone)]
enum Acting {
    /// A principal resolved when the handle was made.
    Checked(Arc<Principal>),
    /// A user named by [`Tenant::acting_as`], resolved by each operation: an operation fails
    /// if the tenant has no such user.
    Named(String),
}

impl fmt::Debug for Tenant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("id", &self.id)
            .field("actor", &self.actor)
            .finish()
    }
}

impl<'h> Tenant<'h> {
    /// A handle on tenant `info` of `host`, acting as the platform operator.
    pub(crate) fn new(host: &'h Host, info: TenantInfo) -> Tenant<'h> {
        let operator = Principal::operator();
        Tenant {
            host,
            id: TenantId::new(info.id.clone()),
            info,
            actor: operator.name().to_owned(),
            acting: Acting::Checked(operator),
        }
    }

    /// The tenant's id.
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// The tenant's record.
    pub fn info(&self) -> &TenantInfo {
        &self.info
    }

    /// The same tenant, acting as its user `email`, with that user's rights (its licence, its
    /// bundles and, for a partner user, only what its partner manages). Fails with
    /// [`ErrorKind::UnknownActor`](crate::ErrorKind::UnknownActor) if the tenant has no such user.
    pub fn as_user(mut self, email: &str) -> Result<Tenant<'h>> {
        let now = self.host.now();
        let principal = self
            .store()
            .with(|conn| access::resolve_in(conn, &self.id, now, email))?;
        self.actor = principal.name().to_owned();
        self.acting = Acting::Checked(principal);
        Ok(self)
    }

    /// The same tenant, acting as its user `actor` (an email), like [`Tenant::as_user`] but
    /// checked by each operation instead: every operation of the handle fails with
    /// [`ErrorKind::UnknownActor`](crate::ErrorKind::UnknownActor) if the tenant has no such user.
    pub fn acting_as(mut self, actor: impl Into<String>) -> Tenant<'h> {
        let actor = actor.into();
        self.actor = actor.trim().to_owned();
        self.acting = Acting::Named(actor);
        self
    }

    /// The same tenant, acting as the system (hooks, resumers, the outbox).
    pub(crate) fn as_system(&self) -> Tenant<'h> {
        let mut this = self.clone();
        this.actor = Principal::system().name().to_owned();
        this.acting = Acting::Checked(Arc::new(Principal::system().clone()));
        this
    }

    /// The same handle with its acting principal resolved now, for an operation of several
    /// steps (a share's two transactions and its notifiers' look-ups): each step then acts as the
    /// principal the operation started as, resolved once instead of by every step. Fails with
    /// [`ErrorKind::UnknownActor`](crate::ErrorKind::UnknownActor) as the first step would.
    pub(crate) fn resolved(&self) -> Result<Tenant<'h>> {
        let Acting::Named(email) = &self.acting else {
            return Ok(self.clone());
        };
        let now = self.host.now();
        let principal = self
            .store()
            .with(|conn| access::resolve_in(conn, &self.id, now, email))?;
        let mut this = self.clone();
        this.acting = Acting::Checked(principal);
        Ok(this)
    }

    /// The acting principal, for what outlives one operation (a plugin's company look-ups); a
    /// principal that cannot be resolved (an unknown user) sees nothing.
    pub(crate) fn principal_or_nobody(&self) -> Arc<Principal> {
        let now = self.host.now();
        self.store()
            .with(|conn| self.principal_on(conn, now))
            .unwrap_or_else(|_| Arc::new(Principal::nobody()))
    }

    /// Fails with [`ErrorKind::PermissionDenied`] unless the acting principal may do
    /// `permission` (for operations that check before their transaction starts).
    pub(crate) fn require(&self, permission: Permission) -> Result<()> {
        self.read(|op| op.require(permission))
    }

    /// Who this handle acts as. Fails with [`ErrorKind::UnknownActor`](crate::ErrorKind::UnknownActor) for a handle made by
    /// [`Tenant::acting_as`] with someone who is not a user of the tenant.
    pub fn principal(&self) -> Result<Principal> {
        self.read(|op| Ok(op.principal.clone()))
    }

    // The domains: each accessor returns the handle of one domain, defined in its module.

    /// The tenant's companies and their field schema.
    pub fn companies(&self) -> Companies<'_> {
        Companies { tenant: self }
    }

    /// The tenant's partners: the companies it works with that manage customers of their own.
    pub fn partners(&self) -> Partners<'_> {
        Partners { tenant: self }
    }

    /// The tenant's relationships: its agreements with its companies.
    pub fn relationships(&self) -> Relationships<'_> {
        Relationships { tenant: self }
    }

    /// The tenant's relationship types and their fields.
    pub fn relationship_types(&self) -> RelationshipTypes<'_> {
        RelationshipTypes { tenant: self }
    }

    /// Criteria run over the tenant's companies.
    pub fn criteria(&self) -> Selections<'_> {
        Selections { tenant: self }
    }

    /// The tenant's CSV imports of companies, partners and relationships, and their jobs.
    pub fn imports(&self) -> Imports<'_> {
        Imports { tenant: self }
    }

    /// The tenant's success plans.
    pub fn plans(&self) -> Plans<'_> {
        Plans { tenant: self }
    }

    /// The tenant's CTAs (calls to action).
    pub fn ctas(&self) -> Ctas<'_> {
        Ctas { tenant: self }
    }

    /// The tenant's playbooks.
    pub fn playbooks(&self) -> Playbooks<'_> {
        Playbooks { tenant: self }
    }

    /// The tenant's shares of success plans, and its sharing settings.
    pub fn shares(&self) -> Shares<'_> {
        Shares { tenant: self }
    }

    /// Shared plans' links, as their recipients use them.
    pub fn links(&self) -> Links<'_> {
        Links { tenant: self }
    }

    /// The tenant's outbox: the notifications queued for delivery.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { tenant: self }
    }

    /// The tenant's users.
    pub fn users(&self) -> Users<'_> {
        Users { tenant: self }
    }

    /// The tenant's people: the external contacts of its customers.
    pub fn persons(&self) -> Persons<'_> {
        Persons { tenant: self }
    }

    /// The tenant's access control: bundles, admins, partner permissions, settings and API tokens.
    pub fn access(&self) -> Access<'_> {
        Access { tenant: self }
    }

    /// The tenant's audit log.
    pub fn audit(&self) -> AuditLog<'_> {
        AuditLog { tenant: self }
    }

    /// The tenant's plugins: enabling and configuring them, and their run log.
    pub fn plugins(&self) -> Plugins<'_> {
        Plugins { tenant: self }
    }

    /// The tenant's hooks: running its plugins on one hook, and the hooks still owed.
    pub fn hooks(&self) -> Hooks<'_> {
        Hooks { tenant: self }
    }

    pub(crate) fn store(&self) -> &'h Store {
        self.host.store()
    }

    /// The acting principal, resolved on `conn` if the handle names a user to check.
    fn principal_on(&self, conn: &rusqlite::Connection, now: i64) -> Result<Arc<Principal>> {
        match &self.acting {
            Acting::Checked(principal) => Ok(principal.clone()),
            Acting::Named(email) => access::resolve_in(conn, &self.id, now, email),
        }
    }

    /// Runs a reading operation of this tenant on a connection of the pool, as the acting
    /// principal.
    pub(crate) fn read<T>(&self, work: impl FnOnce(&Op<'_>) -> Result<T>) -> Result<T> {
        let now = self.host.now();
        self.store().with(|conn| {
            let principal = self.principal_on(conn, now)?;
            work(&Op {
                conn,
                tenant: &self.id,
                now,
                actor: principal.name(),
                principal: &principal,
            })
        })
    }

    /// Runs a writing operation of this tenant in one immediate transaction, as the acting
    /// principal: it commits whole when `work` succeeds and not at all when it fails.
    pub(crate) fn write<T>(&self, work: impl FnOnce(&Op<'_>) -> Result<T>) -> Result<T> {
        let now = self.host.now();
        self.store().write(|tx| {
            let principal = self.principal_on(tx, now)?;
            work(&Op {
                conn: tx,
                tenant: &self.id,
                now,
                actor: principal.name(),
                principal: &principal,
            })
        })
    }
}
