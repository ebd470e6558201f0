-- Listings and retention at a million rows.
--
-- The outbox is listed newest first, by state or not, a page at a time
-- with a keyset cursor (created_at, id): each listing reads only its page.
-- Retention deletes finished jobs older than a cutoff with the same index.
CREATE INDEX outbox_created ON outbox (created_at, id);
CREATE INDEX outbox_state_created ON outbox (state, created_at, id);
-- Pending users due for activation, earliest first, in index order (the ID
-- breaks ties): with the state in it too the planner prefers it to an index
-- on state alone (users_state_id, migration 0012), which would sort every
-- pending user for each page.
CREATE INDEX users_due ON users (state, activates_at, id) WHERE state = 'pending';
DROP INDEX users_pending;
-- Retention deletes finished challenges older than a cutoff, oldest first.
-- (Audit rows are pruned by id, which grows with at.)
CREATE INDEX challenges_created ON challenges (created_at);

-- Users by state for the gauge, kept by triggers instead of counting every
-- user on each scrape. (A conflict clause in a trigger gives way to the
-- outer statement's, an upsert here, so a missing state is added with WHERE
-- NOT EXISTS.) A user's state changes rarely (enrolment,
-- activation, termination), so the counters are seldom written; sign-ins
-- rewrite the user row with the same state and do not touch them.
CREATE TABLE user_counts (
    state TEXT    PRIMARY KEY,
    n     INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO user_counts (state, n) VALUES ('off', 0), ('pending', 0), ('active', 0);
INSERT OR REPLACE INTO user_counts (state, n) SELECT state, COUNT(*) FROM users GROUP BY state;

CREATE TRIGGER user_counts_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_counts (state, n) SELECT new.state, 0
        WHERE NOT EXISTS (SELECT 1 FROM user_counts WHERE state = new.state);
    UPDATE user_counts SET n = n + 1 WHERE state = new.state;
END;
CREATE TRIGGER user_counts_update AFTER UPDATE OF state ON users WHEN old.state <> new.state BEGIN
    INSERT INTO user_counts (state, n) SELECT new.state, 0
        WHERE NOT EXISTS (SELECT 1 FROM user_counts WHERE state = new.state);
    UPDATE user_counts SET n = n - 1 WHERE state = old.state;
    UPDATE user_counts SET n = n + 1 WHERE state = new.state;
END;
CREATE TRIGGER user_counts_delete AFTER DELETE ON users BEGIN
    UPDATE user_counts SET n = n - 1 WHERE state = old.state;
END;
