-- Several gateway nodes share this store. A claimed job names the node that
-- holds it and how long that claim stands without renewal; after that any
-- node may requeue it.
ALTER TABLE outbox ADD COLUMN node text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;
CREATE INDEX outbox_lease ON outbox (state, lease_until);

-- Each node's last heartbeat, with its modems as JSON for status pages.
CREATE TABLE nodes (
    id         text   PRIMARY KEY,
    version    text   NOT NULL DEFAULT '',
    started_at bigint NOT NULL,
    seen_at    bigint NOT NULL,
    modems     jsonb  NOT NULL DEFAULT '[]'
);

-- Wake-ups between nodes, sent at commit: a job entering the queue (new,
-- retried or taken over) wakes every node's idle modems, and a changed
-- challenge wakes the long polls waiting for it on other nodes. The payload
-- is an ID, never a number or a code.
CREATE FUNCTION mfagate_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mfagate_outbox', NEW.channel);
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_queued AFTER INSERT OR UPDATE OF state ON outbox
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION mfagate_notify_outbox();

CREATE FUNCTION mfagate_notify_challenge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mfagate_challenge', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER challenge_changed AFTER UPDATE ON challenges
    FOR EACH ROW EXECUTE FUNCTION mfagate_notify_challenge();
