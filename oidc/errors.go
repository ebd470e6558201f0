package oidc

import "errors"

// HintReason names why an id_token_hint was refused; it is fit for audit
// rows and metric labels.
type HintReason string

// Hint refusal reasons.
const (
	HintMalformed         HintReason = "malformed"           // not a compact JWS with a JSON payload
	HintBadAlgorithm      HintReason = "bad_algorithm"       // alg other than RS256 (none, HS256: key confusion)
	HintUnknownKID        HintReason = "unknown_kid"         // the hint issuer does not publish the kid, even after a refetch
	HintBadSignature      HintReason = "bad_signature"       // the signature does not verify with the kid's key
	HintWrongIssuer       HintReason = "wrong_issuer"        // iss is not the client's hint_issuer
	HintWrongAudience     HintReason = "wrong_audience"      // aud does not contain the client ID
	HintStale             HintReason = "stale"               // issued longer ago than the acceptance window
	HintNotYetValid       HintReason = "not_yet_valid"       // iat or nbf in the future beyond the clock skew
	HintMissingClaim      HintReason = "missing_claim"       // sub, iat, exp or the user claim is absent
	HintUserClaimMismatch HintReason = "user_claim_mismatch" // the user claim does not match user_pattern
	HintKeysUnavailable   HintReason = "keys_unavailable"    // the hint issuer's keys could not be fetched
)

// HintError is a refused id_token_hint. Detail never contains the token.
// errors.Is(err, ErrHintStale) and the like compare the Reason.
type HintError struct {
	Reason HintReason
	Detail string
	Err    error // underlying cause, if any
}

func (e *HintError) Error() string {
	s := "id_token_hint refused: " + string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *HintError) Unwrap() error { return e.Err }

// Is reports whether target is a *HintError with the same Reason.
func (e *HintError) Is(target error) bool {
	t, ok := target.(*HintError)
	return ok && t.Reason == e.Reason
}

// Sentinels for errors.Is.
var (
	ErrHintMalformed         = &HintError{Reason: HintMalformed}
	ErrHintBadAlgorithm      = &HintError{Reason: HintBadAlgorithm}
	ErrHintUnknownKID        = &HintError{Reason: HintUnknownKID}
	ErrHintBadSignature      = &HintError{Reason: HintBadSignature}
	ErrHintWrongIssuer       = &HintError{Reason: HintWrongIssuer}
	ErrHintWrongAudience     = &HintError{Reason: HintWrongAudience}
	ErrHintStale             = &HintError{Reason: HintStale}
	ErrHintNotYetValid       = &HintError{Reason: HintNotYetValid}
	ErrHintMissingClaim      = &HintError{Reason: HintMissingClaim}
	ErrHintUserClaimMismatch = &HintError{Reason: HintUserClaimMismatch}
	ErrHintKeysUnavailable   = &HintError{Reason: HintKeysUnavailable}
)

func hintErr(r HintReason, detail string, err error) *HintError {
	return &HintError{Reason: r, Detail: detail, Err: err}
}

// Key store and manager errors.
var (
	// ErrKeyConflict is what KeyStore.InsertKey returns when a key with the
	// same Seq exists: another node created it first.
	ErrKeyConflict = errors.New("oidc: a signing key with this sequence number exists")
	// ErrNoSigningKey means no key may sign yet (the store holds none that
	// has reached its activation time).
	ErrNoSigningKey = errors.New("oidc: no signing key is active")
)
