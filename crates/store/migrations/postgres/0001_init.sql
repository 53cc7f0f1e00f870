-- PeakReel schema on PostgreSQL, version 1: the SQLite schema (../0001…0004) in
-- PostgreSQL's types. Times are unix seconds (UTC) as BIGINT, JSON documents are TEXT
-- (returned byte for byte, parsed by the readers that need them).

CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    plan                TEXT NOT NULL,
    renewal_day         BIGINT NOT NULL CHECK (renewal_day BETWEEN 1 AND 28),
    last_refresh_period TEXT,
    created_at          BIGINT NOT NULL,
    deleted_at          BIGINT
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    mode           TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    key_hash       BYTEA NOT NULL UNIQUE,  -- SHA-256 of the full key; the key itself is never stored
    key_hint       TEXT NOT NULL,
    name           TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT,
    expires_at     BIGINT,
    revoked_at     BIGINT
);
CREATE INDEX api_keys_account ON api_keys(account_id);

-- Append-only: the balance is the sum of amount. The triggers below refuse every
-- UPDATE, DELETE and TRUNCATE, whoever sends it.
CREATE TABLE credit_ledger (
    id         BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    kind       TEXT NOT NULL CHECK (kind IN ('grant', 'charge', 'refund', 'monthly_refresh')),
    amount     BIGINT NOT NULL,
    task_id    TEXT,
    note       TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX credit_ledger_account ON credit_ledger(account_id);
-- A task is charged at most once and refunded at most once, whatever happens.
CREATE UNIQUE INDEX credit_ledger_task_once ON credit_ledger(task_id, kind) WHERE task_id IS NOT NULL;
CREATE FUNCTION credit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'credit_ledger is append-only';
END $$;
CREATE TRIGGER credit_ledger_no_update BEFORE UPDATE ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only();
CREATE TRIGGER credit_ledger_no_delete BEFORE DELETE ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only();
CREATE TRIGGER credit_ledger_no_truncate BEFORE TRUNCATE ON credit_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION credit_ledger_append_only();

CREATE TABLE voices (
    id           TEXT PRIMARY KEY,
    account_id   TEXT REFERENCES accounts(id),
    mode         TEXT CHECK (mode IN ('live', 'test')),
    name         TEXT NOT NULL,
    gender       TEXT NOT NULL,
    accent       TEXT NOT NULL,
    languages    TEXT NOT NULL,      -- JSON array of ISO 639-1 codes
    provider     TEXT NOT NULL,
    engine_json  TEXT NOT NULL,
    preview_path TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    deleted_at   BIGINT
);
CREATE INDEX voices_account ON voices(account_id);

CREATE TABLE avatars (
    id         TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id),
    mode       TEXT CHECK (mode IN ('live', 'test')),
    name       TEXT NOT NULL,
    image_path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX avatars_account ON avatars(account_id);

CREATE TABLE tasks (
    seq             BIGSERIAL PRIMARY KEY,   -- creation order, for cursors
    id              TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    key_id          TEXT NOT NULL REFERENCES api_keys(id),
    mode            TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    type            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    request_json    TEXT NOT NULL,
    credits_charged BIGINT NOT NULL,
    webhook_url     TEXT,
    progress        BIGINT,
    stage           TEXT,
    result_json     TEXT,
    error_json      TEXT,
    created_at      BIGINT NOT NULL,
    started_at      BIGINT,
    completed_at    BIGINT
);
CREATE INDEX tasks_owner ON tasks(account_id, mode, seq);
CREATE INDEX tasks_in_flight ON tasks(account_id, mode, status);
CREATE INDEX tasks_status ON tasks(status, seq);

-- The job queue (design.md principle 3): claimed with FOR UPDATE SKIP LOCKED, every
-- later write fenced by (id, attempt, lease_owner).
CREATE TABLE jobs (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT NOT NULL,
    task_id          TEXT,
    payload          TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempt          BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_at           BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT              -- NULL exactly while the job is queued or running
) WITH (fillfactor = 80);
-- Open jobs, in claim order. Keyed on finished_at (not status) and with room left in
-- each page, so a claim (queued → running) and a heartbeat change no indexed column and
-- are HOT updates: no new index entry for claims to step over until vacuum runs.
CREATE INDEX jobs_open ON jobs(kind, run_at, id) WHERE finished_at IS NULL;
CREATE INDEX jobs_task ON jobs(task_id);

-- Idle workers in every process LISTEN on this channel (payload: the job's kind), so
-- new or re-queued work wakes them at once; polling remains the fallback.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'queued' THEN
        PERFORM pg_notify('peakreel_jobs', NEW.kind);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_notify();
CREATE TRIGGER jobs_notify_requeue AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (OLD.status <> 'queued' AND NEW.status = 'queued')
    EXECUTE FUNCTION jobs_notify();

CREATE TABLE webhook_deliveries (
    seq              BIGSERIAL UNIQUE,       -- creation order within one second
    id               TEXT PRIMARY KEY,
    task_id          TEXT NOT NULL REFERENCES tasks(id),
    event            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    redelivery_of    TEXT,
    created_at       BIGINT NOT NULL,
    first_attempt_at BIGINT,
    next_attempt_at  BIGINT,
    finished_at      BIGINT
);
CREATE INDEX webhook_deliveries_task ON webhook_deliveries(task_id, created_at);

CREATE TABLE webhook_attempts (
    id            BIGSERIAL PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt       BIGINT NOT NULL,
    attempted_at  BIGINT NOT NULL,
    status_code   BIGINT,
    latency_ms    BIGINT,
    response_body TEXT,
    error         TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
