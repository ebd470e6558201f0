-- Temporary Access Passes (methods of kind 'tap'): when the pass stops
-- verifying, when a one-time pass was used (0: not yet), and whether it is
-- one-time. The pass itself is kept only as a keyed hash in secret.
ALTER TABLE methods ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE methods ADD COLUMN used_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE methods ADD COLUMN one_time INTEGER NOT NULL DEFAULT 0;
CREATE INDEX methods_tap_expiry ON methods (expires_at) WHERE kind = 'tap';
