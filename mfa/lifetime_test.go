package mfa_test

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"mfagate/config"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

// configTexts renders the shipped default templates, as the daemon does.
type configTexts struct{ m config.Messages }

func (t configTexts) SMS(lang string, v map[string]string) string {
	return config.Render(t.m.For(lang).SMS, v)
}
func (t configTexts) Voice(lang string, nm bool, v map[string]string) string {
	return config.Render(t.m.For(lang).VoicePound, v)
}
func (t configTexts) DefaultLanguage() string { return t.m.DefaultLanguage }

// TestSMSStatesCodeLifetime checks what the text promises against how long
// the code is accepted: the configured lifetime, floored, even though the
// modem claims the job a moment after the code was issued; a job that
// waited in the outbox states what is left.
func TestSMSStatesCodeLifetime(t *testing.T) {
	msgs := config.Default().Messages
	secs := msgs
	secs.EN.SMS = "{issuer}: code {code}, valid {seconds} s."
	secs.JA.SMS = "【{issuer}】確認コード：{code}（{seconds}秒間有効）"
	for _, tc := range []struct {
		ttl, wait time.Duration
		texts     config.Messages
		lang      string
		want      string
	}{
		{5 * time.Minute, time.Second, msgs, "en", "It expires in 5 minutes."},
		{5 * time.Minute, time.Second, msgs, "ja", "（5分間有効）"},
		{10 * time.Minute, 3 * time.Second, msgs, "ja", "（10分間有効）"},
		{90 * time.Second, time.Second, msgs, "en", "It expires in 1 minutes."},
		{150 * time.Second, 0, msgs, "ja", "（2分間有効）"},
		{45 * time.Second, time.Second, secs, "en", "valid 45 s."},
		{30 * time.Second, 0, secs, "ja", "（30秒間有効）"},
		// Waited 90 s in the outbox: 3m30s are left, stated as 3.
		{5 * time.Minute, 90 * time.Second, msgs, "en", "It expires in 3 minutes."},
		{5 * time.Minute, 90 * time.Second, msgs, "ja", "（3分間有効）"},
	} {
		t.Run(tc.ttl.String()+"/"+tc.wait.String()+"/"+tc.lang, func(t *testing.T) {
			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfa.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			keys, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
			clock := mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
			svc, err := mfa.New(mfa.Options{Store: db, Keys: keys, Node: "a", Now: clock.Now, Policy: mfa.Policy{
				CodeLength: 6, CodeTTL: tc.ttl, MaxAttempts: 5, MaxConsecutiveFailures: 100,
				PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
				UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
				TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
				Messages: configTexts{tc.texts},
			}})
			if err != nil {
				t.Fatal(err)
			}
			snd := mfatest.NewSender("modem-a")
			snd.Service = svc
			svc.SetSender(snd)
			_, err = svc.AddMethod(t.Context(), mfa.Actor{Name: "idp"}, "0000000001", mfa.AddMethodRequest{
				Kind: mfa.KindPhone, Slot: mfa.SlotMobile, Phone: "090-1234-5678", Language: tc.lang})
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(tc.wait)
			o, ok, err := snd.Take(t.Context())
			if err != nil || !ok {
				t.Fatalf("take: %v %v", ok, err)
			}
			if !bytes.Contains([]byte(o.Text), []byte(tc.want)) {
				t.Fatalf("text %q does not say %q", o.Text, tc.want)
			}
		})
	}
}
