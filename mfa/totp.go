package mfa

import (
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTPParams are the RFC 6238 parameters every authenticator app understands.
type TOTPParams struct {
	Issuer string
	Digits int
	Period time.Duration
	Skew   int
}

// TOTPEnrollment is what a user needs once, to add the account to an app.
type TOTPEnrollment struct {
	Secret string // base32, shown for manual entry
	URI    string // otpauth://totp/…, for the app to scan (the API draws it as a QR code)
}

func (p TOTPParams) digits() otp.Digits {
	if p.Digits == 8 {
		return otp.DigitsEight
	}
	return otp.DigitsSix
}

// newTOTP creates a fresh 160-bit seed for account and the enrollment data.
func newTOTP(p TOTPParams, account string) ([]byte, TOTPEnrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      p.Issuer,
		AccountName: account,
		Period:      uint(p.Period / time.Second),
		Digits:      p.digits(),
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, TOTPEnrollment{}, fmt.Errorf("generate totp key: %w", err)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(key.Secret())
	if err != nil {
		return nil, TOTPEnrollment{}, fmt.Errorf("decode generated seed: %w", err)
	}
	return seed, TOTPEnrollment{Secret: key.Secret(), URI: key.URL()}, nil
}

// matchTOTP checks code against the seed at now within ±skew steps and
// returns the matching time step. Every candidate is computed and compared
// in constant time, so timing does not reveal which step matched.
func matchTOTP(p TOTPParams, seed []byte, code string, now time.Time) (step int64, ok bool) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed)
	period := int64(p.Period / time.Second)
	current := now.Unix() / period
	opts := hotp.ValidateOpts{Digits: p.digits(), Algorithm: otp.AlgorithmSHA1}
	for d := -int64(p.Skew); d <= int64(p.Skew); d++ {
		s := current + d
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}
