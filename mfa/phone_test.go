package mfa_test

import (
	"testing"

	"mfagate/mfa"
)

// TestJapaneseSpecialPrefixes pins what a user registering each kind of
// Japanese number is told, for SMS and for voice.
func TestJapaneseSpecialPrefixes(t *testing.T) {
	const (
		ok        = mfa.Code("")
		refused   = mfa.CodeInvalidPhone
		notMobile = mfa.CodeNotMobile
	)
	for _, tc := range []struct {
		name, phone string
		sms, voice  mfa.Code
	}{
		{"090 mobile", "090-1234-5678", ok, ok},
		{"080 mobile", "080-1234-5678", ok, ok},
		{"070 mobile", "070-1234-5678", ok, ok},
		{"03 landline", "03-1234-5678", notMobile, ok},
		// IP phones take calls; no Japanese 050 service receives SMS.
		{"050 IP phone", "050-1234-5678", notMobile, ok},
		{"0120 toll-free", "0120-123-456", refused, refused},
		{"0800 toll-free", "0800-123-4567", refused, refused},
		{"0570 Navi Dial (shared cost)", "0570-123-456", refused, refused},
		{"0990 premium rate", "0990-123-456", refused, refused},
		// 020 is pagers and M2M/IoT SIMs: no person answers.
		{"020 pager/M2M", "020-4123-4567", refused, refused},
		{"+81 570 in E.164", "+81570012345", refused, refused},
	} {
		for _, ch := range []struct {
			channel mfa.Channel
			want    mfa.Code
		}{{mfa.ChannelSMS, tc.sms}, {mfa.ChannelVoice, tc.voice}} {
			t.Run(tc.name+"/"+string(ch.channel), func(t *testing.T) {
				c := newCluster(t)
				_, err := c.a.AddMethod(t.Context(), mfa.Actor{Name: "idp"}, "0000000001", mfa.AddMethodRequest{
					Kind: mfa.KindPhone, Slot: mfa.SlotOffice, Phone: tc.phone, Channel: ch.channel})
				if got := mfa.CodeOf(err); got != ch.want {
					t.Fatalf("add %s by %s: %v (code %q), want code %q", tc.phone, ch.channel, err, got, ch.want)
				}
				if err != nil {
					if v, err := c.a.GetUser(t.Context(), "0000000001"); err != nil || len(v.Methods) != 0 {
						t.Fatalf("a refused phone was stored: %+v (%v)", v.Methods, err)
					}
				}
			})
		}
	}
}
