package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"mfagate/mfa"
)

// problem is an RFC 9457 problem detail with the gateway's stable code.
type problem struct {
	Type         string          `json:"type"`
	Title        string          `json:"title"`
	Status       int             `json:"status"`
	Detail       string          `json:"detail"`
	Code         string          `json:"code"`
	AttemptsLeft *int            `json:"attempts_left,omitempty"`
	MinLength    int             `json:"min_length,omitempty"` // pin_too_short: the shortest PIN accepted
	Challenge    *challengeJSON  `json:"challenge,omitempty"`
	Signin       *selfSigninJSON `json:"signin,omitempty"` // no_session: how to get back in to the Security info page
	Lines        []lineJSON      `json:"lines,omitempty"`  // import_rejected: every refused line (users.go)
	retryAfter   int
}

func (p *problem) Error() string { return p.Code + ": " + p.Detail }

// API-level problem codes (the domain's are in package mfa).
const (
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeReasonRequired   = "reason_required"
	codeMalformedJSON    = "malformed_json"
	codeUnknownField     = "unknown_field"
	codeInvalidType      = "invalid_type"
	codeBodyTooLarge     = "body_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeNotFound         = "not_found"
	codeInternal         = "internal_error"
	codeStoreUnavailable = "store_unavailable"
	codeNotReady         = "not_ready"
	codeUnknownPhone     = "unknown_phone"
	codeNoCall           = "no_call"
	codeUnknownSession   = "unknown_session"
	codeSessionExpired   = "session_expired"
	codeSessionBusy      = "session_busy"
	codeUnknownDevice    = "unknown_device"
	codePINTooShort      = "pin_too_short"
)

func newProblem(status int, code, format string, args ...any) *problem {
	return &problem{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// domainStatus maps each refusal code to its HTTP status.
var domainStatus = map[mfa.Code]int{
	mfa.CodeInvalidUserID:        http.StatusBadRequest,
	mfa.CodeInvalidRequest:       http.StatusBadRequest,
	mfa.CodeInvalidCursor:        http.StatusBadRequest,
	mfa.CodeUnknownUser:          http.StatusNotFound,
	mfa.CodeUnknownMethod:        http.StatusNotFound,
	mfa.CodeUnknownChallenge:     http.StatusNotFound,
	mfa.CodeMethodNotAllowed:     http.StatusUnprocessableEntity,
	mfa.CodeUnsupportedKind:      http.StatusUnprocessableEntity,
	mfa.CodeInvalidPhone:         http.StatusUnprocessableEntity,
	mfa.CodeNotMobile:            http.StatusUnprocessableEntity,
	mfa.CodeRegionNotAllowed:     http.StatusUnprocessableEntity,
	mfa.CodeSlotTaken:            http.StatusConflict,
	mfa.CodeMethodNotConfirmed:   http.StatusConflict,
	mfa.CodeAlreadyConfirmed:     http.StatusConflict,
	mfa.CodeFIDOCannotBeDefault:  http.StatusUnprocessableEntity,
	mfa.CodeNoConfirmedMethod:    http.StatusConflict,
	mfa.CodeNoDefaultMethod:      http.StatusConflict,
	mfa.CodeNoTestSignin:         http.StatusConflict,
	mfa.CodeProofRequired:        http.StatusForbidden,
	mfa.CodeLastMethod:           http.StatusConflict,
	mfa.CodeInvalidCode:          http.StatusUnprocessableEntity,
	mfa.CodeInvalidCodeFormat:    http.StatusUnprocessableEntity,
	mfa.CodeReplayedCode:         http.StatusUnprocessableEntity,
	mfa.CodeChallengeExpired:     http.StatusGone,
	mfa.CodeChallengeLocked:      http.StatusConflict,
	mfa.CodeChallengeFinished:    http.StatusConflict,
	mfa.CodeChallengeNotApproved: http.StatusConflict,
	mfa.CodeChallengePending:     http.StatusConflict,
	mfa.CodeChallengeRedeemed:    http.StatusConflict,
	mfa.CodeWrongVerification:    http.StatusUnprocessableEntity,
	mfa.CodeRateLimited:          http.StatusTooManyRequests,
	mfa.CodeUserLocked:           http.StatusLocked,
	mfa.CodeMFAOff:               http.StatusConflict,
	mfa.CodeNoUsableMethod:       http.StatusConflict,
	mfa.CodePhoneBlocked:         http.StatusForbidden,
	mfa.CodeChannelNotPossible:   http.StatusUnprocessableEntity,
	mfa.CodeNoSender:             http.StatusServiceUnavailable,
	mfa.CodeInvalidAssertion:     http.StatusUnprocessableEntity,
	mfa.CodeUnknownJob:           http.StatusNotFound,
	mfa.CodeUnknownModem:         http.StatusNotFound,
	mfa.CodeCounterRegressed:     http.StatusForbidden,
	mfa.CodeTAPExpired:           http.StatusGone,
	mfa.CodeTAPUsed:              http.StatusGone,
	mfa.CodeTAPSigninOff:         http.StatusForbidden,
	mfa.CodeTAPCannotBeDefault:   http.StatusUnprocessableEntity,
	mfa.CodeNoTAP:                http.StatusNotFound,
	mfa.CodeInvalidFilter:        http.StatusBadRequest,
	mfa.CodeImportRejected:       http.StatusUnprocessableEntity,
}

// toProblem turns any handler error into a problem; errors that are not
// refusals become a 500 whose detail discloses nothing.
func toProblem(err error) (*problem, bool) {
	var p *problem
	if errors.As(err, &p) {
		return p, true
	}
	var e *mfa.Error
	if errors.As(err, &e) {
		status, ok := domainStatus[e.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		p := &problem{Status: status, Code: string(e.Code), Detail: e.Message, AttemptsLeft: e.AttemptsLeft}
		if e.Challenge != nil {
			c := challengeView(*e.Challenge)
			p.Challenge = &c
		}
		if e.RetryAfter > 0 {
			p.retryAfter = int(math.Ceil(e.RetryAfter.Seconds()))
		}
		return p, true
	}
	if errors.Is(err, mfa.ErrUnavailable) {
		p := newProblem(http.StatusServiceUnavailable, codeStoreUnavailable, "the gateway cannot reach its database right now; nothing was changed: retry shortly")
		p.retryAfter = 1
		return p, false
	}
	return newProblem(http.StatusInternalServerError, codeInternal, "the gateway failed to handle the request; the error is in its log"), false
}

func writeProblem(w http.ResponseWriter, p *problem) {
	p.Type = "urn:mfagate:problem:" + p.Code
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="mfagate"`)
	}
	if p.Status == http.StatusTooManyRequests || p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(max(p.retryAfter, 1)))
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
