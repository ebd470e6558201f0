-- The PostgreSQL translation of store/sqlite's migrations, version for
-- version. Times are bigint Unix nanoseconds (0 is the zero time), exactly as
-- in SQLite, so that both backends order and compare the same integers; flags
-- are boolean and byte strings bytea.

-- Users: one row per account that registered anything.
CREATE TABLE users (
    id                    text     PRIMARY KEY,
    state                 text     NOT NULL DEFAULT 'off',
    activates_at          bigint   NOT NULL DEFAULT 0,
    last_test_signin_at   bigint   NOT NULL DEFAULT 0,
    last_method_change_at bigint   NOT NULL DEFAULT 0,
    default_method        text     NOT NULL DEFAULT '',
    consecutive_failures  integer  NOT NULL DEFAULT 0,
    phone_blocked         boolean  NOT NULL DEFAULT false,
    created_at            bigint   NOT NULL,
    updated_at            bigint   NOT NULL
);
CREATE INDEX users_pending ON users (activates_at) WHERE state = 'pending';

CREATE TABLE methods (
    id           text    PRIMARY KEY,
    user_id      text    NOT NULL REFERENCES users (id),
    kind         text    NOT NULL,
    label        text    NOT NULL,
    confirmed    boolean NOT NULL DEFAULT false,
    slot         text    NOT NULL DEFAULT '',
    channel      text    NOT NULL DEFAULT '',
    phone        text    NOT NULL DEFAULT '',
    extension    text    NOT NULL DEFAULT '',
    language     text    NOT NULL DEFAULT '',
    secret       bytea,
    last_step    bigint  NOT NULL DEFAULT 0,
    created_at   bigint  NOT NULL,
    confirmed_at bigint  NOT NULL DEFAULT 0
);
CREATE INDEX methods_user ON methods (user_id, created_at);

CREATE TABLE challenges (
    id                text    PRIMARY KEY,
    user_id           text    NOT NULL,
    method_id         text    NOT NULL,
    kind              text    NOT NULL,
    channel           text    NOT NULL DEFAULT '',
    purpose           text    NOT NULL,
    status            text    NOT NULL,
    reason            text    NOT NULL DEFAULT '',
    code_hash         bytea,
    number_match      text    NOT NULL DEFAULT '',
    attempts_left     integer NOT NULL,
    created_at        bigint  NOT NULL,
    expires_at        bigint  NOT NULL,
    finished_at       bigint  NOT NULL DEFAULT 0,
    delivery_modem    text    NOT NULL DEFAULT '',
    delivery_attempts integer NOT NULL DEFAULT 0,
    delivery_status   text    NOT NULL DEFAULT '',
    delivery_reason   text    NOT NULL DEFAULT '',
    -- PostgreSQL has no virtual generated columns before 18: this one is stored.
    open              boolean GENERATED ALWAYS AS (status NOT IN ('approved','denied','expired','failed','locked','no_answer','busy')) STORED
);
CREATE INDEX challenges_phone_rate ON challenges (user_id, created_at) WHERE kind = 'phone';
CREATE INDEX challenges_method ON challenges (method_id, purpose, created_at);
CREATE INDEX challenges_open ON challenges (expires_at) WHERE open;

CREATE TABLE outbox (
    id           text    PRIMARY KEY,
    challenge_id text    NOT NULL UNIQUE,
    channel      text    NOT NULL,
    dest         text    NOT NULL,
    extension    text    NOT NULL DEFAULT '',
    sealed       bytea   NOT NULL,
    language     text    NOT NULL DEFAULT '',
    state        text    NOT NULL,
    modem        text    NOT NULL DEFAULT '',
    attempts     integer NOT NULL DEFAULT 0,
    -- Message references of the submitted parts, in order.
    mr           integer[] NOT NULL DEFAULT '{}',
    reason       text    NOT NULL DEFAULT '',
    priority     integer NOT NULL DEFAULT 0,
    created_at   bigint  NOT NULL,
    updated_at   bigint  NOT NULL,
    expires_at   bigint  NOT NULL
);
CREATE INDEX outbox_queue ON outbox (state, channel, priority, expires_at);

CREATE TABLE audit (
    id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           bigint  NOT NULL,
    user_id      text    NOT NULL DEFAULT '',
    type         text    NOT NULL,
    actor        text    NOT NULL DEFAULT '',
    method_id    text    NOT NULL DEFAULT '',
    challenge_id text    NOT NULL DEFAULT '',
    detail       text    NOT NULL DEFAULT ''
);
CREATE INDEX audit_user ON audit (user_id, id);
