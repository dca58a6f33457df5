-- Secrets at rest: links and one-time codes are no longer readable in the database.

-- The sealed secret of a message that carries one: `<kind>:<key id>:<nonce>`, the secret being
-- an HMAC of the nonce under the server's key (a file beside the database). The subject and body
-- hold a marker in its place ('{token}', '{code}'). Dropped when an email is delivered.
-- 'inline' marks a message queued before this step, with its secret in its body: it is
-- delivered as it is, and its body is replaced after.
ALTER TABLE outbox ADD COLUMN secret TEXT;

-- Delivered before this step: the links and codes in their bodies go.
UPDATE outbox
SET body = '(This message carried a shared link or a one-time code. Its text was removed after delivery so that the database does not keep the secret.)'
WHERE status = 'sent' AND channel = 'email' AND kind IN ('share', 'otp');

-- Waiting share emails still go out, with their links, and are cleaned after.
UPDATE outbox SET secret = 'inline'
WHERE status <> 'sent' AND channel = 'email' AND kind = 'share';

-- One-time codes were hashed with plain SHA-256 (a million guesses reverse one); they are now
-- keyed. Codes issued before this step are withdrawn (they lived five minutes at most): the
-- recipient is told to ask for a new one, and their waiting emails are held, without the code.
UPDATE share_recipients SET otp_hash = NULL, otp_expires_at = NULL WHERE otp_hash IS NOT NULL;
UPDATE outbox
SET status = 'held',
    error = 'withdrawn: this one-time code was issued before codes were keyed; ask for a new one',
    body = '(A one-time code, withdrawn before delivery: ask for a new one.)'
WHERE status <> 'sent' AND kind = 'otp';
