package sqlite

import (
	"testing"

	"mfagate/store/storetest"
)

func TestOIDC(t *testing.T) {
	storetest.RunOIDC(t, func(t *testing.T) storetest.OIDCStore { return open(t) })
}
