-- Access: permission bundles, what each partner's users may do, partner seats, API tokens, and
-- the role of whoever made each audited change.

-- Named sets of permissions a tenant admin defines (the built-in bundles are not stored).
CREATE TABLE permission_bundles (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL,
    -- The permissions' names, as a JSON array.
    permissions  TEXT NOT NULL CHECK (json_valid(permissions)),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

-- The bundles assigned to each user, built-in (`admin`, ...) or named.
CREATE TABLE user_bundles (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    user_id    INTEGER NOT NULL,
    bundle     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, bundle),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) STRICT;

-- Data permissions per partner: what its users may do at most (a tenant without a row for a
-- partner gives its users the built-in partner bundle).
CREATE TABLE partner_permissions (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    partner_id   INTEGER NOT NULL,
    permissions  TEXT NOT NULL CHECK (json_valid(permissions)),
    PRIMARY KEY (tenant_id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES companies (tenant_id, id)
) STRICT;

-- Partner seats: how many partners and partner users a tenant may have (NULL: no limit).
CREATE TABLE access_settings (
    tenant_id           TEXT PRIMARY KEY REFERENCES tenants (id),
    max_partners        INTEGER CHECK (max_partners IS NULL OR max_partners >= 0),
    max_partner_users   INTEGER CHECK (max_partner_users IS NULL OR max_partner_users >= 0)
) STRICT;

-- API tokens for remote callers: a tenant user's, or the platform operator's (no tenant). Only
-- a SHA-256 hash of the token is kept; the token is shown once, when it is created.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants (id),
    user_id      INTEGER,
    label        TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    CHECK ((tenant_id IS NULL) = (user_id IS NULL))
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (tenant_id, user_id);

-- The role of the principal that made each change (`tenant_admin`, `partner_user`, `system`,
-- ...); entries written before this step have none.
ALTER TABLE audit_log ADD COLUMN role TEXT;
