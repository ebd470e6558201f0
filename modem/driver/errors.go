package driver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var (
	// ErrClosed is returned by every method once the driver has stopped,
	// either because Close was called or because the port was lost.
	ErrClosed = errors.New("modem driver closed")

	// ErrPortLost is the cause reported by Err after the serial port returned
	// EOF or an I/O error (typically a USB unplug).
	ErrPortLost = errors.New("modem port lost")

	// ErrTimeout means the modem did not complete a command in time. It is
	// transient: the pool may try another modem.
	ErrTimeout = errors.New("modem command timed out")

	// ErrBadNumber means a destination is not an E.164 number. It is
	// permanent.
	ErrBadNumber = errors.New("invalid destination number")

	// ErrMessageTooLong means a text needs more SMS parts than MaxSMSParts.
	ErrMessageTooLong = errors.New("message too long")

	// ErrUnsupported means the vendor profile cannot do what was asked (for
	// example play a prompt on the generic profile).
	ErrUnsupported = errors.New("not supported by modem profile")

	// ErrMalformed means the modem answered with a line the driver could not
	// parse.
	ErrMalformed = errors.New("malformed modem response")

	// ErrCallActive means a call was requested while another call is up.
	ErrCallActive = errors.New("a call is already active")
)

// CMSError is a +CMS ERROR (3GPP TS 27.005 §3.2.5) returned by the modem,
// typically from AT+CMGS.
type CMSError struct {
	Code int    // numeric code; -1 if the modem sent a text
	Text string // the raw value after "+CMS ERROR:"
}

func (e *CMSError) Error() string {
	if e.Code < 0 {
		return "+CMS ERROR: " + e.Text
	}
	return fmt.Sprintf("+CMS ERROR: %d", e.Code)
}

// transientCMS are the CMS codes worth retrying on another modem: network out
// of order, temporary failure, congestion, resources unavailable, no network
// service, network timeout, unknown error (ARCHITECTURE §4), plus ME failure
// (300) and SIM busy (314), which reference/modem-at.md §4.3 classes as
// retryable.
var transientCMS = map[int]bool{38: true, 41: true, 42: true, 47: true, 300: true, 314: true, 331: true, 332: true, 500: true}

// Transient reports whether the failure may succeed on another attempt or
// another modem. Bad numbers, barring and SIM/SMSC configuration errors are
// permanent. A textual (non-numeric) error is treated as transient because
// the driver asks for numeric errors and a text means the modem is confused.
func (e *CMSError) Transient() bool {
	if e.Code < 0 {
		return true
	}
	return transientCMS[e.Code]
}

// CMEError is a +CME ERROR (3GPP TS 27.007 §9.2) returned by the modem.
type CMEError struct {
	Code int    // numeric code; -1 if the modem sent a text
	Text string // the raw value after "+CME ERROR:"
}

func (e *CMEError) Error() string {
	if e.Code < 0 {
		return "+CME ERROR: " + e.Text
	}
	return fmt.Sprintf("+CME ERROR: %d", e.Code)
}

// transientCME: phone failure, SIM busy, no network service, network
// timeout, unknown.
var transientCME = map[int]bool{0: true, 14: true, 30: true, 31: true, 100: true}

// Transient reports whether the failure may succeed on another attempt.
func (e *CMEError) Transient() bool {
	if e.Code < 0 {
		return true
	}
	return transientCME[e.Code]
}

// Transient reports whether err is worth retrying, on this or another modem:
// timeouts, a lost or closed port, and transient CMS/CME codes.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrClosed) || errors.Is(err, ErrPortLost) {
		return true
	}
	var cms *CMSError
	if errors.As(err, &cms) {
		return cms.Transient()
	}
	var cme *CMEError
	if errors.As(err, &cme) {
		return cme.Transient()
	}
	return false
}

func newCMSError(v string) *CMSError {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return &CMSError{Code: n, Text: v}
	}
	return &CMSError{Code: -1, Text: v}
}

func newCMEError(v string) *CMEError {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return &CMEError{Code: n, Text: v}
	}
	return &CMEError{Code: -1, Text: v}
}
