-- Console sessions: a browser signed in to the console with an API token. Only the SHA-256 of the
-- session's id (the browser's cookie) is kept, so the table opens no session. A session acts
-- through its token, checked again on every request: a revoked or expired token ends it, and so
-- does the token's deletion.
CREATE TABLE console_sessions (
    id_hash    BLOB PRIMARY KEY CHECK (length(id_hash) = 32),
    token_id   INTEGER NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
