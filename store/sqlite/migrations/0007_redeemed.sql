-- An approved sign-in challenge may be redeemed by a front door that has
-- only its ID to go on (privacyIDEA's finalisation of a challenge approved
-- on the phone): redeemed_at is when, 0 until then, so that one approval
-- answers one sign-in.
ALTER TABLE challenges ADD COLUMN redeemed_at INTEGER NOT NULL DEFAULT 0;
