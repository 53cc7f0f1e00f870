-- Images sent with POST /v1/uploads (Extension), as in SQLite's 0005: the bytes live in
-- the blob store under `blob_key`; a row is the upload's owner, checked size and expiry.
CREATE TABLE uploads (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    mode             TEXT NOT NULL,
    blob_key         TEXT NOT NULL,
    format           TEXT NOT NULL,
    width            BIGINT NOT NULL,
    height           BIGINT NOT NULL,
    exif_orientation BIGINT NOT NULL,
    size_bytes       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
-- The quota sums an account's unexpired uploads; the sweeper walks them by expiry.
CREATE INDEX uploads_account ON uploads (account_id, expires_at);
CREATE INDEX uploads_expiry ON uploads (expires_at);
