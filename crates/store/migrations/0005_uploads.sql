-- Images sent with POST /v1/uploads (Extension). The bytes live in the blob store under
-- `blob_key`; a row is the upload's owner, its checked size and when it stops being usable.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    mode TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    format TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    exif_orientation INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
-- The quota sums an account's unexpired uploads; the sweeper walks them by expiry.
CREATE INDEX uploads_account ON uploads(account_id, expires_at);
CREATE INDEX uploads_expiry ON uploads(expires_at);
