// Package softkey is a software FIDO2 security key: a CTAPHID + CTAP 2.0/2.1
// authenticator served on a Linux pseudo-terminal so that unmodified libfido2
// (and go-libfido2, fido2-token, fido2-cred, fido2-assert) drives it exactly
// like a USB hidraw key.
//
// It owns the whole emulated device: the pty and its raw line settings, the
// CTAPHID framing (channels, continuation packets, keepalives, cancel, lock),
// the CTAP2 commands (GetInfo, MakeCredential with packed/self/none
// attestation, GetAssertion/GetNextAssertion, ClientPIN protocols 1 and 2,
// CredentialManagement, Selection, Reset), the attestation CA, simulated user
// presence, and fault injection for tests and the demo.
//
// A Key is run by one goroutine that owns the pty master and all
// authenticator state; a second goroutine only reads reports from the pty and
// hands them over on a channel. Public methods talk to the owner goroutine
// over a channel. The package is meant for tests and the demo; it must not
// hold real users' credentials.
package softkey
