package modem

import (
	"time"

	"mfagate/mfa"
)

// Modem states as GET /v1/modems shows them.
const (
	StateUp           = "up"           // registered, SIM ready: takes jobs
	StateInitialising = "initialising" // port open, modem being set up or checked
	StateDown         = "down"         // port missing, not answering, no SIM or no network
)

// Status is one modem's state, published by its worker after every change.
// Readers (API, metrics) never talk to the hardware.
type Status struct {
	ID           string
	Profile      string
	Port         string
	State        string
	Busy         bool   // a job is in flight
	Job          string // the outbox job in flight, "" when idle
	Channels     []mfa.Channel
	Model        string // AT+CGMM, as the modem names itself (SIMCOM_SIM7600G-H)
	IMEI         string
	ICCID        string
	Operator     string
	SignalDBm    int
	Registration string
	SentToday    int
	DailyCap     int
	LastError    string
	Since        time.Time // when State last changed
	// Totals since start.
	SMSSent, SMSFailed, Calls, Reopens int64
}
