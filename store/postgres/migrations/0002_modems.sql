-- SMS sent per SIM (ICCID) per local day, for the per-SIM daily caps.
CREATE TABLE sim_usage (
    sim  text    NOT NULL,
    day  text    NOT NULL,
    sent integer NOT NULL DEFAULT 0,
    PRIMARY KEY (sim, day)
);

-- Operators' test SMS have no challenge and are pinned to the modem they
-- test: challenge_id becomes optional (unique when set) and a pinned column
-- appears. Unlike SQLite, PostgreSQL changes the table in place.
ALTER TABLE outbox DROP CONSTRAINT outbox_challenge_id_key;
ALTER TABLE outbox ALTER COLUMN challenge_id SET DEFAULT '';
ALTER TABLE outbox ADD COLUMN pinned text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX outbox_challenge ON outbox (challenge_id) WHERE challenge_id <> '';
