package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	libfido2 "github.com/keys-pub/go-libfido2"
)

// Info describes a key as the kiosk shows it.
type Info struct {
	Path         string
	Product      string // manufacturer + product from libfido2's device info, or "FIDO2 key"
	AAGUID       [16]byte
	Versions     []string // "FIDO_2_0", "FIDO_2_1", "U2F_V2"
	PINSet       bool     // clientPin option true
	ResidentKey  bool     // rk option
	MinPINLength int      // from GetInfo when reported, else 4
	PINRetries   int      // -1 when unknown / no PIN set
}

// Registration is the result of MakeCredential, with authData already
// unwrapped from libfido2's CBOR byte-string wrapping.
type Registration struct {
	CredentialID []byte
	AuthData     []byte   // raw authenticator data
	Format       string   // attestation statement format: "packed", "fido-u2f", "none"
	Signature    []byte   // attestation signature
	X5C          [][]byte // attestation certificate chain (DER); empty for self attestation
	// AttestationObject is the WebAuthn attestationObject (CBOR map
	// fmt/attStmt/authData) rebuilt from the fields above, CTAP2 canonical.
	AttestationObject []byte
}

// Assertion is the result of GetAssertion.
type Assertion struct {
	CredentialID []byte
	AuthData     []byte // raw, unwrapped
	Signature    []byte
	UserID       []byte
}

// MakeCredentialRequest asks a key for a new ES256 credential.
type MakeCredentialRequest struct {
	ClientDataHash        []byte // 32 bytes: SHA-256 of the clientDataJSON the caller built
	RPID, RPName          string
	UserID                []byte // 1..64 bytes
	UserName, DisplayName string
	ResidentKey           bool
	UserVerification      bool // request uv (PIN is given, so libfido2 uses PIN auth)
	PIN                   string
	ExcludeList           [][]byte
}

// AssertionRequest asks a key to sign in with one of AllowList, or with a
// discoverable credential when AllowList is empty.
type AssertionRequest struct {
	ClientDataHash   []byte
	RPID             string
	AllowList        [][]byte
	PIN              string
	UserVerification bool
}

// ResidentCredential is a discoverable credential stored on a key.
type ResidentCredential struct {
	ID       []byte
	UserID   []byte
	UserName string
	RPID     string
}

// Authenticator is what the kiosk needs from one key.
type Authenticator interface {
	Info(ctx context.Context) (Info, error)
	PINRetries(ctx context.Context) (int, error)
	SetPIN(ctx context.Context, pin string) error
	ChangePIN(ctx context.Context, old, new string) error
	MakeCredential(ctx context.Context, req MakeCredentialRequest) (Registration, error)
	GetAssertion(ctx context.Context, req AssertionRequest) (Assertion, error)
	ResidentCredentials(ctx context.Context, rpID, pin string) ([]ResidentCredential, error)
	DeleteResidentCredential(ctx context.Context, credID []byte, pin string) error
	Reset(ctx context.Context) error
	Path() string
}

// DefaultTimeout is how long an operation waits for the user's touch.
const DefaultTimeout = 30 * time.Second

// cancelGrace bounds how long an operation waits for libfido2 to return
// after the request was cancelled; a key that ignores cancels keeps its
// path locked in the background until it answers.
const cancelGrace = 5 * time.Second

// cancelInterval is how often a cancel is resent: go-libfido2 only cancels
// a request once its device handle is open, which the caller cannot see.
const cancelInterval = 50 * time.Millisecond

const (
	defaultProduct   = "FIDO2 key"
	minPINLength     = 4  // CTAP minimum, in Unicode code points
	maxPINBytes      = 63 // CTAP maximum, in UTF-8 bytes
	clientDataLen    = 32
	maxUserIDLen     = 64
	infoAttempts     = 3
	infoRetryBackoff = 100 * time.Millisecond
)

type options struct {
	log     *slog.Logger
	timeout time.Duration
}

// Option configures Open and NewWatcher.
type Option func(*options)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithTimeout sets how long operations wait for the user to touch the key
// (default DefaultTimeout); operations without a touch are bounded by it
// too. Non-positive values keep the default.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler), timeout: DefaultTimeout}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// pathLocks serializes operations per device path across Authenticators.
var pathLocks struct {
	sync.Mutex
	m map[string]chan struct{}
}

// pathLock returns the lock for the device behind path. Symlinks are
// resolved at each call, so that a key reached both through a stable link
// and through its node shares one lock, also after the link is re-pointed.
func pathLock(path string) chan struct{} {
	path = resolve(path)
	pathLocks.Lock()
	defer pathLocks.Unlock()
	if pathLocks.m == nil {
		pathLocks.m = make(map[string]chan struct{})
	}
	l, ok := pathLocks.m[path]
	if !ok {
		l = make(chan struct{}, 1)
		pathLocks.m[path] = l
	}
	return l
}

// Key is an Authenticator for one device path. Its methods may be called
// from any goroutine; operations on one path run one at a time.
type Key struct {
	path    string
	log     *slog.Logger
	timeout time.Duration
	grace   time.Duration // cancelGrace; shorter in tests
	wg      sync.WaitGroup
	running atomic.Int32 // libfido2 calls in flight
	life    context.Context
	end     context.CancelFunc // cancels the calls in flight; Close calls it

	mu      sync.Mutex
	product string // cached manufacturer + product, "" until looked up
	closed  bool   // no new calls; set under mu, before wg.Wait
}

var _ Authenticator = (*Key)(nil)

// Open returns an Authenticator for the key at path, through libfido2. It
// does not talk to the key; the first operation does. The result is a *Key,
// whose Close waits for calls a key left running after a cancel.
func Open(path string, opts ...Option) (Authenticator, error) {
	return OpenKey(path, opts...)
}

// OpenKey is Open returning the concrete type, which adds Close.
func OpenKey(path string, opts ...Option) (*Key, error) {
	if path == "" {
		return nil, fmt.Errorf("open key: %w: empty device path", ErrInvalidInput)
	}
	o := buildOptions(opts)
	life, end := context.WithCancel(context.Background())
	return &Key{
		path:    path,
		log:     o.log.With("device", path),
		timeout: o.timeout,
		grace:   cancelGrace,
		life:    life,
		end:     end,
	}, nil
}

// Path is the device path the key was opened on.
func (k *Key) Path() string { return k.path }

// Close cancels the calls in flight (they return ErrRemoved), refuses new
// ones, and returns once every libfido2 call it started has returned,
// including calls a key left running after a cancel. It does not affect
// other Keys on the same path.
func (k *Key) Close() error {
	k.shut()
	k.wg.Wait()
	return nil
}

// shut is Close without the wait: the watcher retires a removed key
// without blocking its poll, and reaps it once idle.
func (k *Key) shut() {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	k.end()
}

// start registers a libfido2 call, unless the key is closed: Close's
// wg.Wait must not race a wg.Add.
func (k *Key) start() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false
	}
	k.wg.Add(1)
	k.running.Add(1)
	return true
}

// idle reports whether no libfido2 call of k is running.
func (k *Key) idle() bool { return k.running.Load() == 0 }

// call runs f on a fresh go-libfido2 device handle holding the path lock.
// If ctx ends first, or the timeout passes, the request is cancelled on the
// key and call returns ErrCancelled, or ErrNoTouch (touch set) or
// ErrNoResponse, once libfido2 has returned (or after cancelGrace).
func (k *Key) call(ctx context.Context, op string, touch bool, f func(dev *libfido2.Device) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s on %s: %w (%w)", op, k.path, ErrCancelled, err)
	}
	if k.life.Err() != nil {
		return fmt.Errorf("%s on %s: %w: the key was closed", op, k.path, ErrRemoved)
	}
	lock := pathLock(k.path)
	select {
	case lock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s on %s: waiting for the key: %w (%w)", op, k.path, ErrCancelled, ctx.Err())
	case <-k.life.Done():
		return fmt.Errorf("%s on %s: waiting for the key: %w: the key was closed", op, k.path, ErrRemoved)
	}
	dev, err := libfido2.NewDevice(k.path)
	if err != nil {
		<-lock
		return fmt.Errorf("%s on %s: %w", op, k.path, err)
	}
	if !k.start() {
		<-lock
		return fmt.Errorf("%s on %s: %w: the key was closed", op, k.path, ErrRemoved)
	}
	// Every call is bounded: by the touch timeout when the user must
	// touch the key, and by the same span otherwise, so that a node that
	// never answers (not a key, or a wedged one) cannot hang the caller.
	// Closing the key cancels it too.
	opCtx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	defer context.AfterFunc(k.life, cancel)()
	done := make(chan error, 1)
	go func() {
		defer k.wg.Done()
		defer k.running.Add(-1)
		defer func() { <-lock }()
		done <- f(dev)
	}()
	select {
	case err := <-done:
		return mapError(op, k.path, err)
	case <-opCtx.Done():
	}

	// Cancelled: tell the key, resending until libfido2 returns, since a
	// cancel before go-libfido2 has opened its handle is a no-op.
	k.log.Debug("cancelling key operation", "op", op)
	ticker := time.NewTicker(cancelInterval)
	defer ticker.Stop()
	grace := time.NewTimer(k.grace)
	defer grace.Stop()
	var callErr error
	returned := false
	for !returned {
		if err := dev.Cancel(); err != nil {
			k.log.Debug("cancel failed", "op", op, "err", err)
		}
		select {
		case callErr = <-done:
			returned = true
		case <-ticker.C:
		case <-grace.C:
			k.log.Warn("key ignored cancel; it stays busy until it answers", "op", op)
			returned = true
			callErr = errors.New("key did not acknowledge the cancel")
		}
	}
	if callErr == nil {
		// The key finished before the cancel took effect: report the
		// result, since its effect (a new credential, a PIN) is real.
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s on %s: %w (%w)", op, k.path, ErrCancelled, ctx.Err())
	}
	if k.life.Err() != nil {
		return fmt.Errorf("%s on %s: %w: the key was closed", op, k.path, ErrRemoved)
	}
	if !touch {
		return fmt.Errorf("%s on %s: %w within %v", op, k.path, ErrNoResponse, k.timeout)
	}
	return fmt.Errorf("%s on %s: %w (waited %v)", op, k.path, ErrNoTouch, k.timeout)
}

// Info reads the key's GetInfo (and PIN retries when a PIN is set),
// retrying briefly on the transport errors a freshly inserted key may give.
func (k *Key) Info(ctx context.Context) (Info, error) {
	return k.info(ctx, infoAttempts)
}

func (k *Key) info(ctx context.Context, attempts int) (Info, error) {
	var (
		info Info
		err  error
	)
	for attempt := 1; ; attempt++ {
		err = k.call(ctx, "read key info", false, func(dev *libfido2.Device) error {
			var err error
			info, err = readInfo(dev, k.path)
			return err
		})
		if err == nil || attempt >= attempts || !transient(err) {
			break
		}
		k.log.Debug("retrying key info", "attempt", attempt, "err", err)
		select {
		case <-time.After(infoRetryBackoff):
		case <-ctx.Done():
			return Info{}, fmt.Errorf("read key info on %s: %w (%w)", k.path, ErrCancelled, ctx.Err())
		}
	}
	if err != nil {
		return Info{}, err
	}
	info.Product = k.productName()
	return info, nil
}

// readInfo runs under the path lock.
func readInfo(dev *libfido2.Device, path string) (Info, error) {
	raw, err := dev.Info()
	if err != nil {
		return Info{}, err
	}
	info := Info{
		Path:         path,
		Versions:     slices.Clone(raw.Versions),
		MinPINLength: minPINLength,
		PINRetries:   -1,
	}
	if len(raw.AAGUID) != len(info.AAGUID) {
		return Info{}, fmt.Errorf("key reports a %d-byte AAGUID, want 16", len(raw.AAGUID))
	}
	copy(info.AAGUID[:], raw.AAGUID)
	for _, o := range raw.Options {
		switch o.Name {
		case "clientPin":
			info.PINSet = o.Value == libfido2.True
		case "rk":
			info.ResidentKey = o.Value == libfido2.True
		}
	}
	if n := readMinPINLength(path); n > 0 {
		info.MinPINLength = n
	}
	if info.PINSet {
		n, err := dev.RetryCount()
		if err != nil {
			return Info{}, err
		}
		info.PINRetries = n
	}
	return info, nil
}

// transient reports errors a freshly inserted key may give once: transport
// errors, and a garbled GetInfo reply, after which libfido2 falls back to
// U2F and the key looks like a U2F-only one.
func transient(err error) bool {
	return errors.Is(err, ErrRemoved) || errors.Is(err, ErrNotFIDO2) ||
		errors.Is(err, libfido2.ErrRXNotCBOR) || errors.Is(err, libfido2.ErrRXInvalidCBOR)
}

// productName looks the path up in libfido2's enumeration once; keys it
// cannot enumerate (ptys, configured nodes) are "FIDO2 key".
func (k *Key) productName() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.product != "" {
		return k.product
	}
	k.product = defaultProduct
	locs, err := libfido2.DeviceLocations()
	if err != nil {
		k.log.Debug("device enumeration failed", "err", err)
		return k.product
	}
	for _, l := range locs {
		if l.Path == k.path {
			k.product = productOf(l)
		}
	}
	return k.product
}

func productOf(l *libfido2.DeviceLocation) string {
	var parts []string
	for _, s := range []string{l.Manufacturer, l.Product} {
		if s != "" && !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return defaultProduct
	}
	name := parts[0]
	for _, p := range parts[1:] {
		name += " " + p
	}
	return name
}

// PINRetries returns how many wrong PINs the key still accepts.
func (k *Key) PINRetries(ctx context.Context) (int, error) {
	var n int
	err := k.call(ctx, "read PIN retries", false, func(dev *libfido2.Device) error {
		var err error
		n, err = dev.RetryCount()
		return err
	})
	return n, err
}

// checkPIN validates a PIN's length against the CTAP limits.
func checkPIN(what, pin string) error {
	if n := utf8.RuneCountInString(pin); n < minPINLength {
		return fmt.Errorf("%w: %s has %d characters, at least %d are needed", ErrPINPolicy, what, n, minPINLength)
	}
	if len(pin) > maxPINBytes {
		return fmt.Errorf("%w: %s is %d bytes long, at most %d are allowed", ErrPINPolicy, what, len(pin), maxPINBytes)
	}
	if !utf8.ValidString(pin) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidInput, what)
	}
	return nil
}

// SetPIN sets the first PIN on a key that has none.
func (k *Key) SetPIN(ctx context.Context, pin string) error {
	if err := checkPIN("the PIN", pin); err != nil {
		return fmt.Errorf("set PIN on %s: %w", k.path, err)
	}
	err := k.call(ctx, "set PIN", false, func(dev *libfido2.Device) error {
		return dev.SetPIN(pin, "")
	})
	if err == nil {
		k.log.Info("PIN set")
	}
	if errors.Is(err, ErrNotAllowed) {
		return fmt.Errorf("%w: the key may already have a PIN; change it instead", err)
	}
	return k.explainPolicy(ctx, "set PIN", err)
}

// ChangePIN replaces the key's PIN.
func (k *Key) ChangePIN(ctx context.Context, old, new string) error {
	if old == "" {
		return fmt.Errorf("change PIN on %s: %w: the current PIN is empty", k.path, ErrPINRequired)
	}
	if err := checkPIN("the new PIN", new); err != nil {
		return fmt.Errorf("change PIN on %s: %w", k.path, err)
	}
	err := k.call(ctx, "change PIN", false, func(dev *libfido2.Device) error {
		return dev.SetPIN(new, old)
	})
	if err == nil {
		k.log.Info("PIN changed")
	}
	return k.withRetries(ctx, "change PIN", k.explainPolicy(ctx, "change PIN", err))
}

// explainPolicy replaces a policy error from op with one naming the key's
// minimum PIN length.
func (k *Key) explainPolicy(ctx context.Context, op string, err error) error {
	if !errors.Is(err, ErrPINPolicy) {
		return err
	}
	var n int
	if cerr := k.call(ctx, "read minimum PIN length", false, func(*libfido2.Device) error {
		n = readMinPINLength(k.path)
		return nil
	}); cerr != nil || n <= 0 {
		return err
	}
	return fmt.Errorf("%s on %s: %w: the key needs at least %d characters", op, k.path, ErrPINPolicy, n)
}

// withRetries turns a wrong-PIN error from op into a *PINError with the
// retries left, read from the key.
func (k *Key) withRetries(ctx context.Context, op string, err error) error {
	if !errors.Is(err, ErrPINInvalid) {
		return err
	}
	n, rerr := k.PINRetries(ctx)
	if rerr != nil {
		n = -1
	}
	if n == 0 {
		return fmt.Errorf("%s on %s: %w", op, k.path, ErrPINBlocked)
	}
	return fmt.Errorf("%s on %s: %w", op, k.path, &PINError{RetriesLeft: n})
}

func checkClientDataHash(h []byte) error {
	if len(h) != clientDataLen {
		return fmt.Errorf("%w: client data hash is %d bytes, want %d (SHA-256 of the clientDataJSON)", ErrInvalidInput, len(h), clientDataLen)
	}
	return nil
}

func checkCredentialIDs(what string, ids [][]byte) error {
	for i, id := range ids {
		if len(id) == 0 {
			return fmt.Errorf("%w: %s entry %d is an empty credential ID", ErrInvalidInput, what, i)
		}
	}
	return nil
}

func (r *MakeCredentialRequest) validate() error {
	if err := checkClientDataHash(r.ClientDataHash); err != nil {
		return err
	}
	switch {
	case r.RPID == "":
		return fmt.Errorf("%w: empty relying party ID", ErrInvalidInput)
	case len(r.UserID) == 0:
		return fmt.Errorf("%w: empty user ID", ErrInvalidInput)
	case len(r.UserID) > maxUserIDLen:
		return fmt.Errorf("%w: user ID is %d bytes, at most %d are allowed", ErrInvalidInput, len(r.UserID), maxUserIDLen)
	case r.UserName == "":
		return fmt.Errorf("%w: empty user name", ErrInvalidInput)
	case r.UserVerification && r.PIN == "":
		return fmt.Errorf("%w: user verification needs the key's PIN", ErrPINRequired)
	}
	return checkCredentialIDs("exclude list", r.ExcludeList)
}

func optionOf(b bool) libfido2.OptionValue {
	if b {
		return libfido2.True
	}
	return libfido2.Default
}

// MakeCredential creates an ES256 credential; the user must touch the key.
func (k *Key) MakeCredential(ctx context.Context, req MakeCredentialRequest) (Registration, error) {
	if err := req.validate(); err != nil {
		return Registration{}, fmt.Errorf("make credential on %s: %w", k.path, err)
	}
	if len(req.ExcludeList) > 0 {
		if err := k.checkExcluded(ctx, req); err != nil {
			return Registration{}, err
		}
	}
	var att *libfido2.Attestation
	err := k.call(ctx, "make credential", true, func(dev *libfido2.Device) error {
		var err error
		att, err = dev.MakeCredential(req.ClientDataHash,
			libfido2.RelyingParty{ID: req.RPID, Name: req.RPName},
			libfido2.User{ID: req.UserID, Name: req.UserName, DisplayName: req.DisplayName},
			libfido2.ES256, req.PIN,
			&libfido2.MakeCredentialOpts{RK: optionOf(req.ResidentKey), UV: optionOf(req.UserVerification)})
		return err
	})
	if err != nil {
		return Registration{}, k.withRetries(ctx, "make credential", err)
	}
	reg, err := registrationOf(att)
	if err != nil {
		return Registration{}, fmt.Errorf("make credential on %s: %w", k.path, err)
	}
	k.log.Info("credential created", "rp", req.RPID, "format", reg.Format, "resident", req.ResidentKey)
	return reg, nil
}

// checkExcluded asks the key, without a touch, whether it holds one of the
// exclude list's credentials: go-libfido2 cannot pass an exclude list.
func (k *Key) checkExcluded(ctx context.Context, req MakeCredentialRequest) error {
	err := k.call(ctx, "check exclude list", false, func(dev *libfido2.Device) error {
		_, err := dev.Assertion(req.RPID, req.ClientDataHash, req.ExcludeList, req.PIN,
			&libfido2.AssertionOpts{UP: libfido2.False})
		return err
	})
	switch {
	case err == nil:
		return fmt.Errorf("make credential on %s: %w", k.path, ErrExcluded)
	case errors.Is(err, ErrNoCredentials):
		return nil
	}
	return k.withRetries(ctx, "make credential", err)
}

// GetAssertion signs the client data hash with a credential for RPID; the
// user must touch the key.
func (k *Key) GetAssertion(ctx context.Context, req AssertionRequest) (Assertion, error) {
	if err := checkClientDataHash(req.ClientDataHash); err != nil {
		return Assertion{}, fmt.Errorf("get assertion on %s: %w", k.path, err)
	}
	if req.RPID == "" {
		return Assertion{}, fmt.Errorf("get assertion on %s: %w: empty relying party ID", k.path, ErrInvalidInput)
	}
	if req.UserVerification && req.PIN == "" {
		return Assertion{}, fmt.Errorf("get assertion on %s: %w: user verification needs the key's PIN", k.path, ErrPINRequired)
	}
	if err := checkCredentialIDs("allow list", req.AllowList); err != nil {
		return Assertion{}, fmt.Errorf("get assertion on %s: %w", k.path, err)
	}
	var as *libfido2.Assertion
	err := k.call(ctx, "get assertion", true, func(dev *libfido2.Device) error {
		var err error
		as, err = dev.Assertion(req.RPID, req.ClientDataHash, req.AllowList, req.PIN,
			&libfido2.AssertionOpts{UV: optionOf(req.UserVerification)})
		return err
	})
	if err != nil {
		return Assertion{}, k.withRetries(ctx, "get assertion", err)
	}
	authData, err := unwrapAuthData(as.AuthDataCBOR)
	if err != nil {
		return Assertion{}, fmt.Errorf("get assertion on %s: %w", k.path, err)
	}
	return Assertion{
		CredentialID: as.CredentialID,
		AuthData:     authData,
		Signature:    as.Sig,
		UserID:       as.User.ID,
	}, nil
}

// ResidentCredentials lists the discoverable credentials for rpID; none is
// an empty list, not an error.
func (k *Key) ResidentCredentials(ctx context.Context, rpID, pin string) ([]ResidentCredential, error) {
	if rpID == "" {
		return nil, fmt.Errorf("list credentials on %s: %w: empty relying party ID", k.path, ErrInvalidInput)
	}
	if pin == "" {
		return nil, fmt.Errorf("list credentials on %s: %w", k.path, ErrPINRequired)
	}
	var creds []*libfido2.Credential
	err := k.call(ctx, "list credentials", false, func(dev *libfido2.Device) error {
		var err error
		creds, err = dev.Credentials(rpID, pin)
		return err
	})
	if errors.Is(err, ErrNoCredentials) {
		return []ResidentCredential{}, nil
	}
	if err != nil {
		return nil, k.withRetries(ctx, "list credentials", err)
	}
	out := make([]ResidentCredential, 0, len(creds))
	for _, c := range creds {
		out = append(out, ResidentCredential{ID: c.ID, UserID: c.User.ID, UserName: c.User.Name, RPID: rpID})
	}
	return out, nil
}

// DeleteResidentCredential removes a discoverable credential from the key.
func (k *Key) DeleteResidentCredential(ctx context.Context, credID []byte, pin string) error {
	if len(credID) == 0 {
		return fmt.Errorf("delete credential on %s: %w: empty credential ID", k.path, ErrInvalidInput)
	}
	if pin == "" {
		return fmt.Errorf("delete credential on %s: %w", k.path, ErrPINRequired)
	}
	err := k.call(ctx, "delete credential", false, func(dev *libfido2.Device) error {
		return dev.DeleteCredential(credID, pin)
	})
	if err == nil {
		k.log.Info("resident credential deleted")
	}
	return k.withRetries(ctx, "delete credential", err)
}

// Reset erases every credential and the PIN. Keys only allow it shortly
// after being plugged in (ErrNotAllowed otherwise) and need a touch.
func (k *Key) Reset(ctx context.Context) error {
	err := k.call(ctx, "reset", true, func(dev *libfido2.Device) error {
		return dev.Reset()
	})
	if err == nil {
		k.log.Info("key reset")
	}
	return err
}
