// Package device drives USB FIDO2 security keys for the enrollment kiosk
// through go-libfido2 and the system libfido2: key information, PIN
// management, credential creation with attestation, assertions, resident
// credential management and reset, plus discovery of the keys present.
//
// It owns the translation between libfido2 and the rest of the gateway:
// inputs are checked before they reach go-libfido2 (which panics on empty
// byte slices), libfido2 and CTAP error codes become this package's sentinel
// errors, authenticator data is unwrapped from libfido2's CBOR byte-string
// wrapping, and the WebAuthn attestationObject is rebuilt from the pieces
// libfido2 returns.
//
// A key handles one request at a time, so every operation on a device path
// holds that path's lock, shared by all Authenticators opened on it.
// go-libfido2 has neither contexts nor timeouts: each blocking call runs in
// its own goroutine, and when the caller's context ends or the timeout
// passes (WithTimeout: the wait for a touch, and a bound on every other
// call) the request is cancelled on the key with CTAPHID_CANCEL, resent
// until libfido2 returns. go-libfido2 can only cancel once libfido2 has
// opened the device, so a key that is slow to answer the handshake, or
// ignores cancels, is given up on after a short grace period while its
// call keeps the path locked until the key answers or goes away. Key.Close
// waits for such calls.
//
// libfido2 only enumerates hidraw nodes. Software keys on a pseudo-terminal
// (device/softkey) and nodes named in the configuration are reached as extra
// paths, which the Watcher polls alongside libfido2's enumeration. Extra
// paths should be stable names (a udev symlink, softkey's Options.Link):
// the kernel reuses a freed pty or hidraw number for the next device, which
// may be anything.
//
// libfido2 opens device paths without O_NOCTTY. A process that is a session
// leader without a controlling terminal (a systemd service) acquires a pty
// key as its controlling terminal when libfido2 opens it, and receives
// SIGHUP when that key goes away; such a process must ignore SIGHUP.
package device
