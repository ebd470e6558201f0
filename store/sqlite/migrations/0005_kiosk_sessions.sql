-- Kiosk enrollment sessions, shared by the nodes of one database: a session
-- opened through one node is served by any other. id_hash is the SHA-256 of
-- the session ID (the ID is the kiosk page's credential); data is the state
-- as JSON, without PINs, codes, secrets or hashes.
CREATE TABLE kiosk_sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    node       TEXT    NOT NULL DEFAULT '',
    data       TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX kiosk_sessions_expiry ON kiosk_sessions (expires_at);
