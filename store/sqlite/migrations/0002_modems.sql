-- SMS sent per SIM (ICCID) per local day, for the per-SIM daily caps.
CREATE TABLE sim_usage (
    sim  TEXT    NOT NULL,
    day  TEXT    NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sim, day)
) STRICT;

-- Operators' test SMS have no challenge and are pinned to the modem they
-- test: challenge_id becomes optional (unique when set) and a pinned column
-- appears. SQLite cannot drop a constraint in place, so the table is rebuilt.
CREATE TABLE outbox_v2 (
    id           TEXT PRIMARY KEY,
    challenge_id TEXT    NOT NULL DEFAULT '',
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
    expires_at   INTEGER NOT NULL,
    pinned       TEXT    NOT NULL DEFAULT ''
) STRICT;
INSERT INTO outbox_v2 (id, challenge_id, channel, dest, extension, sealed, language, state, modem, attempts, mr, reason, priority, created_at, updated_at, expires_at)
    SELECT id, challenge_id, channel, dest, extension, sealed, language, state, modem, attempts, mr, reason, priority, created_at, updated_at, expires_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE UNIQUE INDEX outbox_challenge ON outbox (challenge_id) WHERE challenge_id != '';
CREATE INDEX outbox_queue ON outbox (state, channel, priority, expires_at);
