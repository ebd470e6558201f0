// Package selfservice is the server side of the Security info page (/me):
// the sessions a user's own browser holds, the one-time links an identity
// provider hands a signed-in user, the OpenID Connect sign-in to the page,
// and the pending passkey registration ceremony of a session.
//
// Nothing secret is stored. A session is known by the SHA-256 of the
// random secret in its cookie, a link by the SHA-256 of the token in its
// URL, and an OpenID Connect sign-in by the SHA-256 of its state, bound
// to the browser by the SHA-256 of the login cookie's secret. The CSRF
// token of a session and the PKCE code_verifier of a sign-in are derived
// from those secrets, so a copy of the database opens nothing.
package selfservice
