package sqlite

import (
	"testing"

	"mfagate/mfa"
	"mfagate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mfa.Store { return open(t) })
}

func TestReseal(t *testing.T) {
	storetest.RunReseal(t, func(t *testing.T) storetest.ResealStore { return open(t) })
}
