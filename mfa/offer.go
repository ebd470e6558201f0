package mfa

import (
	"regexp"
	"strings"
)

// An offer is the set of challenges a front door offered together in one
// round (privacyIDEA's transaction, RADIUS's State): their IDs joined by
// dots. Any node can take the answer and no table is needed. Challenge IDs
// carry 128 random bits (newID) and every use checks that they belong to the
// user (VerifyCode, Redeem, Retire), so an offer ID can be neither guessed
// nor used for someone else.

// MaxOffered bounds the challenges of one offer: the started method and at
// most one security key.
const MaxOffered = 2

var challengeIDRE = regexp.MustCompile(`^c_[a-z2-7]{26}$`)

// OfferID names the challenges ids as one offer.
func OfferID(ids []string) string { return strings.Join(ids, ".") }

// ParseOffer returns the challenge IDs of an offer ID, or false when s is
// not one (outside input: a plugin's transaction_id, a gateway's State).
func ParseOffer(s string) ([]string, bool) {
	ids := strings.Split(s, ".")
	if len(ids) > MaxOffered {
		return nil, false
	}
	for _, id := range ids {
		if !challengeIDRE.MatchString(id) {
			return nil, false
		}
	}
	return ids, true
}
