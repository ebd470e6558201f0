package postgres

import (
	"testing"

	"mfagate/store/storetest"
)

func TestKioskSessions(t *testing.T) {
	storetest.RunKiosk(t, func(t *testing.T) storetest.KioskStore { return open(t) })
}
