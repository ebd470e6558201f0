-- Listing users by state (GET /v1/users?state=…): keyset pagination by ID
-- within one state is a range scan of this index, however many users
-- there are. Without a state the primary key serves.
CREATE INDEX users_state_id ON users (state, id);
-- The activation sweep pages pending users by (activates_at, id). With
-- the index above beside it, SQLite's planner takes users_state_id for
-- the state and sorts; the pending index leads with the state too (still
-- only pending rows), so it answers the state, the time range and the
-- order, and a page is read in order.
DROP INDEX users_pending;
CREATE INDEX users_pending ON users (state, activates_at, id) WHERE state = 'pending';
