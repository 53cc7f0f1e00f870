-- Idempotency keys (Extension), as in SQLite's 0006: one row per (API key,
-- Idempotency-Key). While a request runs, `token` names it and the response columns are
-- NULL; once it has answered, the token is NULL and the row holds the answer to replay.
-- Being a row (not process memory) is what makes two API processes agree.
CREATE TABLE idempotency_keys (
    key_id           TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    token            TEXT,
    started_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    request_sha256   BYTEA,
    request_bytes    BIGINT,
    response_status  BIGINT,
    response_headers TEXT,
    response_body    BYTEA,
    PRIMARY KEY (key_id, idempotency_key)
);
-- The sweeper walks rows by expiry.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
