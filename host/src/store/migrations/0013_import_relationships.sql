-- An import job may import relationships (`cshost relationship import`). SQLite cannot change a
-- CHECK constraint in place, so import_jobs is rebuilt with the new target allowed, and
-- import_row_errors with it, as 0010_import_cancelled did: the old tables are renamed aside,
-- the new ones created and filled, the old ones dropped, child first.
ALTER TABLE import_row_errors RENAME TO import_row_errors_old;
ALTER TABLE import_jobs RENAME TO import_jobs_old;
DROP INDEX import_jobs_tenant;

CREATE TABLE import_jobs (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    -- 'companies', 'partners' or 'relationships'.
    target        TEXT NOT NULL CHECK (target IN ('companies', 'partners', 'relationships')),
    source        TEXT NOT NULL,
    -- CSV properties, mapping and scope, as JSON.
    properties    TEXT NOT NULL CHECK (json_valid(properties)),
    mapping       TEXT NOT NULL CHECK (json_valid(mapping)),
    scope         TEXT CHECK (scope IN ('company', 'relationship', 'both')),
    dry_run       INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    -- 'running'; then 'completed', 'failed' (a fatal error, in `error`) or 'cancelled';
    -- 'interrupted' when the process died and a later import found it still marked running.
    status        TEXT NOT NULL
        CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'cancelled')),
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
INSERT INTO import_jobs
    (id, tenant_id, target, source, properties, mapping, scope, dry_run, status, rows_done,
     created, updated, skipped, failed, error, started_at, finished_at)
SELECT id, tenant_id, target, source, properties, mapping, scope, dry_run, status, rows_done,
       created, updated, skipped, failed, error, started_at, finished_at
FROM import_jobs_old;

CREATE TABLE import_row_errors (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    job_id      INTEGER NOT NULL,
    -- The data row's number, 1 for the first row after the header.
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
INSERT INTO import_row_errors
    (tenant_id, job_id, row_number, outcome, column_name, field, plugin, reason)
SELECT tenant_id, job_id, row_number, outcome, column_name, field, plugin, reason
FROM import_row_errors_old;

DROP TABLE import_row_errors_old;
DROP TABLE import_jobs_old;
CREATE INDEX import_jobs_tenant ON import_jobs (tenant_id, id);
