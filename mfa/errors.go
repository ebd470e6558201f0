package mfa

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable machine-readable reason for refusing a request. The API
// turns it into the problem+json `code` and picks the HTTP status from it.
type Code string

// Refusal codes. They are part of the API contract: never rename one.
const (
	CodeInvalidUserID        Code = "invalid_user_id"
	CodeInvalidRequest       Code = "invalid_request"
	CodeUnknownUser          Code = "unknown_user"
	CodeUnknownMethod        Code = "unknown_method"
	CodeUnknownChallenge     Code = "unknown_challenge"
	CodeMethodNotAllowed     Code = "method_not_allowed_for_signin"
	CodeUnsupportedKind      Code = "unsupported_method_kind"
	CodeInvalidPhone         Code = "invalid_phone"
	CodeNotMobile            Code = "not_a_mobile_number"
	CodeRegionNotAllowed     Code = "region_not_allowed"
	CodeSlotTaken            Code = "slot_taken"
	CodeMethodNotConfirmed   Code = "method_not_confirmed"
	CodeAlreadyConfirmed     Code = "method_already_confirmed"
	CodeFIDOCannotBeDefault  Code = "fido_cannot_be_default"
	CodeNoConfirmedMethod    Code = "no_confirmed_method"
	CodeNoDefaultMethod      Code = "no_default_method"
	CodeNoTestSignin         Code = "no_test_signin"
	CodeProofRequired        Code = "proof_required"
	CodeLastMethod           Code = "last_method"
	CodeInvalidCode          Code = "invalid_code"
	CodeInvalidCodeFormat    Code = "invalid_code_format"
	CodeReplayedCode         Code = "replayed_code"
	CodeChallengeExpired     Code = "challenge_expired"
	CodeChallengeLocked      Code = "challenge_locked"
	CodeChallengeFinished    Code = "challenge_finished"
	CodeChallengeNotApproved Code = "challenge_not_approved"
	CodeChallengePending     Code = "challenge_pending"
	CodeChallengeRedeemed    Code = "challenge_redeemed"
	CodeWrongVerification    Code = "wrong_verification_kind"
	CodeRateLimited          Code = "rate_limited"
	CodeUserLocked           Code = "user_locked"
	CodePhoneBlocked         Code = "phone_blocked"
	CodeChannelNotPossible   Code = "channel_not_possible"
	CodeNoSender             Code = "phone_delivery_unavailable"
	CodeInvalidAssertion     Code = "invalid_assertion"
	CodeUnknownJob           Code = "unknown_job"
	CodeUnknownModem         Code = "unknown_modem"
	CodeCounterRegressed     Code = "sign_counter_regressed"
	CodeMFAOff               Code = "mfa_off"
	CodeNoUsableMethod       Code = "no_usable_method"
	CodeTAPExpired           Code = "tap_expired"
	CodeTAPUsed              Code = "tap_used"
	CodeTAPSigninOff         Code = "tap_signin_disabled"
	CodeTAPCannotBeDefault   Code = "tap_cannot_be_default"
	CodeNoTAP                Code = "no_tap"
	CodeInvalidCursor        Code = "invalid_cursor"
	CodeInvalidFilter        Code = "invalid_filter"  // a user listing's filter (users.go)
	CodeImportRejected       Code = "import_rejected" // an import with bad lines: nothing imported
)

// Error is a refusal with a stable code and a message a person can act on.
type Error struct {
	Code         Code
	Message      string
	AttemptsLeft *int          // invalid_code: attempts left on the challenge
	RetryAfter   time.Duration // rate_limited: when to try again
	Challenge    *Challenge    // the challenge as it now stands, when there is one

	audited bool // the transaction that refused also recorded an audit event
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the refusal code of err, or "" when err is not a refusal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
