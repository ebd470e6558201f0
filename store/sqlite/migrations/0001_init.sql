-- Users: one row per account that registered anything.
CREATE TABLE users (
    id                    TEXT PRIMARY KEY,
    state                 TEXT    NOT NULL DEFAULT 'off',
    activates_at          INTEGER NOT NULL DEFAULT 0,
    last_test_signin_at   INTEGER NOT NULL DEFAULT 0,
    last_method_change_at INTEGER NOT NULL DEFAULT 0,
    default_method        TEXT    NOT NULL DEFAULT '',
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    phone_blocked         INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX users_pending ON users (activates_at) WHERE state = 'pending';

CREATE TABLE methods (
    id           TEXT PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    kind         TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    confirmed    INTEGER NOT NULL DEFAULT 0,
    slot         TEXT    NOT NULL DEFAULT '',
    channel      TEXT    NOT NULL DEFAULT '',
    phone        TEXT    NOT NULL DEFAULT '',
    extension    TEXT    NOT NULL DEFAULT '',
    language     TEXT    NOT NULL DEFAULT '',
    secret       BLOB,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX methods_user ON methods (user_id, created_at);

CREATE TABLE challenges (
    id                TEXT PRIMARY KEY,
    user_id           TEXT    NOT NULL,
    method_id         TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    channel           TEXT    NOT NULL DEFAULT '',
    purpose           TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    reason            TEXT    NOT NULL DEFAULT '',
    code_hash         BLOB,
    number_match      TEXT    NOT NULL DEFAULT '',
    attempts_left     INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    finished_at       INTEGER NOT NULL DEFAULT 0,
    delivery_modem    TEXT    NOT NULL DEFAULT '',
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    delivery_status   TEXT    NOT NULL DEFAULT '',
    delivery_reason   TEXT    NOT NULL DEFAULT '',
    open              INTEGER GENERATED ALWAYS AS (status NOT IN ('approved','denied','expired','failed','locked','no_answer','busy')) VIRTUAL
) STRICT;
CREATE INDEX challenges_phone_rate ON challenges (user_id, created_at) WHERE kind = 'phone';
CREATE INDEX challenges_method ON challenges (method_id, purpose, created_at);
CREATE INDEX challenges_open ON challenges (expires_at) WHERE open;

CREATE TABLE outbox (
    id           TEXT PRIMARY KEY,
    challenge_id TEXT    NOT NULL UNIQUE,
    channel      TEXT    NOT NULL,
    dest         TEXT    NOT NULL,
    extension    TEXT    NOT NULL DEFAULT '',
    sealed       BLOB    NOT NULL,
    language     TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL,
    modem        TEXT    NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    mr           TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL DEFAULT '',
    priority     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_queue ON outbox (state, channel, priority, expires_at);

CREATE TABLE audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    user_id      TEXT    NOT NULL DEFAULT '',
    type         TEXT    NOT NULL,
    actor        TEXT    NOT NULL DEFAULT '',
    method_id    TEXT    NOT NULL DEFAULT '',
    challenge_id TEXT    NOT NULL DEFAULT '',
    detail       TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_user ON audit (user_id, id);
