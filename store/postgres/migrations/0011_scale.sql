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

-- Users by state for the gauge, kept by a trigger instead of counting every
-- user on each scrape. A user's state changes rarely (enrolment,
-- activation, termination), so the counters are seldom written; sign-ins
-- rewrite the user row with the same state and do not touch them.
CREATE TABLE user_counts (
    state text   PRIMARY KEY,
    n     bigint NOT NULL DEFAULT 0
);
INSERT INTO user_counts (state, n) VALUES ('off', 0), ('pending', 0), ('active', 0);
INSERT INTO user_counts (state, n) SELECT state, COUNT(*) FROM users GROUP BY state
    ON CONFLICT (state) DO UPDATE SET n = excluded.n;

CREATE FUNCTION user_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE user_counts SET n = n - 1 WHERE state = OLD.state;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO user_counts (state, n) VALUES (NEW.state, 1)
            ON CONFLICT (state) DO UPDATE SET n = user_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER user_counts_insert AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_counts_track();
CREATE TRIGGER user_counts_update AFTER UPDATE OF state ON users
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION user_counts_track();
