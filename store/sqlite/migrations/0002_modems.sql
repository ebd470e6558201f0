-- SMS sent per SIM (ICCID) per local day, for the per-SIM daily caps.
CREATE TABLE sim_usage (
    sim  TEXT    NOT NULL,
    day  TEXT    NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sim, day)
) STRICT;

-- A test SMS is pinned to the modem it tests; sign-in jobs go to any modem.
ALTER TABLE outbox ADD COLUMN pinned TEXT NOT NULL DEFAULT '';
