-- Partner onboarding: the one-partner rule as triggers, per-tenant import settings, and import
-- jobs with their row errors.

-- A company or relationship is managed by at most one partner. `managed_by` is one column, so
-- a record cannot hold two; these triggers also refuse to swap the partner for another one
-- (clear it first), and refuse a manager that is a customer company (a manager in no company
-- of the tenant is the composite foreign key's to refuse). The messages start
-- with `one-partner rule:` so the host can recognise them and name the partner in its error.
CREATE TRIGGER companies_one_partner BEFORE UPDATE OF managed_by ON companies
WHEN OLD.managed_by IS NOT NULL AND NEW.managed_by IS NOT NULL
     AND NEW.managed_by <> OLD.managed_by
BEGIN
    SELECT RAISE(ABORT, 'one-partner rule: company is managed by another partner already');
END;

CREATE TRIGGER companies_manager_is_partner_insert BEFORE INSERT ON companies
WHEN NEW.managed_by IS NOT NULL AND EXISTS (
    SELECT 1 FROM companies p
    WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.managed_by AND p.managed_as <> 'partner')
BEGIN
    SELECT RAISE(ABORT, 'one-partner rule: managed_by must name a partner company');
END;

CREATE TRIGGER companies_manager_is_partner_update BEFORE UPDATE OF managed_by ON companies
WHEN NEW.managed_by IS NOT NULL AND EXISTS (
    SELECT 1 FROM companies p
    WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.managed_by AND p.managed_as <> 'partner')
BEGIN
    SELECT RAISE(ABORT, 'one-partner rule: managed_by must name a partner company');
END;

CREATE TRIGGER relationships_one_partner BEFORE UPDATE OF managed_by ON relationships
WHEN OLD.managed_by IS NOT NULL AND NEW.managed_by IS NOT NULL
     AND NEW.managed_by <> OLD.managed_by
BEGIN
    SELECT RAISE(ABORT, 'one-partner rule: relationship is managed by another partner already');
END;

-- Per-tenant settings an admin can change.
CREATE TABLE tenant_settings (
    tenant_id          TEXT PRIMARY KEY REFERENCES tenants (id),
    -- The largest CSV file an import accepts, in bytes (the seed's default is 2 MB).
    import_size_limit  INTEGER NOT NULL DEFAULT 2097152 CHECK (import_size_limit > 0)
) STRICT;

-- One CSV import: what was read, how, and what came of it. Counts are updated in the same
-- transaction as the rows they count, so they are always true of the committed data.
CREATE TABLE import_jobs (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    -- 'companies' or 'partners'.
    target        TEXT NOT NULL CHECK (target IN ('companies', 'partners')),
    source        TEXT NOT NULL,
    -- CSV properties, mapping and scope, as JSON.
    properties    TEXT NOT NULL CHECK (json_valid(properties)),
    mapping       TEXT NOT NULL CHECK (json_valid(mapping)),
    scope         TEXT CHECK (scope IN ('company', 'relationship', 'both')),
    dry_run       INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    -- 'running'; then 'completed' or 'failed' (a fatal error, in `error`); 'interrupted' when
    -- the process died and a later import found it still marked running.
    status        TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    -- Data rows committed so far (created + updated + skipped + failed).
    rows_done     INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX import_jobs_tenant ON import_jobs (tenant_id, id);

-- A row of an import that did not go in (failed) or was left out (skipped), and why.
CREATE TABLE import_row_errors (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    job_id      INTEGER NOT NULL,
    -- The row's line-based record number in the file, 1 for the first data row.
    row_number  INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('failed', 'skipped')),
    -- The source column at fault, if known.
    column_name TEXT,
    -- The target field at fault, if known.
    field       TEXT,
    -- The plugin that decided, if one did.
    plugin      TEXT,
    reason      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, job_id, row_number),
    FOREIGN KEY (tenant_id, job_id) REFERENCES import_jobs (tenant_id, id)
) STRICT, WITHOUT ROWID;
