-- Webhook deliveries (api.md §11). One delivery per event (its id is sent on every
-- retry); one attempt row per POST. The delivery's job lives in `jobs` (kind 'webhook').

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    task_id         TEXT NOT NULL REFERENCES tasks(id),
    event           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    redelivery_of   TEXT,
    created_at      INTEGER NOT NULL,
    first_attempt_at INTEGER,
    next_attempt_at INTEGER,
    finished_at     INTEGER
);
CREATE INDEX webhook_deliveries_task ON webhook_deliveries(task_id, created_at);

CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt       INTEGER NOT NULL,
    attempted_at  INTEGER NOT NULL,
    status_code   INTEGER,
    latency_ms    INTEGER,
    response_body TEXT,     -- first 1 KiB, lossily decoded
    error         TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);
