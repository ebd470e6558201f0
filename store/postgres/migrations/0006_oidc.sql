-- The OpenID provider for Microsoft Entra External MFA (package oidc),
-- shared by the nodes of one database.
--
-- Signing keys: seq numbers them, and its uniqueness is how nodes racing to
-- create the next key end with one. sealed is the PKCS#8 private key sealed
-- with the server key (the caller seals it); NULL once the key is retired,
-- when retired_at is set (0 until then) and the row stays for the record.
CREATE TABLE oidc_signing_keys (
    seq          bigint  PRIMARY KEY,
    kid          text    NOT NULL UNIQUE,
    created_at   bigint  NOT NULL,
    activates_at bigint  NOT NULL,
    certificate  bytea   NOT NULL,
    sealed       bytea,
    retired_at   bigint  NOT NULL DEFAULT 0
);

-- Sign-in flows between Entra's redirect and the answer: single use
-- (consumed), bound to a browser by the SHA-256 of a cookie secret
-- (binding_hash; the secret is not stored). amr_values is a text array.
-- challenge_id is the mfa challenge the flow's page started last.
CREATE TABLE oidc_flows (
    id           text    PRIMARY KEY,
    client_id    text    NOT NULL,
    redirect_uri text    NOT NULL,
    nonce        text    NOT NULL DEFAULT '',
    state        text    NOT NULL DEFAULT '',
    acr          text    NOT NULL DEFAULT '',
    amr_values   text[]  NOT NULL DEFAULT '{}',
    subject      text    NOT NULL DEFAULT '',
    oid          text    NOT NULL DEFAULT '',
    tid          text    NOT NULL DEFAULT '',
    user_id      text    NOT NULL,
    created_at   bigint  NOT NULL,
    expires_at   bigint  NOT NULL,
    binding_hash bytea   NOT NULL,
    challenge_id text    NOT NULL DEFAULT '',
    consumed     boolean NOT NULL DEFAULT false
);
CREATE INDEX oidc_flows_expiry ON oidc_flows (expires_at);
