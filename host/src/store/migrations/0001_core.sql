-- The core of the CS data model. Every tenant-owned table carries `tenant_id`, and every
-- reference between tenant-owned rows is a composite foreign key on (tenant_id, id), so a row
-- can never point at another tenant's row, whatever the application code does.
-- Timestamps are Unix seconds (UTC); dates are 'YYYY-MM-DD' text.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- Whether the tenant manages customers at the company level, the relationship level, or both.
    level       TEXT NOT NULL CHECK (level IN ('company', 'relationship', 'both')),
    created_at  INTEGER NOT NULL
) STRICT;

-- Per-tenant custom fields of an object ('company', 'relationship', ...). Standard fields are
-- columns of the object's table; custom ones live in its `custom` JSON object.
CREATE TABLE field_schema (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    object      TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('text', 'number', 'boolean', 'date')),
    required    INTEGER NOT NULL DEFAULT 0 CHECK (required IN (0, 1)),
    PRIMARY KEY (tenant_id, object, name)
) STRICT;

CREATE TABLE companies (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    -- The record's id in the system it came from (an import key), if any.
    external_id   TEXT,
    name          TEXT NOT NULL CHECK (length(trim(name)) > 0),
    managed_as    TEXT NOT NULL DEFAULT 'customer' CHECK (managed_as IN ('customer', 'partner')),
    -- The partner company that manages this one: at most one, by construction.
    managed_by    INTEGER,
    -- Only for partners: which records their users may see.
    access_scope  TEXT CHECK (access_scope IN ('company', 'relationship', 'both')),
    industry      TEXT,
    region        TEXT,
    country       TEXT,
    website       TEXT,
    email         TEXT,
    arr           REAL,
    custom        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(custom)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, managed_by) REFERENCES companies (tenant_id, id),
    CHECK (managed_as = 'partner' OR access_scope IS NULL),
    CHECK (managed_by IS NULL OR managed_by <> id)
) STRICT;
CREATE UNIQUE INDEX companies_external_id ON companies (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX companies_name ON companies (tenant_id, name COLLATE NOCASE);
CREATE INDEX companies_managed_by ON companies (tenant_id, managed_by) WHERE managed_by IS NOT NULL;

-- A relationship type is the template for its relationships' data, layout and scorecard.
CREATE TABLE relationship_types (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE relationships (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    company_id  INTEGER NOT NULL,
    type_id     INTEGER NOT NULL,
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    managed_by  INTEGER,
    custom      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(custom)),
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, type_id) REFERENCES relationship_types (tenant_id, id),
    FOREIGN KEY (tenant_id, managed_by) REFERENCES companies (tenant_id, id)
) STRICT;
CREATE INDEX relationships_company ON relationships (tenant_id, company_id);

-- Users of the platform in a tenant. Partner users belong to a partner company.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    email       TEXT NOT NULL COLLATE NOCASE,
    name        TEXT NOT NULL,
    licence     TEXT NOT NULL CHECK (licence IN
                    ('full', 'viewer', 'viewer_analytics', 'internal_collaborator')),
    is_partner  INTEGER NOT NULL DEFAULT 0 CHECK (is_partner IN (0, 1)),
    partner_id  INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, email),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES companies (tenant_id, id),
    -- A partner user always belongs to a partner and always holds a Full licence.
    CHECK ((is_partner = 0 AND partner_id IS NULL) OR (is_partner = 1 AND partner_id IS NOT NULL)),
    CHECK (is_partner = 0 OR licence = 'full')
) STRICT;

-- External contacts (people at a customer).
CREATE TABLE persons (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    company_id  INTEGER,
    email       TEXT NOT NULL COLLATE NOCASE,
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, email),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id)
) STRICT;

-- Who did what, when, with the state before and after (JSON).
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT REFERENCES tenants (id),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    before      TEXT CHECK (before IS NULL OR json_valid(before)),
    after       TEXT CHECK (after IS NULL OR json_valid(after))
) STRICT;
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, at);

-- Messages waiting to be delivered, durably. The idempotency key makes a retry never send twice.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    idempotency_key  TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'in_app')),
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    -- Why the message exists: 'share', 'otp', 'plugin-disabled', ...
    kind             TEXT NOT NULL,
    -- 'pending' (to send), 'held' (kept back, with `error`), 'sent'.
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'held', 'sent')),
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    UNIQUE (tenant_id, idempotency_key)
) STRICT;
CREATE INDEX outbox_pending ON outbox (status, id) WHERE status = 'pending';

-- Success plans of a company (optionally of one of its relationships).
CREATE TABLE success_plans (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    company_id      INTEGER NOT NULL,
    relationship_id INTEGER,
    name            TEXT NOT NULL CHECK (length(trim(name)) > 0),
    type            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'complete')),
    due_date        TEXT,
    -- The plan-level switch that allows sharing with external contacts.
    share_with_contacts INTEGER NOT NULL DEFAULT 0 CHECK (share_with_contacts IN (0, 1)),
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, relationship_id) REFERENCES relationships (tenant_id, id)
) STRICT;

CREATE TABLE objectives (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    plan_id     INTEGER NOT NULL,
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    status      TEXT NOT NULL DEFAULT 'open',
    due_date    TEXT,
    -- 0: internal only; 1: shared with external recipients too.
    shared_externally INTEGER NOT NULL DEFAULT 0 CHECK (shared_externally IN (0, 1)),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES success_plans (tenant_id, id)
) STRICT;

-- Calls to action on a company; an objective CTA belongs to a plan.
CREATE TABLE ctas (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    company_id  INTEGER NOT NULL,
    plan_id     INTEGER,
    objective_id INTEGER,
    type        TEXT NOT NULL CHECK (type IN ('risk', 'expansion', 'lifecycle', 'activity', 'objective')),
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    priority    TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    due_date    TEXT,
    -- Who or what opened it: a user's email, or 'plugin:<name>'.
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES success_plans (tenant_id, id),
    FOREIGN KEY (tenant_id, objective_id) REFERENCES objectives (tenant_id, id)
) STRICT;
CREATE INDEX ctas_company ON ctas (tenant_id, company_id);

-- Tasks of a plan's objective or of a CTA.
CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    objective_id  INTEGER,
    cta_id        INTEGER,
    name          TEXT NOT NULL CHECK (length(trim(name)) > 0),
    owner         TEXT,
    due_date      TEXT,
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, objective_id) REFERENCES objectives (tenant_id, id),
    FOREIGN KEY (tenant_id, cta_id) REFERENCES ctas (tenant_id, id),
    CHECK ((objective_id IS NULL) <> (cta_id IS NULL))
) STRICT;
