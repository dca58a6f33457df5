-- Recipients who act on a shared plan: each recipient's permission, a link expiry the sharer
-- may extend, the session a verified one-time code opens, what recipients did, and comments
-- on objectives.

-- 'view' (read only) or 'update' (set their tasks' status and due date, comment on objectives).
ALTER TABLE share_recipients ADD COLUMN permission TEXT NOT NULL DEFAULT 'view'
    CHECK (permission IN ('view', 'update'));
-- This link's own expiry, when the sharer extended it; otherwise the share's.
ALTER TABLE share_recipients ADD COLUMN expires_at INTEGER;
-- SHA-256 of the session token a verified one-time code opened, and when the session ends.
ALTER TABLE share_recipients ADD COLUMN session_hash BLOB CHECK (length(session_hash) = 32);
ALTER TABLE share_recipients ADD COLUMN session_expires_at INTEGER;

-- What a recipient did through their link, for the sharer's tools to list.
CREATE TABLE share_events (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    plan_id       INTEGER NOT NULL,
    recipient_id  INTEGER NOT NULL REFERENCES share_recipients (id),
    email         TEXT NOT NULL,
    -- 'task.status', 'task.due' or 'objective.comment'.
    action        TEXT NOT NULL,
    -- 'task:<id>' or 'objective:<id>'.
    subject       TEXT NOT NULL,
    -- JSON: what changed.
    detail        TEXT NOT NULL,
    at            INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, plan_id) REFERENCES success_plans (tenant_id, id)
) STRICT;
CREATE INDEX share_events_plan ON share_events (tenant_id, plan_id, id);

-- Comments on an objective, by the sharer's side or by a recipient through a link.
CREATE TABLE objective_comments (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    objective_id  INTEGER NOT NULL,
    author        TEXT NOT NULL,
    -- 1 when written by an external contact through a shared link.
    external      INTEGER NOT NULL CHECK (external IN (0, 1)),
    body          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, objective_id) REFERENCES objectives (tenant_id, id)
) STRICT;
CREATE INDEX objective_comments_objective ON objective_comments (tenant_id, objective_id, id);
