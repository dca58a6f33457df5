-- A hook a committed change still owes: recorded in the change's own transaction and removed in
-- the transaction that applies the hook's effects, so a crash between the two leaves it to be
-- run again, and a second run finds nothing to do.
CREATE TABLE pending_hooks (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    -- The hook: 'partner_created'.
    hook        TEXT NOT NULL CHECK (hook IN ('partner_created')),
    -- What it is about: the partner's company id.
    subject     INTEGER NOT NULL,
    -- How to undo the change if a fail-closed plugin refuses it: 'delete' a created partner,
    -- 'untag' a customer tagged as a partner.
    undo        TEXT NOT NULL CHECK (undo IN ('delete', 'untag')),
    created_at  INTEGER NOT NULL,
    -- Runs that failed for a reason other than a plugin's refusal, and the last such reason.
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    PRIMARY KEY (tenant_id, hook, subject)
) STRICT, WITHOUT ROWID;
