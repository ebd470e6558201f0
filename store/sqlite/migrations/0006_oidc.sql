-- The OpenID provider for Microsoft Entra External MFA (package oidc),
-- shared by the nodes of one database.
--
-- Signing keys: seq numbers them, and its uniqueness is how nodes racing to
-- create the next key end with one. sealed is the PKCS#8 private key sealed
-- with the server key (the caller seals it); NULL once the key is retired,
-- when retired_at is set (0 until then) and the row stays for the record.
CREATE TABLE oidc_signing_keys (
    seq          INTEGER PRIMARY KEY,
    kid          TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    certificate  BLOB    NOT NULL,
    sealed       BLOB,
    retired_at   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Sign-in flows between Entra's redirect and the answer: single use
-- (consumed), bound to a browser by the SHA-256 of a cookie secret
-- (binding_hash; the secret is not stored). amr_values is a JSON array of
-- strings. challenge_id is the mfa challenge the flow's page started last.
CREATE TABLE oidc_flows (
    id           TEXT    PRIMARY KEY,
    client_id    TEXT    NOT NULL,
    redirect_uri TEXT    NOT NULL,
    nonce        TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL DEFAULT '',
    acr          TEXT    NOT NULL DEFAULT '',
    amr_values   TEXT    NOT NULL DEFAULT '[]',
    subject      TEXT    NOT NULL DEFAULT '',
    oid          TEXT    NOT NULL DEFAULT '',
    tid          TEXT    NOT NULL DEFAULT '',
    user_id      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    binding_hash BLOB    NOT NULL,
    challenge_id TEXT    NOT NULL DEFAULT '',
    consumed     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX oidc_flows_expiry ON oidc_flows (expires_at);
