package mfa

import "time"

// Kind is what a verification method is.
type Kind string

// Method kinds. AppPassword and Email exist only to be refused by name:
// the setup guide lists them, but they cannot verify a sign-in.
const (
	KindTOTP        Kind = "totp"
	KindPhone       Kind = "phone"
	KindFIDO        Kind = "fido"
	KindTAP         Kind = "tap" // a Temporary Access Pass, issued by staff (tap.go)
	KindAppPassword Kind = "app_password"
	KindEmail       Kind = "email"
)

// Slot is which of a user's phones a phone method is.
type Slot string

// Phone slots: one number per slot.
const (
	SlotMobile    Slot = "mobile"
	SlotAlternate Slot = "alternate"
	SlotOffice    Slot = "office"
)

// Channel is how a phone challenge reaches the user.
type Channel string

// Phone channels.
const (
	ChannelSMS   Channel = "sms"
	ChannelVoice Channel = "voice"
)

// State is a user's MFA state.
type State string

// MFA states: off → pending (applied) → active (after the activation delay).
const (
	StateOff     State = "off"
	StatePending State = "pending"
	StateActive  State = "active"
)

// Purpose says why a challenge was created.
type Purpose string

// Challenge purposes. PurposeConfirm challenges are created by the gateway
// itself to confirm a newly registered phone; they never count as a sign-in.
const (
	PurposeSignin  Purpose = "signin"
	PurposeTest    Purpose = "test"
	PurposeProof   Purpose = "proof"
	PurposeConfirm Purpose = "confirm"
)

// Status is a challenge's place in its state machine (ARCHITECTURE §3).
type Status string

// Challenge statuses. Approved, denied, expired, failed and locked are final.
const (
	StatusCreated   Status = "created"
	StatusQueued    Status = "queued"
	StatusSending   Status = "sending"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusCalling   Status = "calling"
	StatusAnswered  Status = "answered"
	StatusApproved  Status = "approved"
	StatusDenied    Status = "denied"
	StatusNoAnswer  Status = "no_answer"
	StatusBusy      Status = "busy"
	StatusExpired   Status = "expired"
	StatusFailed    Status = "failed"
	StatusLocked    Status = "locked"
)

// Final reports whether no further transition is possible.
func (s Status) Final() bool {
	switch s {
	case StatusApproved, StatusDenied, StatusExpired, StatusFailed, StatusLocked,
		StatusNoAnswer, StatusBusy:
		return true
	}
	return false
}

// User is the stored record of one account. A user who never registered
// anything has no record; GetUser answers with a zero User in state off.
type User struct {
	ID                  string
	State               State
	ActivatesAt         time.Time // set while pending
	LastTestSigninAt    time.Time
	LastMethodChangeAt  time.Time
	DefaultMethod       string
	ConsecutiveFailures int
	PhoneBlocked        bool // set by a fraud report; cleared by an admin
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// EffectiveState is the state at now: a pending user whose activation time
// has come is active even before the sweeper persists it.
func (u User) EffectiveState(now time.Time) State {
	if u.State == "" {
		return StateOff
	}
	if u.State == StatePending && !u.ActivatesAt.IsZero() && !now.Before(u.ActivatesAt) {
		return StateActive
	}
	return u.State
}

// Method is one registered verification method.
type Method struct {
	ID          string
	User        string
	Kind        Kind
	Label       string
	Confirmed   bool
	Slot        Slot
	Channel     Channel
	Phone       string // E.164
	Extension   string // office phones only
	Language    string // message language for SMS and calls
	Secret      []byte // TOTP seed, sealed; tap: the pass's keyed hash (never plaintext at rest)
	LastStep    int64  // last accepted TOTP time step (replay protection)
	FIDO        *FIDOCredential
	CreatedAt   time.Time
	ConfirmedAt time.Time
	// LastUsedAt is when the method last answered a challenge (a sign-in,
	// a test sign-in or a proof; not the confirmation of a new phone);
	// zero when never.
	LastUsedAt time.Time
	// A Temporary Access Pass (kind tap) stops verifying at ExpiresAt,
	// and a OneTime pass once UsedAt is set by its first verification.
	ExpiresAt time.Time
	UsedAt    time.Time
	OneTime   bool
}

// FIDOCredential is a security key's registration: what a WebAuthn verifier
// needs to check its assertions, and the attestation an outside verifier can
// re-check.
type FIDOCredential struct {
	ID                []byte
	PublicKey         []byte // COSE_Key
	AAGUID            []byte // 16 bytes
	SignCount         uint32
	AttestationFormat string
	AttestationObject []byte
	ClientDataJSON    []byte
}

// Usable reports whether the method is one of the user's lasting ways to
// verify: confirmed, and not a Temporary Access Pass, which stands in for
// lost methods only for a while (it never counts toward applying for MFA,
// the single_method warning or a user's last method).
func (m Method) Usable() bool { return m.Confirmed && m.Kind != KindTAP }

// Delivery is what the outbox knows about a phone challenge's delivery.
type Delivery struct {
	Modem    string
	Attempts int
	Status   string // queued|sending|sent|delivered|failed
	Reason   string
}

// Challenge is one verification attempt.
type Challenge struct {
	ID           string
	User         string
	Method       string
	Kind         Kind
	Channel      Channel
	Purpose      Purpose
	Status       Status
	Reason       string
	CodeHash     []byte // keyed hash of the one-time code (sms)
	NumberMatch  string // the 2 digits a voice callee keys in
	WebAuthn     []byte // the WebAuthn challenge bytes (fido)
	AttemptsLeft int
	CreatedAt    time.Time
	ExpiresAt    time.Time
	FinishedAt   time.Time
	// RedeemedAt is when an approved sign-in challenge was used to answer
	// a sign-in by a front door that has only the challenge ID to go on
	// (see Service.Redeem); zero until then. An approval is redeemed once.
	RedeemedAt time.Time
	Delivery   Delivery
}

// Event is one audit record.
type Event struct {
	ID        int64
	At        time.Time
	User      string
	Type      string
	Actor     string
	Method    string
	Challenge string
	Detail    string // never a code, secret, token or full phone number
}

// Audit event types.
const (
	EventMethodAdded       = "method_added"
	EventMethodConfirmed   = "method_confirmed"
	EventMethodRemoved     = "method_removed"
	EventMethodRenamed     = "method_renamed"
	EventDefaultChanged    = "default_changed"
	EventMFAApplied        = "mfa_applied"
	EventMFAActivated      = "mfa_activated"
	EventMFATerminated     = "mfa_terminated"
	EventTestSignin        = "test_signin"
	EventChallengeApproved = "challenge_approved"
	EventChallengeDenied   = "challenge_denied"
	EventChallengeLocked   = "challenge_locked"
	EventChallengeExpired  = "challenge_expired"
	EventChallengeFailed   = "challenge_failed"
	EventChallengeRedeemed = "challenge_redeemed" // an approval answered a sign-in at a front door (Service.Redeem)
	EventVerifyFailed      = "verification_failed"
	EventRequestRefused    = "request_refused"   // detail: "<operation>: <refusal code>"
	EventEnrollmentFailed  = "enrollment_failed" // a security key was not enrolled at the kiosk
	EventFraudReported     = "fraud_reported"
	EventUserUnlocked      = "user_unlocked"
	EventTestSMS           = "test_sms"
	EventCounterRegressed  = "sign_counter_regressed"
	EventExternalSignin    = "external_signin" // a front door's sign-in ended; detail: client, result, amr or reason
	EventTAPIssued         = "tap_issued"      // detail: lifetime, one_time, the pass it replaced (never the pass)
	EventTAPUsed           = "tap_used"        // a pass answered a challenge; detail: purpose
	EventTAPExpired        = "tap_expired"     // the sweeper removed a pass whose time ended
	EventTAPRevoked        = "tap_revoked"     // staff withdrew the pass
)

// EventFilter selects audit events, newest first.
type EventFilter struct {
	User     string
	BeforeID int64 // 0: from the newest; else only events older than this one
	// AfterID, when not 0, keeps only events newer than this one: the page
	// is the Limit events that follow it (still listed newest first).
	AfterID int64
	Limit   int
}

// JobFilter selects outbox jobs, newest first (by creation, then ID).
type JobFilter struct {
	State JobState // "": every state
	// Before, when not "", is a job's ID: only older jobs are listed.
	Before string
	// After, when not "", is a job's ID: only newer jobs, the page of Limit
	// jobs that follows it (still listed newest first).
	After string
	Limit int
}

// Retention is how long finished records are kept (0: forever).
type Retention struct {
	Challenges time.Duration // finished challenges, from their creation
	Outbox     time.Duration // sent and failed outbox jobs, from their creation
	Audit      time.Duration // audit events, from when they happened
}

// JobState is an outbox job's state.
type JobState string

// Outbox job states: queued → sending(modem, attempt) → sent | failed.
const (
	JobQueued  JobState = "queued"
	JobSending JobState = "sending"
	JobSent    JobState = "sent"
	JobFailed  JobState = "failed"
)

// Job is one durable outbox row: an SMS or a call to place for a challenge,
// or an operator's test SMS (no challenge, pinned to one modem). The one-time
// code travels sealed so that a restart can re-send the same code.
type Job struct {
	ID        string
	Challenge string
	Channel   Channel
	To        string // E.164
	Extension string
	Sealed    []byte // sealed payload: the code (sms) or the number to match (voice)
	Language  string
	State     JobState
	Modem     string
	// Node is the gateway node whose modem holds or last held the job, and
	// LeaseUntil how long its claim stands without renewal: after that any
	// node may take the job over (see Service.Heartbeat).
	Node       string
	LeaseUntil time.Time
	Attempts   int
	MR         []int // message references of the submitted parts
	Reason     string
	Priority   int    // lower is sent first: sign-in before tests
	Pinned     string // a test message names the modem it tests; "" for any
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time
}

// JobClaim asks Tx.ClaimJob for a job.
type JobClaim struct {
	Channels   []Channel
	Modem      string // the claiming modem; pinned jobs go only to it
	Node       string
	Now        time.Time
	LeaseUntil time.Time
}

// Node is one gateway daemon sharing the store, as its last heartbeat
// described it.
type Node struct {
	ID        string
	Version   string
	StartedAt time.Time
	SeenAt    time.Time
	Modems    []NodeModem
	Sending   int // outbox jobs the node holds (read by Tx.Nodes, not stored)
}

// NodeModem is one modem of a node, as its heartbeat described it.
type NodeModem struct {
	Name     string    `json:"name"`
	State    string    `json:"state"`
	Channels []Channel `json:"channels"`
}

// OutboxStats summarises the outbox for metrics.
type OutboxStats struct {
	Queued, Sending int
	Oldest          time.Time // creation of the oldest queued job; zero when none
}
