//! The companies of one tenant as its plugins' look-ups see them.

use std::sync::Arc;

use crate::access::Principal;
use crate::clock::Clock;
use crate::context::Op;
use crate::error::Result;
use crate::model::Company;
use crate::plugins::CompanyDirectory;
use crate::store::{Store, TenantId, unix_seconds};

use super::{CompanyKey, find};

/// The companies of one tenant, read from the store: what look-ups of that tenant's plugins
/// see, as the principal whose operation runs them sees them. Ids and names of other tenants'
/// companies find nothing, and neither do those outside a partner user's scope.
pub(crate) struct Directory {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    tenant: TenantId,
    principal: Arc<Principal>,
}

impl Directory {
    pub(crate) fn new(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        tenant: TenantId,
        principal: Arc<Principal>,
    ) -> Directory {
        Directory {
            store,
            clock,
            tenant,
            principal,
        }
    }

    fn find(&self, key: CompanyKey<'_>) -> Result<Option<Company>> {
        let now = unix_seconds(self.clock.now());
        self.store.with(|conn| {
            find(
                &Op {
                    conn,
                    tenant: &self.tenant,
                    now,
                    actor: self.principal.name(),
                    principal: &self.principal,
                },
                key,
            )
        })
    }
}

impl CompanyDirectory for Directory {
    fn company_by_id(&self, id: &str) -> Result<Option<Company>> {
        // Company ids are database ids; anything else names no company.
        let Ok(id) = id.trim().parse::<i64>() else {
            return Ok(None);
        };
        self.find(CompanyKey::Id(id))
    }

    fn company_by_name(&self, name: &str) -> Result<Option<Company>> {
        self.find(CompanyKey::Name(name))
    }
}
