package mfa

import "testing"

// FuzzParseOffer: only dot-joined challenge IDs are offers.
func FuzzParseOffer(f *testing.F) {
	f.Add("c_aaaaaaaaaaaaaaaaaaaaaaaaaa.c_bbbbbbbbbbbbbbbbbbbbbbbbbb")
	f.Add("01294272308714424797")
	f.Add("c_aaaaaaaaaaaaaaaaaaaaaaaaaa..")
	f.Add(newID("c_"))
	f.Fuzz(func(t *testing.T, s string) {
		ids, ok := ParseOffer(s)
		if !ok {
			return
		}
		if OfferID(ids) != s || len(ids) > MaxOffered {
			t.Fatalf("%q parsed as %v", s, ids)
		}
		for _, id := range ids {
			if !challengeIDRE.MatchString(id) {
				t.Fatalf("%q holds %q", s, id)
			}
		}
	})
}

func TestNewChallengeIDsAreOffers(t *testing.T) {
	a, b := newID("c_"), newID("c_")
	if ids, ok := ParseOffer(OfferID([]string{a, b})); !ok || len(ids) != 2 || ids[0] != a || ids[1] != b {
		t.Fatalf("an offer of two new challenge IDs does not parse: %v %v", ids, ok)
	}
	if _, ok := ParseOffer(OfferID([]string{a, b, a})); ok {
		t.Fatal("an offer of three challenges parsed")
	}
}
