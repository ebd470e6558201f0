// Package fido is the gateway's WebAuthn layer: it builds the
// clientDataJSON the kiosk hands to libfido2, verifies registrations
// (attestation objects in the packed, fido-u2f and none formats) and
// assertions (from the kiosk's libfido2 calls and from browsers through the
// identity provider) against the relying-party and attestation policy, and
// exports stored registrations in the standard WebAuthn JSON shape. It
// also verifies FIDO Metadata Service (MDS3) BLOBs, which name
// authenticator models and report revoked ones (Metadata).
//
// Parsing, attestation statement verification and signature checks are done
// with github.com/go-webauthn/webauthn's protocol package. The ceremony
// checks (type, challenge, origin, RP ID, flags, sign counter) are also done
// here, in order, so that every refusal carries a sentinel error for
// errors.Is and a message that names what was wrong and what was expected.
//
// The package knows nothing about HTTP, storage or users beyond credential
// IDs, and never puts key material or challenges into error messages.
package fido
