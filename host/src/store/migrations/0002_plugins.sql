-- Plugin administration: the platform's registry of installed components, each tenant's
-- enablements, and the bounded run log.

-- The bytes of installed components, by SHA-256 (hex): the host loads plugins from here.
CREATE TABLE plugin_blobs (
    hash   TEXT PRIMARY KEY,
    bytes  BLOB NOT NULL
) STRICT;

-- Installed plugins (platform level): one row per version.
CREATE TABLE plugins (
    hash          TEXT PRIMARY KEY REFERENCES plugin_blobs (hash),
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    -- The whole manifest (extension points, capabilities, config keys, ...) as JSON.
    manifest      TEXT NOT NULL CHECK (json_valid(manifest)),
    installed_at  INTEGER NOT NULL,
    installed_by  TEXT NOT NULL,
    UNIQUE (name, version)
) STRICT;

-- A tenant's enablement of a plugin: at most one version per plugin name and tenant.
CREATE TABLE plugin_enablements (
    tenant_id             TEXT NOT NULL REFERENCES tenants (id),
    plugin                TEXT NOT NULL,
    -- The version the tenant runs; it moves only when the admin says so, or on install of a
    -- newer version when `follow_latest` is set.
    hash                  TEXT NOT NULL REFERENCES plugins (hash),
    enabled               INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    follow_latest         INTEGER NOT NULL DEFAULT 0 CHECK (follow_latest IN (0, 1)),
    config                TEXT NOT NULL CHECK (json_valid(config)),
    priority              INTEGER NOT NULL DEFAULT 0,
    limits                TEXT NOT NULL CHECK (json_valid(limits)),
    failure_policy        TEXT NOT NULL CHECK (failure_policy IN ('fail-open', 'fail-closed')),
    grants                TEXT NOT NULL CHECK (json_valid(grants)),
    breaker_threshold     INTEGER NOT NULL CHECK (breaker_threshold >= 1),
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    -- Why the host turned it off (the circuit breaker), if it did.
    disabled_reason       TEXT,
    -- Who is told when the host turns it off.
    admin                 TEXT,
    updated_at            INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, plugin)
) STRICT;
CREATE INDEX plugin_enablements_hash ON plugin_enablements (hash);

-- Run log aggregates per tenant, plugin and hook. Durations are kept as a histogram of
-- quarter-octave buckets (JSON), so the percentiles cost a bounded amount of space.
CREATE TABLE plugin_run_stats (
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    plugin            TEXT NOT NULL,
    hook              TEXT NOT NULL,
    calls             INTEGER NOT NULL DEFAULT 0,
    failures          INTEGER NOT NULL DEFAULT 0,
    failures_by_kind  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(failures_by_kind)),
    denied            INTEGER NOT NULL DEFAULT 0,
    fuel              INTEGER NOT NULL DEFAULT 0,
    durations         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(durations)),
    last_error        TEXT,
    last_error_at     INTEGER,
    PRIMARY KEY (tenant_id, plugin, hook)
) STRICT;

-- The last failures of each tenant's plugin, with their input in the JSON shape
-- `cshost plugin run --input` takes, so an admin can replay them.
CREATE TABLE plugin_failures (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    plugin      TEXT NOT NULL,
    version     TEXT NOT NULL,
    hash        TEXT NOT NULL,
    hook        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    input       TEXT NOT NULL CHECK (json_valid(input)),
    config      TEXT NOT NULL CHECK (json_valid(config)),
    grants      TEXT NOT NULL CHECK (json_valid(grants))
) STRICT;
CREATE INDEX plugin_failures_tenant ON plugin_failures (tenant_id, plugin, id);
