-- Several gateway nodes may share a store (PostgreSQL); SQLite keeps the
-- same schema so that one rule set serves both. A claimed job names the
-- node that holds it and how long that claim stands without renewal.
ALTER TABLE outbox ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_lease ON outbox (state, lease_until);

-- Each node's last heartbeat, with its modems as JSON for status pages.
CREATE TABLE nodes (
    id         TEXT    PRIMARY KEY,
    version    TEXT    NOT NULL DEFAULT '',
    started_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    modems     TEXT    NOT NULL DEFAULT '[]'
) STRICT;
