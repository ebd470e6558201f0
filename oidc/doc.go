// Package oidc owns mfagate's OpenID provider for Microsoft Entra ID's
// External MFA ("External MFA method provider reference", Microsoft Learn,
// concept-authentication-external-method-provider; cited below as "the
// reference"): the discovery document and key set Entra fetches, the
// signing keys and their rotation, verification of the id_token_hint Entra
// sends, parsing of the authorization request, and the id_token and
// form_post page that answer it.
//
// It stores nothing itself: signing keys and flow state go through the
// small KeyStore and FlowStore interfaces its caller implements, and key
// material is sealed by the caller's Sealer. It does not verify users
// either; the sign-in page asks package mfa and hands the result (which
// method verified) to MintIDToken.
package oidc
