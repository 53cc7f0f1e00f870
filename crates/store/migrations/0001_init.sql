-- PeakReel schema, version 1. Times are unix seconds (UTC).

CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    plan                TEXT NOT NULL,
    renewal_day         INTEGER NOT NULL CHECK (renewal_day BETWEEN 1 AND 28),
    -- 'YYYY-MM' of the last monthly refresh, so a refresh happens once per period.
    last_refresh_period TEXT,
    created_at          INTEGER NOT NULL,
    deleted_at          INTEGER
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    mode           TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    key_hash       BLOB NOT NULL UNIQUE,   -- SHA-256 of the full key; the key itself is never stored
    key_hint       TEXT NOT NULL,          -- prefix and last four characters, for listings
    name           TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    expires_at     INTEGER,
    revoked_at     INTEGER
);
CREATE INDEX api_keys_account ON api_keys(account_id);

-- Append-only: the balance is the sum of amount. Rows are never updated or deleted.
CREATE TABLE credit_ledger (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    kind       TEXT NOT NULL CHECK (kind IN ('grant', 'charge', 'refund', 'monthly_refresh')),
    amount     INTEGER NOT NULL,
    task_id    TEXT,
    note       TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX credit_ledger_account ON credit_ledger(account_id);
-- A task is charged at most once and refunded at most once, whatever happens.
CREATE UNIQUE INDEX credit_ledger_task_once ON credit_ledger(task_id, kind) WHERE task_id IS NOT NULL;
CREATE TRIGGER credit_ledger_no_update BEFORE UPDATE ON credit_ledger
BEGIN SELECT RAISE(ABORT, 'credit_ledger is append-only'); END;
CREATE TRIGGER credit_ledger_no_delete BEFORE DELETE ON credit_ledger
BEGIN SELECT RAISE(ABORT, 'credit_ledger is append-only'); END;

CREATE TABLE voices (
    id           TEXT PRIMARY KEY,
    account_id   TEXT REFERENCES accounts(id),      -- NULL = public
    mode         TEXT CHECK (mode IN ('live', 'test')), -- NULL = public; else the creating key's mode
    name         TEXT NOT NULL,
    gender       TEXT NOT NULL,
    accent       TEXT NOT NULL,
    languages    TEXT NOT NULL,                     -- JSON array of ISO 639-1 codes
    provider     TEXT NOT NULL,
    engine_json  TEXT NOT NULL,                     -- how the local engines speak it
    preview_path TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    deleted_at   INTEGER
);
CREATE INDEX voices_account ON voices(account_id);

CREATE TABLE avatars (
    id         TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id),        -- NULL = public
    mode       TEXT CHECK (mode IN ('live', 'test')),
    name       TEXT NOT NULL,
    image_path TEXT NOT NULL,                       -- key in blob storage
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX avatars_account ON avatars(account_id);

CREATE TABLE tasks (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order, for cursors
    id              TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    key_id          TEXT NOT NULL REFERENCES api_keys(id),
    mode            TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    type            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    request_json    TEXT NOT NULL,
    credits_charged INTEGER NOT NULL,
    webhook_url     TEXT,
    progress        INTEGER,
    stage           TEXT,
    result_json     TEXT,
    error_json      TEXT,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    completed_at    INTEGER
);
CREATE INDEX tasks_owner ON tasks(account_id, mode, seq);
CREATE INDEX tasks_in_flight ON tasks(account_id, mode, status);
CREATE INDEX tasks_status ON tasks(status, seq);

-- The job queue (design.md principle 3). A job is claimed by setting lease_owner and
-- lease_expires_at in one statement; completion and failure are fenced by
-- (id, attempt, lease_owner), so a worker that lost its lease cannot write.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    task_id          TEXT,
    payload          TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX jobs_ready ON jobs(kind, status, run_at);
CREATE INDEX jobs_task ON jobs(task_id);
