-- Listing users by state (GET /v1/users?state=…): keyset pagination by ID
-- within one state is a range scan of this index, however many users
-- there are. Without a state the primary key serves.
CREATE INDEX users_state_id ON users (state, id);
