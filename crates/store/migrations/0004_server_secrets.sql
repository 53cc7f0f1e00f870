-- Named server secrets (the file-signing key, …) shared by every process on this
-- database. Written once by whichever process needs one first; never changed.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
