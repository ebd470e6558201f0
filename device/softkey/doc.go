// Package softkey is a software FIDO2 security key: a CTAPHID + CTAP 2.0/2.1
// authenticator served on a Linux pseudo-terminal so that unmodified libfido2
// (and go-libfido2, fido2-token, fido2-cred, fido2-assert) drives it exactly
// like a USB hidraw key. Tests and the demo use it to run the gateway's real
// libfido2 code path without hardware.
//
// It owns the whole emulated device: the pty and its raw line settings, the
// CTAPHID framing (channels, continuation packets, keepalives, cancel, lock,
// wink), the CTAP2 commands, the attestation CA, simulated user presence, and
// fault injection.
//
// Supported: GetInfo (versions FIDO_2_0 and FIDO_2_1); MakeCredential with
// ES256, exclude lists, resident keys, PIN-based user verification, the
// credProtect, hmac-secret and minPinLength extensions, and packed basic
// attestation (x5c chaining to a test CA generated per key), packed self
// attestation or "none"; GetAssertion with allow lists or discoverable
// credentials, numberOfCredentials and GetNextAssertion; ClientPIN protocols
// 1 and 2 (getPinToken and getPinUvAuthTokenUsingPinWithPermissions, 8
// retries, a power cycle after 3 consecutive wrong PINs); CredentialManagement
// (also under the preview command byte libfido2 1.12 uses); Selection;
// authenticatorConfig setMinPINLength with forced PIN change; Reset within a
// configurable window after power-up. The signature counter is global.
// Optionally (Options.U2F) the key also speaks U2F over CTAPHID_MSG
// (REGISTER with fido-u2f attestation, AUTHENTICATE, VERSION), or only U2F,
// like a legacy key.
//
// Not supported: built-in user verification, enterprise attestation,
// alwaysUv, large blobs and biometrics; such requests get the CTAP error the
// spec prescribes.
//
// libfido2 cannot enumerate a pty (it lists hidraw nodes through udev): give
// it Key.Path, or the symlink made with Options.Link, as an explicit device
// path.
//
// libfido2 opens device paths without O_NOCTTY. A process that is a session
// leader without a controlling terminal (a systemd service, or anything
// started with setsid) therefore acquires the pty as its controlling
// terminal when libfido2 opens it, and receives SIGHUP when the key goes
// away. Such a host must ignore or handle SIGHUP while it uses a softkey;
// ordinary test binaries and programs started from a shell are unaffected.
//
// A Key is run by one goroutine that owns the pty master and all
// authenticator state; a second goroutine only reads reports from the pty and
// hands them over on a channel. Public methods reach the owner goroutine over
// a channel. The key keeps private keys in memory (and, with
// Options.StateFile, in a plain file): it is for tests and the demo, never
// for real users' credentials.
package softkey
