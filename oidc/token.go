package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mfagate/mfa"
)

// ACRPossessionOrInherence is the acr mfagate answers by default: every
// method it verifies is a possession factor (the reference, "Supported acr
// claims").
const ACRPossessionOrInherence = "possessionorinherence"

// SupportedACRs lists the acr values a possession factor satisfies, the
// default first.
func SupportedACRs() []string {
	return []string{ACRPossessionOrInherence, "possession", "knowledgeorpossession", "knowledgeorpossessionorinherence"}
}

// AMR values (the reference, "Supported amr claims"), one per way mfagate
// verifies.
const (
	AMROTP  = "otp"  // authenticator-app code
	AMRSMS  = "sms"  // code sent by SMS
	AMRTel  = "tel"  // voice call
	AMRFIDO = "fido" // security key or passkey
)

// AMR returns the amr value for a verification by a method of kind (and,
// for a phone, the channel the challenge went by).
func AMR(kind mfa.Kind, channel mfa.Channel) (string, error) {
	switch {
	case kind == mfa.KindTOTP:
		return AMROTP, nil
	case kind == mfa.KindFIDO:
		return AMRFIDO, nil
	case kind == mfa.KindPhone && channel == mfa.ChannelSMS:
		return AMRSMS, nil
	case kind == mfa.KindPhone && channel == mfa.ChannelVoice:
		return AMRTel, nil
	}
	return "", fmt.Errorf("oidc: no amr for method kind %q channel %q", kind, channel)
}

// Grant is what the sign-in established, to be stated in an id_token.
type Grant struct {
	ClientID string // aud
	Subject  string // the hint's sub; Entra requires it unchanged
	OID, TID string // copied from the hint when present
	Nonce    string // the request's nonce, echoed
	ACR      string // AuthRequest.ACR; "" means ACRPossessionOrInherence
	AMR      string // one of the AMR constants
	AuthTime time.Time
}

// idClaims are the id_token's claims. amr is an array with one element and
// acr a single string: the reference ("Microsoft Entra ID processing of
// the provider response") allows only one of each.
type idClaims struct {
	Issuer   string   `json:"iss"`
	Audience string   `json:"aud"`
	Subject  string   `json:"sub"`
	OID      string   `json:"oid,omitempty"`
	TID      string   `json:"tid,omitempty"`
	Nonce    string   `json:"nonce"`
	IssuedAt int64    `json:"iat"`
	NotBef   int64    `json:"nbf"`
	Expiry   int64    `json:"exp"`
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
}

// Minter signs id_tokens with the current key.
type Minter struct {
	Issuer   string
	Keys     *KeyManager
	TokenTTL time.Duration // at most 10 minutes
}

// Mint returns a signed id_token (compact JWS, RS256, kid of the current
// key) for g.
func (mt *Minter) Mint(ctx context.Context, g Grant) (string, error) {
	switch {
	case g.ClientID == "" || g.Subject == "" || g.Nonce == "":
		return "", errors.New("oidc: a grant needs a client, a subject and a nonce")
	case !slices.Contains([]string{AMROTP, AMRSMS, AMRTel, AMRFIDO}, g.AMR):
		return "", fmt.Errorf("oidc: amr %q is not one mfagate verifies", g.AMR)
	case mt.TokenTTL <= 0 || mt.TokenTTL > 10*time.Minute:
		return "", fmt.Errorf("oidc: token lifetime %s is not within (0, 10m]", mt.TokenTTL)
	}
	acr := g.ACR
	if acr == "" {
		acr = ACRPossessionOrInherence
	}
	if !slices.Contains(SupportedACRs(), acr) {
		return "", fmt.Errorf("oidc: acr %q is not one a possession factor satisfies", acr)
	}
	kid, priv, err := mt.Keys.signer(ctx)
	if err != nil {
		return "", err
	}
	now := mt.Keys.opt.Now()
	c := idClaims{
		Issuer: mt.Issuer, Audience: g.ClientID, Subject: g.Subject, OID: g.OID, TID: g.TID, Nonce: g.Nonce,
		IssuedAt: now.Unix(), NotBef: now.Unix(), Expiry: now.Add(mt.TokenTTL).Unix(),
		ACR: acr, AMR: []string{g.AMR},
	}
	if !g.AuthTime.IsZero() {
		c.AuthTime = g.AuthTime.Unix()
	}
	payload, err := jsonMarshal(c)
	if err != nil {
		return "", err
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign id_token: %w", err)
	}
	return jws.CompactSerialize()
}
