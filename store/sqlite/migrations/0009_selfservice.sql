-- The Security info page (/me, package selfservice), shared by the nodes of
-- one database so that any node answers a browser. No secret is stored:
-- each key is the SHA-256 of a random value that only the browser (or the
-- one-time link) holds.
--
-- Sessions: id_hash is the SHA-256 of the session cookie's secret (the CSRF
-- token is derived from that secret, so nothing more is kept for it). via
-- says how the session began (link, oidc). A pending passkey registration
-- ceremony lives with the session that asked for it: ceremony_id ('' when
-- none) names it, ceremony_challenge is the WebAuthn challenge sent to the
-- browser, ceremony_expires_at when it lapses. Taking it clears ceremony_id
-- in one conditional statement, so a ceremony answers once.
CREATE TABLE selfservice_sessions (
    id_hash             BLOB    PRIMARY KEY,
    user_id             TEXT    NOT NULL,
    via                 TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    ceremony_id         TEXT    NOT NULL DEFAULT '',
    ceremony_challenge  BLOB,
    ceremony_expires_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX selfservice_sessions_expiry ON selfservice_sessions (expires_at);

-- One-time sign-in links an identity provider asks for
-- (POST /v1/users/{user}/selfservice-links): token_hash is the SHA-256 of
-- the token in the link's URL; used is set by the one statement that
-- redeems it (UPDATE … WHERE NOT used), so a link opens one session.
CREATE TABLE selfservice_links (
    token_hash BLOB    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX selfservice_links_expiry ON selfservice_links (expires_at);

-- OpenID Connect sign-ins to the page in progress (between /me/login and
-- /me/callback): state_hash is the SHA-256 of the state parameter,
-- binding_hash the SHA-256 of the login cookie's secret. The PKCE
-- code_verifier is derived from that secret and is therefore not stored.
-- used is set once, by the callback that takes the state.
CREATE TABLE selfservice_logins (
    state_hash   BLOB    PRIMARY KEY,
    binding_hash BLOB    NOT NULL,
    nonce        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX selfservice_logins_expiry ON selfservice_logins (expires_at);
