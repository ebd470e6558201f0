package store

import "time"

// KioskSession is a kiosk enrollment session as the backends keep it, so
// that every gateway node sharing the database can serve it (package
// kiosk). The session's ID is the kiosk page's credential: only its digest
// is stored. Data is the session's state as JSON, which holds no PIN, code,
// secret or hash; methods and challenges appear in it by ID only.
type KioskSession struct {
	IDHash    string    // hex SHA-256 of the session ID
	User      string    // the user the session acts for
	Node      string    // the node running the session's operation; "" when none runs
	Data      []byte    // the session state, JSON
	Seq       int64     // increases with every change; a write needs a higher Seq than the stored one
	ExpiresAt time.Time // the session ends then, on every node
	UpdatedAt time.Time // when Seq last advanced
}
