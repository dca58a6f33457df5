-- The outbox's queue, as fair delivery reads it: one-time codes first (any tenant, oldest
-- first), then each tenant's oldest message in turn; and the messages being delivered now,
-- which count against their tenant's hourly limit until they are sent or given back.
CREATE INDEX outbox_pending_codes ON outbox (id) WHERE status = 'pending' AND kind = 'otp';
CREATE INDEX outbox_pending_tenant ON outbox (tenant_id, id)
    WHERE status = 'pending' AND kind <> 'otp';
CREATE INDEX outbox_claimed ON outbox (tenant_id, claimed_at)
    WHERE status = 'pending' AND claimed_at IS NOT NULL;
