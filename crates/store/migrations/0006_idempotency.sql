-- Idempotency keys (Extension): one row per (API key, Idempotency-Key). While a request
-- runs, `token` names it and the response columns are NULL; once it has answered, the
-- token is NULL and the row holds the answer to replay. Rows are forgotten at
-- `expires_at` (24 h after the reservation by default) and swept afterwards.
CREATE TABLE idempotency_keys (
    key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    token TEXT,
    started_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    request_sha256 BLOB,
    request_bytes INTEGER,
    response_status INTEGER,
    response_headers TEXT,
    response_body BLOB,
    PRIMARY KEY (key_id, idempotency_key)
);
-- The sweeper walks rows by expiry.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at);
