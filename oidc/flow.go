package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"
)

// Flow is one authorization between the hint POST and the final form POST:
// what the answer needs, bound to the browser that started it by a secret
// kept in a cookie (only its hash is stored).
type Flow struct {
	ID          string // random, URL-safe; names the flow in the page's URLs
	ClientID    string
	RedirectURI string
	Nonce       string
	State       string
	ACR         string
	AMRValues   []string
	Subject     string // hint sub
	OID, TID    string
	User        string // mfagate user ID
	Created     time.Time
	Expires     time.Time // Created + FlowTTL
	BindingHash []byte    // SHA-256 of the browser-binding secret
	Challenge   string    // the mfa challenge this flow started last; only it can answer
	Consumed    bool      // set once an answer was sent: single use
}

// FlowTTL is how long a flow lives: Entra abandons the sign-in about 10
// minutes after redirecting to the provider.
const FlowTTL = 10 * time.Minute

// FlowStore keeps flows. Consume must be atomic across nodes (UPDATE …
// SET consumed = true WHERE id = ? AND NOT consumed), so that one flow
// yields at most one answer.
type FlowStore interface {
	// CreateFlow stores a new flow; an existing ID is an error, never
	// overwritten (an answered flow must not come back unanswered).
	CreateFlow(ctx context.Context, f Flow) error
	// Flow returns the flow with id, or ErrFlowNotFound.
	Flow(ctx context.Context, id string) (Flow, error)
	// ConsumeFlow marks the flow consumed, or returns ErrFlowConsumed if it
	// already was (ErrFlowNotFound if there is none).
	ConsumeFlow(ctx context.Context, id string) error
	// SetFlowChallenge records the challenge the flow's page started (a
	// new one replaces the last: "use a different verification option").
	// It returns ErrFlowConsumed for an answered flow and ErrFlowNotFound
	// when there is none.
	SetFlowChallenge(ctx context.Context, id, challenge string) error
	// DeleteExpiredFlows removes flows that expired before t.
	DeleteExpiredFlows(ctx context.Context, t time.Time) (int, error)
}

// Flow errors.
var (
	ErrFlowNotFound = errors.New("oidc: no such sign-in flow")
	ErrFlowConsumed = errors.New("oidc: the sign-in flow was already answered")
	ErrFlowExpired  = errors.New("oidc: the sign-in flow expired")
	ErrFlowBinding  = errors.New("oidc: the sign-in flow belongs to another browser")
)

// NewFlow returns a flow for a verified request and hint, and the
// browser-binding secret for the caller to set as a cookie (HttpOnly,
// SameSite=Strict, Secure under https): the answer to Entra's cross-site
// POST sets it, and only the sign-in page's own same-site requests read it.
func NewFlow(req *AuthRequest, h *Hint, now time.Time) (Flow, string) {
	secret := randomToken()
	sum := sha256.Sum256([]byte(secret))
	return Flow{
		ID: randomToken(), ClientID: req.Client.ID, RedirectURI: req.RedirectURI, Nonce: req.Nonce, State: req.State,
		ACR: req.ACR, AMRValues: req.AMRValues, Subject: h.Subject, OID: h.ObjectID, TID: h.TenantID, User: h.User,
		Created: now, Expires: now.Add(FlowTTL), BindingHash: sum[:],
	}, secret
}

// Check reports whether the flow may still be answered by the browser
// holding secret at now.
func (f Flow) Check(secret string, now time.Time) error {
	sum := sha256.Sum256([]byte(secret))
	switch {
	case subtle.ConstantTimeCompare(sum[:], f.BindingHash) != 1:
		return ErrFlowBinding
	case f.Consumed:
		return ErrFlowConsumed
	case !now.Before(f.Expires):
		return ErrFlowExpired
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
