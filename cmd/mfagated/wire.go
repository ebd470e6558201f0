package main

import (
	"mfagate/api"
	"mfagate/config"
	"mfagate/mfa"
)

// policyFrom turns the configuration into the domain's policy.
func policyFrom(cfg *config.Config) mfa.Policy {
	p := cfg.Policy
	return mfa.Policy{
		CodeLength:             p.CodeLength,
		CodeTTL:                p.CodeTTL.Duration,
		MaxAttempts:            p.MaxAttempts,
		MaxConsecutiveFailures: p.MaxConsecutiveFailures,
		PhoneChallengesPerUser: p.PhoneChallengesPerUser,
		PhoneChallengeWindow:   p.PhoneChallengeWindow.Duration,
		ActivationDelay:        p.ActivationDelay.Duration,
		ProofMaxAge:            p.ProofMaxAge.Duration,
		UserID:                 p.UserID,
		DefaultRegion:          p.DefaultRegion,
		AllowedRegions:         p.AllowedRegions,
		VoiceNumberMatch:       p.VoiceConfirmation == config.VoiceNumberMatch,
		TOTP: mfa.TOTPParams{
			Issuer: cfg.TOTP.Issuer,
			Digits: cfg.TOTP.Digits,
			Period: cfg.TOTP.Period.Duration,
			Skew:   cfg.TOTP.Skew,
		},
		Messages: messages{cfg.Messages},
		TAP: mfa.TAPPolicy{
			MaxLifetime: p.TAPMaxLifetime.Duration,
			AllowedFor:  p.TAPAllowedFor,
			Signin:      p.TAPSignin,
		},
	}
}

// messages renders the configured templates for the domain.
type messages struct{ m config.Messages }

func (t messages) SMS(lang string, vars map[string]string) string {
	return config.Render(t.m.For(lang).SMS, vars)
}

func (t messages) Voice(lang string, numberMatch bool, vars map[string]string) string {
	l := t.m.For(lang)
	if numberMatch {
		return config.Render(l.VoiceNumberMatch, vars)
	}
	return config.Render(l.VoicePound, vars)
}

func (t messages) DefaultLanguage() string { return t.m.DefaultLanguage }

// clientsFrom turns the configured API clients into the API's.
func clientsFrom(cfg *config.Config) []api.Client {
	out := make([]api.Client, 0, len(cfg.API.Clients))
	for _, c := range cfg.API.Clients {
		roles := make([]api.Role, len(c.Roles))
		for i, r := range c.Roles {
			roles[i] = api.Role(r)
		}
		// A client changing over from one token to the next holds
		// several: each is a Client of the same name and roles.
		for _, h := range c.TokenHashes {
			out = append(out, api.Client{Name: c.Name, TokenHash: h, Roles: roles})
		}
	}
	return out
}
