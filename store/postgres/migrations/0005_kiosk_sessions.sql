-- Kiosk enrollment sessions, shared by the nodes of one database: a session
-- opened through one node is served by any other. id_hash is the SHA-256 of
-- the session ID (the ID is the kiosk page's credential); data is the state
-- as JSON, without PINs, codes, secrets or hashes.
CREATE TABLE kiosk_sessions (
    id_hash    text   PRIMARY KEY,
    user_id    text   NOT NULL,
    node       text   NOT NULL DEFAULT '',
    data       text   NOT NULL,
    seq        bigint NOT NULL,
    expires_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX kiosk_sessions_expiry ON kiosk_sessions (expires_at);
