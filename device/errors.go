package device

import (
	"errors"
	"fmt"
	"os"

	libfido2 "github.com/keys-pub/go-libfido2"
)

// Errors returned by Authenticator methods, checked with errors.Is.
var (
	ErrPINInvalid     = errors.New("wrong PIN")
	ErrPINBlocked     = errors.New("PIN blocked: the key must be reset")
	ErrPINAuthBlocked = errors.New("too many wrong PINs in a row: remove and reinsert the key")
	ErrPINRequired    = errors.New("the key has a PIN: enter it")
	ErrPINNotSet      = errors.New("the key has no PIN: set one first")
	ErrPINPolicy      = errors.New("PIN length not accepted by the key")
	ErrNoTouch        = errors.New("the key was not touched in time")
	ErrNoResponse     = errors.New("the key did not answer: remove and reinsert it")
	ErrCancelled      = errors.New("operation cancelled")
	ErrNotFIDO2       = errors.New("the device is not a FIDO2 key")
	ErrRemoved        = errors.New("the key was removed")
	ErrNoCredentials  = errors.New("no credential for this relying party on the key")
	ErrExcluded       = errors.New("the key already holds a credential for this account")
	ErrNotAllowed     = errors.New("the key refused the operation")
	ErrUnsupported    = errors.New("the key does not support this request")
	ErrKeyFull        = errors.New("the key has no room for another resident credential")
	ErrInvalidInput   = errors.New("invalid request")
)

// PINError reports a wrong PIN and how many tries remain before the key
// blocks its PIN. It wraps ErrPINInvalid.
type PINError struct{ RetriesLeft int }

func (e *PINError) Error() string {
	if e.RetriesLeft < 0 {
		return "wrong PIN"
	}
	if e.RetriesLeft == 1 {
		return "wrong PIN: 1 try left before the key locks"
	}
	return fmt.Sprintf("wrong PIN: %d tries left before the key locks", e.RetriesLeft)
}

// Unwrap makes errors.Is(err, ErrPINInvalid) hold.
func (e *PINError) Unwrap() error { return ErrPINInvalid }

// CTAP status codes go-libfido2 has no sentinel for (libfido2.Error.Code).
const (
	ctapCredentialExcluded = 0x19
	ctapUserActionTimeout  = 0x2f
	ctapPINBlocked         = 0x32
	ctapPINAuthInvalid     = 0x33
	ctapUVBlocked          = 0x3c
	ctapUnsupportedExt     = 0x16
	ctapUnsupportedAlg     = 0x26
	ctapKeyStoreFull       = 0x28
)

// mapError turns a go-libfido2 error into this package's error for op on
// path. It returns nil for nil.
func mapError(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	var code libfido2.Error
	switch {
	case errors.Is(err, libfido2.ErrPinInvalid):
		sentinel = ErrPINInvalid
	case errors.Is(err, libfido2.ErrPinAuthBlocked):
		sentinel = ErrPINAuthBlocked
	case errors.Is(err, libfido2.ErrPinRequired):
		sentinel = ErrPINRequired
	case errors.Is(err, libfido2.ErrPinNotSet):
		sentinel = ErrPINNotSet
	case errors.Is(err, libfido2.ErrPinPolicyViolation):
		sentinel = ErrPINPolicy
	case errors.Is(err, libfido2.ErrActionTimeout):
		sentinel = ErrNoTouch
	case errors.Is(err, libfido2.ErrKeepaliveCancel):
		sentinel = ErrCancelled
	case errors.Is(err, libfido2.ErrNotFIDO2):
		sentinel = ErrNotFIDO2
	case errors.Is(err, libfido2.ErrNoCredentials):
		sentinel = ErrNoCredentials
	case errors.Is(err, libfido2.ErrNotAllowed), errors.Is(err, libfido2.ErrOperationDenied):
		sentinel = ErrNotAllowed
	case errors.Is(err, libfido2.ErrUnsupportedOption):
		sentinel = ErrUnsupported
	case errors.Is(err, libfido2.ErrTX), errors.Is(err, libfido2.ErrRX):
		sentinel = ErrRemoved
	case errors.As(err, &code):
		switch code.Code {
		case ctapUserActionTimeout:
			sentinel = ErrNoTouch
		case ctapPINBlocked, ctapUVBlocked:
			sentinel = ErrPINBlocked
		case ctapPINAuthInvalid:
			sentinel = ErrPINInvalid
		case ctapCredentialExcluded:
			sentinel = ErrExcluded
		case ctapUnsupportedExt, ctapUnsupportedAlg:
			sentinel = ErrUnsupported
		case ctapKeyStoreFull:
			sentinel = ErrKeyFull
		}
	}
	if sentinel == nil {
		// libfido2 reports a vanished node as an internal error at open.
		if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) {
			sentinel = ErrRemoved
		}
	}
	if sentinel == nil {
		return fmt.Errorf("%s on %s: %w", op, path, err)
	}
	return fmt.Errorf("%s on %s: %w (%w)", op, path, sentinel, err)
}
