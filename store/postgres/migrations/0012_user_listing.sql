-- Listing users (GET /v1/users): keyset pagination by ID in byte order
-- (COLLATE "C", as Go orders strings, whatever the database's collation),
-- without a state on the first index, within one state on the second; each
-- page is a range scan however many users there are.
CREATE INDEX users_id_bytes ON users (id COLLATE "C");
CREATE INDEX users_state_id ON users (state, id COLLATE "C");
-- The few users a fraud report blocked or wrong codes lock, for
-- warning=phone_blocked and warning=locked: without these a planner that
-- knows they are rare reads the whole table.
CREATE INDEX users_blocked_id ON users (id COLLATE "C") WHERE phone_blocked;
CREATE INDEX users_failing_id ON users (id COLLATE "C") WHERE consecutive_failures > 0;
