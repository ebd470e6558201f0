-- When a method last answered a challenge (a sign-in, a test sign-in or a
-- proof), 0 when never: the Security info page shows it, so that a user
-- can tell a method still in use from a forgotten one.
ALTER TABLE methods ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
