-- The CTA cockpit: owners, closing with a reason, and playbooks.

-- Who owns the CTA (a user's email): the user who opened it; none for a plugin's CTA until
-- someone is assigned.
ALTER TABLE ctas ADD COLUMN owner TEXT;
-- Why it was closed, and when; both NULL while it is open.
ALTER TABLE ctas ADD COLUMN closed_reason TEXT;
ALTER TABLE ctas ADD COLUMN closed_at INTEGER;
CREATE INDEX ctas_owner ON ctas (tenant_id, owner, status);

-- Named task lists per CTA type. A type's default playbook is applied when a CTA of that type
-- opens (by a user or a plugin); others are applied on request.
CREATE TABLE playbooks (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL COLLATE NOCASE,
    cta_type    TEXT NOT NULL
                CHECK (cta_type IN ('risk', 'expansion', 'lifecycle', 'activity', 'objective')),
    -- JSON: [{"name": …, "due_in_days": …, "owner": …}, …]
    tasks       TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    UNIQUE (tenant_id, name)
) STRICT;
CREATE UNIQUE INDEX playbooks_default ON playbooks (tenant_id, cta_type) WHERE is_default = 1;
