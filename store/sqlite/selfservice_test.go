package sqlite

import (
	"testing"

	"mfagate/selfservice"
	"mfagate/store/storetest"
)

func TestSelfService(t *testing.T) {
	storetest.RunSelfService(t, func(t *testing.T) selfservice.Store { return open(t) })
}
