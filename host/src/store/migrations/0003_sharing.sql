-- Sharing success plans, and outbox delivery.

-- A tenant's sharing settings. A tenant without a row uses the defaults.
CREATE TABLE sharing_settings (
    tenant_id         TEXT PRIMARY KEY REFERENCES tenants (id),
    -- Whether opening a shared link needs a one-time code sent to the recipient.
    otp_required      INTEGER NOT NULL DEFAULT 1 CHECK (otp_required IN (0, 1)),
    -- How long a shared link stays valid.
    link_expiry_days  INTEGER NOT NULL DEFAULT 30 CHECK (link_expiry_days BETWEEN 1 AND 3650),
    -- What goes before the token in a link, such as 'https://cs.example.com/shared/'.
    link_base         TEXT NOT NULL,
    -- Most outgoing notifications per hour (one-time codes are not counted or held back).
    notifications_per_hour INTEGER NOT NULL DEFAULT 500 CHECK (notifications_per_hour > 0)
) STRICT;

-- One act of sharing a plan with some recipients. The settings in force then are copied in,
-- so changing them later does not change links already sent.
CREATE TABLE shares (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    plan_id         INTEGER NOT NULL,
    audience        TEXT NOT NULL CHECK (audience IN ('users', 'contacts')),
    include_tasks   INTEGER NOT NULL CHECK (include_tasks IN (0, 1)),
    subject         TEXT NOT NULL,
    note            TEXT,
    shared_by       TEXT NOT NULL,
    shared_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    otp_required    INTEGER NOT NULL CHECK (otp_required IN (0, 1)),
    -- 'pending' until the plan shared hook has run; then 'queued' (in the outbox) or 'held'
    -- (a fail-closed notifier failed; `notify_error` says how).
    notify_status   TEXT NOT NULL DEFAULT 'pending'
                    CHECK (notify_status IN ('pending', 'queued', 'held')),
    notify_error    TEXT,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES success_plans (tenant_id, id)
) STRICT;
CREATE INDEX shares_plan ON shares (tenant_id, plan_id);

-- Each recipient of a share, with their own link. Only a hash of the link's token is kept.
CREATE TABLE share_recipients (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    share_id        INTEGER NOT NULL,
    email           TEXT NOT NULL COLLATE NOCASE,
    name            TEXT NOT NULL DEFAULT '',
    external        INTEGER NOT NULL CHECK (external IN (0, 1)),
    user_id         INTEGER,
    person_id       INTEGER,
    -- SHA-256 of the link token (32 random bytes): the token itself is never stored.
    token_hash      BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    revoked_at      INTEGER,
    revoked_by      TEXT,
    blocked_at      INTEGER,
    -- The current one-time code, hashed, and when it stops being valid.
    otp_hash        BLOB,
    otp_expires_at  INTEGER,
    otps_issued     INTEGER NOT NULL DEFAULT 0,
    otp_failures    INTEGER NOT NULL DEFAULT 0,
    last_access_at  INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, share_id) REFERENCES shares (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id),
    CHECK ((external = 0 AND user_id IS NOT NULL AND person_id IS NULL)
        OR (external = 1 AND person_id IS NOT NULL AND user_id IS NULL))
) STRICT;
CREATE INDEX share_recipients_share ON share_recipients (tenant_id, share_id);

-- Outbox delivery: when a delivery attempt last started, and why the last one failed.
ALTER TABLE outbox ADD COLUMN claimed_at INTEGER;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
CREATE INDEX outbox_sent ON outbox (tenant_id, sent_at) WHERE status = 'sent';
