package sqlite

import (
	"testing"

	"mfagate/mfa"
	"mfagate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mfa.Store { return open(t) })
}
