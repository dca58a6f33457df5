//! The companies of one tenant as its plugins' look-ups see them.

use std::sync::Arc;

use crate::clock::Clock;
use crate::context::Op;
use crate::model::Company;
use crate::plugins::CompanyDirectory;
use crate::store::{Store, TenantId, unix_seconds};

use super::{CompanyKey, find};

/// The companies of one tenant, read from the store: what look-ups of that tenant's plugins
/// see. Ids and names of other tenants' companies find nothing.
pub(crate) struct Directory {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    tenant: TenantId,
}

impl Directory {
    pub(crate) fn new(store: Arc<Store>, clock: Arc<dyn Clock>, tenant: TenantId) -> Directory {
        Directory {
            store,
            clock,
            tenant,
        }
    }

    fn find(&self, key: CompanyKey<'_>) -> std::result::Result<Option<Company>, String> {
        let now = unix_seconds(self.clock.now());
        self.store
            .with(|conn| {
                find(
                    &Op {
                        conn,
                        tenant: &self.tenant,
                        now,
                        actor: "system",
                    },
                    key,
                )
            })
            .map_err(|e| e.to_string())
    }
}

impl CompanyDirectory for Directory {
    fn company_by_id(&self, id: &str) -> std::result::Result<Option<Company>, String> {
        // Company ids are database ids; anything else names no company.
        let Ok(id) = id.trim().parse::<i64>() else {
            return Ok(None);
        };
        self.find(CompanyKey::Id(id))
    }

    fn company_by_name(&self, name: &str) -> std::result::Result<Option<Company>, String> {
        self.find(CompanyKey::Name(name))
    }
}
