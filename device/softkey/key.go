package softkey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// ErrRemoved is returned by a Key's methods once the key has been removed
// (Remove, Close, its context ended, or the pty failed).
var ErrRemoved = errors.New("softkey: key removed")

// DefaultAAGUID identifies the software key model when Options.AAGUID is zero.
var DefaultAAGUID = [16]byte{
	0x6d, 0x66, 0x61, 0x67, 0x61, 0x74, 0x65, 0x2d, // "mfagate-"
	0x73, 0x6f, 0x66, 0x74, 0x6b, 0x65, 0x79, 0x31, // "softkey1"
}

// Presence says how the simulated user answers a request for user presence.
type Presence int

const (
	// PresenceAuto touches the key TouchDelay after it asks.
	PresenceAuto Presence = iota
	// PresenceManual waits for Touch.
	PresenceManual
	// PresenceNever never touches; requests fail with
	// StatusUserActionTimeout after PresenceTimeout (Touch still works).
	PresenceNever
)

func (p Presence) String() string {
	switch p {
	case PresenceAuto:
		return "auto"
	case PresenceManual:
		return "manual"
	case PresenceNever:
		return "never"
	}
	return fmt.Sprintf("Presence(%d)", int(p))
}

// Options configures a Key. The zero value is a usable key: auto touch with
// no delay, packed attestation, 4-digit minimum PIN, PIN protocols 2 and 1.
type Options struct {
	Logger *slog.Logger // nil: discard

	AAGUID      [16]byte          // zero: DefaultAAGUID
	Attestation AttestationFormat // default AttestationPacked

	Presence        Presence
	TouchDelay      time.Duration // PresenceAuto: time from the request to the touch
	PresenceTimeout time.Duration // 0: 30s; how long a request waits for a touch

	// ResetWindow is how long after power-up authenticatorReset is allowed
	// (CTAP 2.1 §6.6 suggests 10 s). 0: 10s; negative: always allowed.
	ResetWindow time.Duration

	MinPINLength    int   // 0: 4 (the CTAP minimum); at most 63
	MaxResidentKeys int   // 0: 25
	PINProtocols    []int // advertised in preference order; nil: [2, 1]

	// MessageTimeout bounds the gap between CTAPHID continuation packets
	// (ERR_MSG_TIMEOUT after it). 0: 500ms.
	MessageTimeout time.Duration
	// KeepaliveInterval is the CTAPHID_KEEPALIVE period. 0: 100ms.
	KeepaliveInterval time.Duration

	// StateFile, if set, keeps the key's secrets, PIN and resident
	// credentials across restarts (JSON, mode 0600; for the demo only).
	StateFile string

	// U2F selects whether the key also serves U2F over CTAPHID_MSG, or
	// only U2F. U2F presence is polled by the host: with PresenceNever a
	// U2F host retries until it gives up itself (libfido2 never does).
	U2F U2FSupport

	// Link, if set, is a symlink created to the pty (replacing an old
	// link there) and removed when the key goes away: a stable device path
	// for configuration, as a udev rule gives a USB key.
	Link string
}

func (o *Options) normalize() error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AAGUID == [16]byte{} {
		o.AAGUID = DefaultAAGUID
	}
	if o.Attestation < AttestationPacked || o.Attestation > AttestationNone {
		return fmt.Errorf("softkey: unknown attestation format %d", int(o.Attestation))
	}
	if o.U2F < U2FNone || o.U2F > U2FOnly {
		return fmt.Errorf("softkey: unknown U2F support %d", int(o.U2F))
	}
	if o.Presence < PresenceAuto || o.Presence > PresenceNever {
		return fmt.Errorf("softkey: unknown presence mode %d", int(o.Presence))
	}
	if o.TouchDelay < 0 || o.PresenceTimeout < 0 || o.MessageTimeout < 0 || o.KeepaliveInterval < 0 {
		return errors.New("softkey: TouchDelay, PresenceTimeout, MessageTimeout and KeepaliveInterval must not be negative")
	}
	if o.PresenceTimeout == 0 {
		o.PresenceTimeout = 30 * time.Second
	}
	if o.ResetWindow == 0 {
		o.ResetWindow = 10 * time.Second
	}
	switch {
	case o.MinPINLength == 0:
		o.MinPINLength = 4
	case o.MinPINLength < 4 || o.MinPINLength > maxPINBytes:
		return fmt.Errorf("softkey: MinPINLength %d outside 4..%d", o.MinPINLength, maxPINBytes)
	}
	switch {
	case o.MaxResidentKeys == 0:
		o.MaxResidentKeys = 25
	case o.MaxResidentKeys < 0:
		return fmt.Errorf("softkey: MaxResidentKeys %d is negative", o.MaxResidentKeys)
	}
	if o.PINProtocols == nil {
		o.PINProtocols = []int{pinProtocol2, pinProtocol1}
	}
	if len(o.PINProtocols) == 0 {
		return errors.New("softkey: PINProtocols is empty; use nil for the default [2, 1]")
	}
	for _, p := range o.PINProtocols {
		if p != pinProtocol1 && p != pinProtocol2 {
			return fmt.Errorf("softkey: PIN protocol %d unsupported (want 1 or 2)", p)
		}
	}
	if o.MessageTimeout == 0 {
		o.MessageTimeout = 500 * time.Millisecond
	}
	if o.KeepaliveInterval == 0 {
		o.KeepaliveInterval = 100 * time.Millisecond
	}
	return nil
}

// Fault is a one-shot failure the key injects into its next CTAP2 request.
type Fault int

const (
	// FaultNone clears an armed fault.
	FaultNone Fault = iota
	// FaultGarbageReply answers the next CBOR request with a report of
	// random bytes on the host's channel instead of the response.
	FaultGarbageReply
	// FaultRemoveOnRequest unplugs the key (closes the pty) right after it
	// receives the next CBOR request, before answering.
	FaultRemoveOnRequest
	// FaultRemoveOnPresence unplugs the key when the next request starts
	// waiting for a touch (mid-operation, keepalives already sent).
	FaultRemoveOnPresence
	// FaultBadSignature flips a bit in the next signature the key makes
	// (attestation or assertion), for testing that verifiers refuse it.
	FaultBadSignature
)

// Credential is a resident (discoverable) credential stored on the key.
type Credential struct {
	ID          []byte
	RPID        string
	RPName      string
	UserID      []byte
	UserName    string
	DisplayName string
	PublicKey   *ecdsa.PublicKey
	CredProtect int
}

// Snapshot is the key's observable state, for test assertions.
type Snapshot struct {
	PINSet           bool
	PINRetries       int
	PowerCycleNeeded bool // three wrong PINs in a row: only a power cycle allows another try
	MinPINLength     int
	ForcePINChange   bool // the PIN must be changed before it can be used again
	SignCount        uint32
	Credentials      []Credential
	Winks            int
}

// Key is a running software authenticator on a pty.
type Key struct {
	log  *slog.Logger
	path string
	opts Options
	att  *attestation

	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when the run goroutine has exited

	ctl     chan func()   // requests executed by the run goroutine
	touch   chan struct{} // latched button press (buffer 1)
	reports chan []byte   // 64-byte reports from the reader goroutine

	mu        sync.Mutex
	waitingUP bool
	upWaiters []chan struct{}

	// Owned by the run goroutine.
	dev      *ptyDevice
	hid      *hidLayer
	auth     *authenticator
	fault    Fault
	delay    time.Duration
	presence Presence
	touchDly time.Duration
	gone     bool
	dropped  int // reports not written because the host stopped reading

	// U2F presence polling: when the current run of refused requests
	// began, and when the last one was refused.
	u2fAskedSince time.Time
	u2fAskedLast  time.Time
}

// Start opens a pty and serves a FIDO2 authenticator on it until ctx ends,
// Close or Remove is called. Give Path to libfido2 as the device path.
func Start(ctx context.Context, opts Options) (*Key, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	// The key's identity is the path the host opens: the link when there
	// is one, else the pty (known once it is open).
	log := opts.Logger
	if opts.Link != "" {
		log = log.With("device", opts.Link)
	}
	protocols := make([]uint64, len(opts.PINProtocols))
	for i, p := range opts.PINProtocols {
		protocols[i] = uint64(p)
	}
	cfg := coreConfig{
		aaguid:      opts.AAGUID,
		format:      opts.Attestation,
		minPINLen:   opts.MinPINLength,
		maxResident: opts.MaxResidentKeys,
		resetWindow: opts.ResetWindow,
		protocols:   protocols,
		u2f:         opts.U2F != U2FNone,
		log:         log,
	}

	var (
		auth *authenticator
		att  *attestation
		err  error
	)
	if opts.StateFile != "" {
		auth, att, err = loadState(opts.StateFile, cfg, time.Now)
		if err != nil {
			return nil, err
		}
	}
	if auth == nil {
		att, err = newAttestation(opts.AAGUID, time.Now())
		if err != nil {
			return nil, fmt.Errorf("softkey: %w", err)
		}
		auth = newAuthenticator(cfg, att, time.Now)
		auth.dirty = opts.StateFile != ""
	}

	if opts.StateFile != "" && auth.dirty {
		if err := saveState(opts.StateFile, auth, att); err != nil {
			return nil, fmt.Errorf("softkey: state file %s: %w", opts.StateFile, err)
		}
		auth.dirty = false
	}
	dev, err := openPTY()
	if err != nil {
		return nil, fmt.Errorf("softkey: %w", err)
	}
	if opts.Link != "" {
		if err := dev.link(opts.Link); err != nil {
			dev.close()
			return nil, fmt.Errorf("softkey: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	k := &Key{
		log:      keyLog(log, opts.Link, dev.path),
		path:     dev.path,
		opts:     opts,
		att:      att,
		cancel:   cancel,
		done:     make(chan struct{}),
		ctl:      make(chan func()),
		touch:    make(chan struct{}, 1),
		reports:  make(chan []byte, 16),
		dev:      dev,
		hid:      newHIDLayer(opts.MessageTimeout).withU2F(opts.U2F),
		auth:     auth,
		presence: opts.Presence,
		touchDly: opts.TouchDelay,
	}
	readerStop := make(chan struct{})
	k.wg.Add(2)
	go func() {
		defer k.wg.Done()
		dev.readReports(k.reports, readerStop)
	}()
	go func() {
		defer k.wg.Done()
		defer close(k.done)
		defer close(readerStop)
		k.run(ctx)
	}()
	k.log.Info("software key started", "pty", dev.path, "aaguid", fmt.Sprintf("%x", opts.AAGUID[:]), "attestation", opts.Attestation.String())
	return k, nil
}

func keyLog(log *slog.Logger, link, pty string) *slog.Logger {
	if link != "" {
		return log
	}
	return log.With("device", pty)
}

// Path is the pty device path to give libfido2 (e.g. /dev/pts/7).
func (k *Key) Path() string { return k.path }

// Done is closed when the key has gone away.
func (k *Key) Done() <-chan struct{} { return k.done }

// Close unplugs the key and waits for its goroutines to exit.
func (k *Key) Close() error {
	k.cancel()
	k.wg.Wait()
	return nil
}

// AttestationCA is the root the packed attestation certificates chain to.
func (k *Key) AttestationCA() *x509.Certificate { return k.att.caCert }

// AAGUID is the model identifier the key reports.
func (k *Key) AAGUID() [16]byte { return k.opts.AAGUID }

// do runs f on the key's goroutine and waits for it.
func (k *Key) do(f func()) error {
	finished := make(chan struct{})
	select {
	case k.ctl <- func() { f(); close(finished) }:
	case <-k.done:
		return ErrRemoved
	}
	select {
	case <-finished:
		return nil
	case <-k.done:
		select {
		case <-finished:
			return nil
		default:
			return ErrRemoved
		}
	}
}

// Touch presses the key's button. If no request is waiting for presence, the
// press is remembered for the next one.
func (k *Key) Touch() {
	select {
	case k.touch <- struct{}{}:
	default:
	}
}

// WaitForTouchRequest returns once a request is waiting for user presence
// (immediately if one already is). A key in PresenceAuto with no TouchDelay
// never waits, so this only returns with ctx or removal there.
func (k *Key) WaitForTouchRequest(ctx context.Context) error {
	ch := make(chan struct{})
	k.mu.Lock()
	if k.waitingUP {
		k.mu.Unlock()
		return nil
	}
	k.upWaiters = append(k.upWaiters, ch)
	k.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-k.done:
		return ErrRemoved
	case <-ctx.Done():
		k.mu.Lock()
		k.upWaiters = slices.DeleteFunc(k.upWaiters, func(c chan struct{}) bool { return c == ch })
		k.mu.Unlock()
		return ctx.Err()
	}
}

func (k *Key) setWaitingUP(v bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.waitingUP = v
	if v {
		for _, ch := range k.upWaiters {
			close(ch)
		}
		k.upWaiters = nil
	}
}

// SetPresence changes how the simulated user answers presence requests.
func (k *Key) SetPresence(p Presence, touchDelay time.Duration) error {
	if p < PresenceAuto || p > PresenceNever || touchDelay < 0 {
		return fmt.Errorf("softkey: invalid presence %v / delay %v", p, touchDelay)
	}
	return k.do(func() { k.presence, k.touchDly = p, touchDelay })
}

// InjectFault arms a one-shot fault for the next CTAP2 request.
func (k *Key) InjectFault(f Fault) error {
	if f < FaultNone || f > FaultBadSignature {
		return fmt.Errorf("softkey: unknown fault %d", int(f))
	}
	return k.do(func() {
		// A bad signature is armed in the authenticator itself; the other
		// faults act on the transport.
		k.auth.corruptNextSig = f == FaultBadSignature
		k.fault = f
		if f == FaultBadSignature {
			k.fault = FaultNone
		}
	})
}

// SetSignCount sets the signature counter, e.g. below a value a relying
// party has seen, to simulate a cloned key.
func (k *Key) SetSignCount(n uint32) error {
	return k.do(func() {
		k.auth.signCount = n
		k.auth.dirty = true
		k.saveState()
	})
}

// SetResponseDelay makes every CTAP2 request take at least d (with
// PROCESSING keepalives meanwhile), simulating a slow key. 0 turns it off.
func (k *Key) SetResponseDelay(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("softkey: negative response delay %v", d)
	}
	return k.do(func() { k.delay = d })
}

// BlockPIN uses up all PIN retries, as eight wrong PINs would: the PIN is
// blocked until the key is reset.
func (k *Key) BlockPIN() error {
	return k.do(func() {
		k.auth.pinRetries = 0
		k.auth.dirty = true
		k.saveState()
	})
}

// PowerCycle simulates unplugging and replugging the key on the same path:
// volatile state (PIN token, consecutive wrong PINs, key agreement key,
// reset window, channels) starts afresh.
func (k *Key) PowerCycle() error {
	return k.do(func() {
		k.auth.powerUp()
		k.hid = newHIDLayer(k.opts.MessageTimeout).withU2F(k.opts.U2F)
	})
}

// Remove unplugs the key: the pty closes, so a host with the device open
// sees it disappear. Remove waits until the key has stopped.
func (k *Key) Remove() {
	_ = k.do(func() { k.gone = true })
	<-k.done
}

// Snapshot returns the key's state for assertions.
func (k *Key) Snapshot() (Snapshot, error) {
	var s Snapshot
	err := k.do(func() {
		a := k.auth
		s = Snapshot{
			PINSet:           a.pinHash != nil,
			PINRetries:       a.pinRetries,
			PowerCycleNeeded: a.mismatches >= maxConsecutiveWrong,
			MinPINLength:     a.minPINLen,
			ForcePINChange:   a.forceChange,
			SignCount:        a.signCount,
			Winks:            k.hid.winks,
		}
		for _, r := range a.resident {
			s.Credentials = append(s.Credentials, Credential{
				ID:          slices.Clone(r.id),
				RPID:        r.rpID,
				RPName:      r.rpName,
				UserID:      slices.Clone(r.user.ID),
				UserName:    r.user.Name,
				DisplayName: r.user.DisplayName,
				PublicKey:   clonePublicKey(&r.priv.PublicKey),
				CredProtect: int(r.credProtect),
			})
		}
	})
	return s, err
}

// Credentials lists the resident credentials stored on the key.
func (k *Key) Credentials() ([]Credential, error) {
	s, err := k.Snapshot()
	return s.Credentials, err
}

// run is the key's goroutine: it owns the pty and all state.
func (k *Key) run(ctx context.Context) {
	defer func() {
		k.dev.close()
		k.log.Info("software key removed")
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for !k.gone {
		var timeout <-chan time.Time
		if d, ok := k.hid.nextDeadline(); ok {
			timer.Reset(time.Until(d))
			timeout = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case rep, ok := <-k.reports:
			if !ok {
				return
			}
			k.onReport(ctx, rep)
		case <-timeout:
			k.send(k.hid.expire(time.Now()))
		case f := <-k.ctl:
			f()
		}
	}
}

func (k *Key) send(frames []hidFrame) {
	for _, f := range frames {
		for _, rep := range fragment(f) {
			if err := k.dev.write(rep); err != nil {
				if errors.Is(err, errPTYBroken) {
					k.log.Error("write report", "err", err)
					k.gone = true
				} else {
					// The host closed the device mid-request; the next
					// INIT flushes whatever it left unread.
					k.dropped++
					k.log.Debug("write report", "err", err)
				}
				return
			}
		}
	}
}

func (k *Key) onReport(ctx context.Context, rep []byte) {
	if isBroadcastInit(rep) {
		// A host is (re)opening the device: whatever the previous host
		// left unread (keepalives, replies) is stale.
		k.dev.flushToHost()
	}
	res := k.hid.feed(rep, time.Now())
	k.send(res.replies)
	if res.request == nil || res.request.cmd == hidCancel {
		return // CANCEL with nothing in progress: ignored
	}
	req := res.request
	if req.cmd == hidMsg {
		k.onU2F(req)
		return
	}
	switch k.fault {
	case FaultRemoveOnRequest:
		k.fault = FaultNone
		k.log.Info("fault: removing key mid-request")
		k.gone = true
		return
	}
	if k.delay > 0 {
		if err := k.busyWait(ctx, req.cid, keepaliveProcessing, k.delay, false); err != nil {
			k.reply(req.cid, hidCBOR, nil, err)
			return
		}
	}
	resp, err := k.auth.handle(req.data, func() error { return k.waitPresence(ctx, req.cid) })
	// Like a key writing its flash, persist before answering: once the host
	// has the reply, the state it implies survives a restart.
	k.saveState()
	k.reply(req.cid, hidCBOR, resp, err)
}

// onU2F answers a U2F raw message (CTAPHID_MSG).
func (k *Key) onU2F(req *hidFrame) {
	if k.fault == FaultRemoveOnRequest || k.fault == FaultRemoveOnPresence {
		k.fault = FaultNone
		k.log.Info("fault: removing key mid-request")
		k.gone = true
		return
	}
	resp, err := k.auth.u2f(req.data, k.u2fPresent)
	if err != nil {
		k.log.Error("u2f request failed", "err", err)
		resp = sw(swWrongData)
	}
	k.saveState()
	k.reply(req.cid, hidMsg, resp, nil)
}

// u2fPresent tests user presence for U2F without blocking: U2F hosts
// resend a request until the key stops refusing it.
func (k *Key) u2fPresent() bool {
	now := time.Now()
	if now.Sub(k.u2fAskedLast) > time.Second {
		// Not part of a run of retries: a new request for presence.
		k.u2fAskedSince = now
	}
	touched := false
	select {
	case <-k.touch:
		touched = true
	default:
		touched = k.presence == PresenceAuto && now.Sub(k.u2fAskedSince) >= k.touchDly
	}
	if touched {
		k.u2fAskedLast = time.Time{}
		k.setWaitingUP(false)
		return true
	}
	k.u2fAskedLast = now
	k.setWaitingUP(true)
	return false
}

// reply sends a response (CBOR or MSG), or the CTAP status in err.
func (k *Key) reply(cid uint32, cmd byte, resp []byte, err error) {
	if errors.Is(err, errNoReply) || k.gone {
		return
	}
	var st Status
	if errors.As(err, &st) {
		resp = []byte{byte(st)}
	}
	if k.fault == FaultGarbageReply {
		k.fault = FaultNone
		k.log.Info("fault: garbage reply")
		k.send([]hidFrame{garbageFrame(cid)})
		return
	}
	k.send([]hidFrame{{cid: cid, cmd: cmd, data: resp}})
}

// garbageFrame is a report on the host's channel whose command byte is
// neither CBOR nor KEEPALIVE and whose payload is random.
func garbageFrame(cid uint32) hidFrame {
	data := randBytes(initDataSize)
	cmd := data[0] & 0x7f
	if cmd == hidCBOR || cmd == hidMsg || cmd == hidKeepalive {
		cmd = 0x7e
	}
	return hidFrame{cid: cid, cmd: cmd, data: data[1:]}
}

func (k *Key) waitPresence(ctx context.Context, cid uint32) error {
	if k.fault == FaultRemoveOnPresence {
		k.fault = FaultNone
		// Let the host see the key ask for a touch, then vanish.
		k.send([]hidFrame{{cid: cid, cmd: hidKeepalive, data: []byte{keepaliveUPNeeded}}})
		k.log.Info("fault: removing key while waiting for touch")
		k.gone = true
		return errNoReply
	}
	select {
	case <-k.touch:
		return nil
	default:
	}
	if k.presence == PresenceAuto && k.touchDly == 0 {
		return nil
	}
	k.setWaitingUP(true)
	defer k.setWaitingUP(false)
	return k.busyWait(ctx, cid, keepaliveUPNeeded, k.opts.PresenceTimeout, true)
}

// busyWait keeps the channel cid alive with keepalives for up to d while a
// request is in progress. With presence set it ends early on a touch (nil)
// and ends with StatusUserActionTimeout at d; otherwise it returns nil at d.
// A CTAPHID_CANCEL from the host ends it with StatusKeepaliveCancel. Other
// channels get ERR_CHANNEL_BUSY meanwhile.
func (k *Key) busyWait(ctx context.Context, cid uint32, status byte, d time.Duration, presence bool) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	var autoTouch <-chan time.Time
	var touch <-chan struct{}
	if presence {
		touch = k.touch
		if k.presence == PresenceAuto {
			t := time.NewTimer(k.touchDly)
			defer t.Stop()
			autoTouch = t.C
		}
	}
	tick := time.NewTicker(k.opts.KeepaliveInterval)
	defer tick.Stop()
	keepalive := hidFrame{cid: cid, cmd: hidKeepalive, data: []byte{status}}
	k.send([]hidFrame{keepalive})
	for {
		if k.gone {
			return errNoReply
		}
		select {
		case <-ctx.Done():
			return errNoReply
		case <-touch:
			return nil
		case <-autoTouch:
			return nil
		case <-deadline.C:
			if presence {
				return StatusUserActionTimeout
			}
			return nil
		case <-tick.C:
			k.send([]hidFrame{keepalive})
		case rep, ok := <-k.reports:
			if !ok {
				return errNoReply
			}
			if err := k.onBusyReport(rep, cid); err != nil {
				return err
			}
		case f := <-k.ctl:
			f()
		}
	}
}

// onBusyReport handles a report that arrives while a request on cid is in
// progress. It returns StatusKeepaliveCancel if the host cancelled that
// request, errNoReply if the host resynchronised the channel, else nil.
func (k *Key) onBusyReport(rep []byte, cid uint32) error {
	if len(rep) != reportSize || rep[4]&0x80 == 0 {
		return nil // continuation packets: no transaction to continue
	}
	from := uint32(rep[0])<<24 | uint32(rep[1])<<16 | uint32(rep[2])<<8 | uint32(rep[3])
	cmd := rep[4] & 0x7f
	if from == cid && cmd == hidCancel {
		return StatusKeepaliveCancel
	}
	if from == broadcastCID && cmd == hidInit {
		// Another host opening the key gets its channel; its requests
		// will find the key busy. libfido2 holds an flock while it has
		// the device open, so a new open means the previous host is
		// gone: what it left unread is stale.
		k.dev.flushToHost()
		k.send(k.hid.feed(rep, time.Now()).replies)
		return nil
	}
	if from == cid && cmd == hidInit {
		// The host resynchronised its own channel: the request is gone.
		k.send(k.hid.feed(rep, time.Now()).replies)
		return errNoReply
	}
	k.send([]hidFrame{errFrame(from, hidErrChannelBusy)})
	return nil
}

func isBroadcastInit(rep []byte) bool {
	return len(rep) == reportSize && rep[0] == 0xff && rep[1] == 0xff && rep[2] == 0xff && rep[3] == 0xff &&
		rep[4] == 0x80|hidInit
}

func (k *Key) saveState() {
	if k.opts.StateFile == "" || !k.auth.dirty {
		return
	}
	if err := saveState(k.opts.StateFile, k.auth, k.att); err != nil {
		k.log.Error("save key state", "err", err)
		return
	}
	k.auth.dirty = false
}

// clonePublicKey copies a P-256 public key so callers cannot reach the
// key's own.
func clonePublicKey(p *ecdsa.PublicKey) *ecdsa.PublicKey {
	raw, err := p.Bytes()
	if err != nil {
		panic(fmt.Sprintf("softkey: copy credential public key: %v", err))
	}
	c, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		panic(fmt.Sprintf("softkey: copy credential public key: %v", err))
	}
	return c
}
