-- A share owes its notifications from the moment it commits (`notify_status` is 'pending' in the
-- share's own transaction) until the transaction that queues them sets it to 'queued' or 'held'.
-- A process that dies in between leaves the share 'pending', and a later run queues them. Runs
-- that failed to queue them are counted, so that the automatic resumption gives up after a few
-- and leaves the share to `cshost tenant hooks run`.
ALTER TABLE shares ADD COLUMN notify_attempts INTEGER NOT NULL DEFAULT 0;
-- Looked up on every tenant handle: only the few shares still owing notifications are indexed.
CREATE INDEX shares_notify_pending ON shares (tenant_id, shared_at)
    WHERE notify_status = 'pending';
-- Each recipient's link token, sealed (`link-token:<key id>:<nonce>`, the token being an HMAC
-- of the nonce under the key kept beside the database), from the share's transaction until its
-- notifications are queued: so a run that queues them after the sharing process died sends the
-- links the share made. NULL once queued (the outbox holds the seal until delivery).
ALTER TABLE share_recipients ADD COLUMN link_seal TEXT;
