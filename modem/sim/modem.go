package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"mfagate/phone"
)

// Options configures a simulated modem. Zero values take the documented defaults.
type Options struct {
	// Profile is "quectel", "simcom", "huawei" or "generic" (default).
	Profile string
	// Network the modem is attached to (required).
	Network *Network
	// Identity. Defaults: IMEI 860000000000001, IMSI 440101234567890,
	// ICCID 8981100000000000001, no own number.
	IMEI, IMSI, ICCID string
	Number            string // the SIM's own number, used as sender of SMS and calls
	// Operator name shown by AT+COPS? (default "NTT DOCOMO").
	Operator string
	// SMSC address reported by AT+CSCA? (default "+819020000000").
	SMSC string
	// RSSI is the +CSQ signal value 0..31 (default 20).
	RSSI int
	// LinkDir and LinkName place the stable symlink Path() returns. Without
	// LinkDir a private temporary directory is created and removed on Close.
	// LinkName defaults to "ttyGSM0".
	LinkDir, LinkName string
	// BootDelay is the time from a restart (AT+CFUN=1,1, Reboot, Replug) to
	// the boot URCs; input is ignored meanwhile (default 50 ms). The first
	// boot is over when Start returns.
	BootDelay time.Duration
	// PromptDuration is how long a prompt takes to play (default 200 ms).
	PromptDuration time.Duration
	// AckTimeout is how long a routed +CDS waits for AT+CNMA when AT+CSMS=1
	// before the modem disables routing (default 5 s).
	AckTimeout time.Duration
	// Logger receives diagnostics (never numbers in full, codes or PDUs).
	Logger *slog.Logger
}

// Counters count what crossed the simulated port and the radio.
type Counters struct {
	BytesIn, BytesOut int64
	Commands          int64 // AT commands executed (each part of a chained line counts)
	Errors            int64 // error finals sent (ERROR, +CME ERROR, +CMS ERROR)
	SMSSubmitted      int64 // +CMGS successes
	SMSRejected       int64 // +CMGS answered with an error
	StatusReports     int64 // status reports generated
	SMSReceived       int64 // SMS segments received from the network
	Calls             int64 // ATD voice calls
	DTMF              int64 // DTMF URCs emitted
	Prompts           int64 // prompts played into calls
	URCs              int64
	Boots             int64
	Unplugs           int64
}

// Modem is one simulated GSM modem on a pseudo-terminal. One goroutine (the
// owner) holds all AT and call state and is the only writer to the pty; a
// reader goroutine per pty only pumps bytes to it. Methods are safe for
// concurrent use.
type Modem struct {
	opts Options
	prof *profile
	net  *Network
	log  *slog.Logger

	link   string
	tmpDir string // created by Start, removed by Close

	reqs   chan request
	cancel context.CancelFunc
	done   chan struct{} // closed when the owner goroutine has exited
	wg     sync.WaitGroup
	once   sync.Once

	mu       sync.Mutex // guards the fields below
	counters Counters
	devPath  string
	history  []string
}

type request struct {
	fn   func(*state) error
	errc chan error
}

// ErrClosed is returned by operations on a closed modem.
var ErrClosed = errors.New("modem simulator closed")

// Start creates the pty, the stable symlink and the owner goroutine. The
// modem runs until Close or until ctx ends.
func Start(ctx context.Context, opts Options) (*Modem, error) {
	prof, err := lookupProfile(opts.Profile)
	if err != nil {
		return nil, fmt.Errorf("start modem simulator: %w", err)
	}
	if opts.Network == nil {
		return nil, errors.New("start modem simulator: Options.Network is required")
	}
	if err := applyDefaults(&opts); err != nil {
		return nil, fmt.Errorf("start modem simulator: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Modem{
		opts: opts, prof: prof, net: opts.Network,
		log:  log.With("imei", opts.IMEI, "profile", prof.name),
		reqs: make(chan request), done: make(chan struct{}),
	}
	dir := opts.LinkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "modemsim-"); err != nil {
			return nil, fmt.Errorf("start modem simulator: %w", err)
		}
		m.tmpDir = dir
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start modem simulator: link dir: %w", err)
	}
	m.link = filepath.Join(dir, opts.LinkName)

	if err := m.net.attach(m); err != nil {
		if m.tmpDir != "" {
			os.RemoveAll(m.tmpDir)
		}
		return nil, fmt.Errorf("start modem simulator: %w", err)
	}
	ctx, m.cancel = context.WithCancel(ctx)
	s := newState(m, ctx)
	if err := s.plug(); err != nil {
		m.cancel()
		m.net.detach(m)
		if m.tmpDir != "" {
			os.RemoveAll(m.tmpDir)
		}
		return nil, fmt.Errorf("start modem simulator: %w", err)
	}
	// The first boot completes before Start returns: the boot URCs wait in
	// the port for the first client and no early command is lost.
	s.booted()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(m.done)
		s.loop()
	}()
	m.log.Info("modem simulator started", "path", m.link)
	return m, nil
}

func applyDefaults(opts *Options) error {
	setDefault(&opts.IMEI, "860000000000001")
	setDefault(&opts.IMSI, "440101234567890")
	setDefault(&opts.ICCID, "8981100000000000001")
	setDefault(&opts.Operator, "NTT DOCOMO")
	setDefault(&opts.SMSC, "+819020000000")
	setDefault(&opts.LinkName, "ttyGSM0")
	if opts.RSSI <= 0 || opts.RSSI > 31 {
		opts.RSSI = 20
	}
	if opts.BootDelay <= 0 {
		opts.BootDelay = 50 * time.Millisecond
	}
	if opts.PromptDuration <= 0 {
		opts.PromptDuration = 200 * time.Millisecond
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 5 * time.Second
	}
	if opts.Number != "" && !e164.MatchString(opts.Number) {
		return fmt.Errorf("own number %s: %w", phone.Mask(opts.Number), ErrBadNumber)
	}
	if filepath.Base(opts.LinkName) != opts.LinkName {
		return fmt.Errorf("LinkName %q must be a plain file name", opts.LinkName)
	}
	return nil
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// Path returns the stable symlink a client opens (raw mode, any baud). It
// keeps its name across Unplug/Replug, like a udev name.
func (m *Modem) Path() string { return m.link }

// DevicePath returns the current /dev/pts node ("" while unplugged).
func (m *Modem) DevicePath() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.devPath
}

// IMEI returns the simulated IMEI.
func (m *Modem) IMEI() string { return m.opts.IMEI }

// Profile returns the vendor profile name.
func (m *Modem) Profile() string { return m.prof.name }

// Counters returns a snapshot of the counters.
func (m *Modem) Counters() Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters
}

// History returns the last AT command lines received (up to 256), oldest
// first. SMS PDU and text bodies are not included.
func (m *Modem) History() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.history)
}

func (m *Modem) count(f func(c *Counters)) {
	m.mu.Lock()
	f(&m.counters)
	m.mu.Unlock()
}

// Close stops the simulator, closes the pty (clients see EOF/EIO), removes the
// symlink and waits for its goroutines.
func (m *Modem) Close() error {
	m.once.Do(func() {
		m.cancel()
		m.wg.Wait()
		m.net.detach(m)
		if m.tmpDir != "" {
			os.RemoveAll(m.tmpDir)
		}
	})
	return nil
}

// do runs fn in the owner goroutine and returns its error.
func (m *Modem) do(ctx context.Context, fn func(*state) error) error {
	r := request{fn: fn, errc: make(chan error, 1)}
	select {
	case m.reqs <- r:
	case <-m.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.errc:
		return err
	case <-m.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FailNextSends makes the next n SMS submits fail with +CMS ERROR: cms
// (e.g. 38, 42, 330, 331, 500).
func (m *Modem) FailNextSends(ctx context.Context, n, cms int) error {
	if n < 0 || cms <= 0 || cms > 999 {
		return fmt.Errorf("fail next sends: need n >= 0 and a CMS code 1..999, got n=%d code=%d", n, cms)
	}
	return m.do(ctx, func(s *state) error {
		s.failSends, s.failCMS = n, cms
		return nil
	})
}

// SetHang makes the modem stop answering entirely (input is swallowed, no
// output, no URCs) until SetHang(false), Reboot or Replug.
func (m *Modem) SetHang(ctx context.Context, hang bool) error {
	return m.do(ctx, func(s *state) error {
		s.hang = hang
		if !hang {
			s.line = s.line[:0]
		}
		return nil
	})
}

// SetReplyDelay delays every command's answer by d (slow modem); 0 restores.
func (m *Modem) SetReplyDelay(ctx context.Context, d time.Duration) error {
	if d < 0 || d > 10*time.Minute {
		return fmt.Errorf("set reply delay: %v out of range 0..10m", d)
	}
	return m.do(ctx, func(s *state) error {
		s.replyDelay = d
		return nil
	})
}

// SetNoNetwork takes the modem off the network (+CSQ: 99,99, registration
// 2 "searching", SMS fail with +CMS ERROR: 331, calls with NO CARRIER) or
// back on (registered, home network).
func (m *Modem) SetNoNetwork(ctx context.Context, off bool) error {
	stat := 1
	if off {
		stat = 2
	}
	return m.SetRegistration(ctx, stat)
}

// SetRegistration sets the registration state the network grants, as
// +CREG/+CGREG/+CEREG report it: 0 not searching, 1 home, 2 searching,
// 3 denied, 4 unknown, 5 roaming. Only 1 and 5 allow SMS and calls.
// Clients with AT+CxREG=1|2 get the URC.
func (m *Modem) SetRegistration(ctx context.Context, stat int) error {
	if stat < 0 || stat > 5 {
		return fmt.Errorf("set registration: state %d out of range 0..5", stat)
	}
	return m.do(ctx, func(s *state) error {
		s.setRegistration(stat)
		return nil
	})
}

// SetRSSI sets the +CSQ signal value: 0..31, or 99 for unknown.
func (m *Modem) SetRSSI(ctx context.Context, rssi int) error {
	if (rssi < 0 || rssi > 31) && rssi != 99 {
		return fmt.Errorf("set RSSI: %d is not 0..31 or 99", rssi)
	}
	return m.do(ctx, func(s *state) error {
		s.rssi = rssi
		return nil
	})
}

// SetSIMFault makes SIM-dependent commands fail with +CME ERROR: code
// (10 SIM not inserted, 13 SIM failure); 0 clears the fault.
func (m *Modem) SetSIMFault(ctx context.Context, code int) error {
	if code != 0 && code != 10 && code != 13 && code != 14 && code != 15 {
		return fmt.Errorf("set SIM fault: code %d not one of 0, 10, 13, 14, 15", code)
	}
	return m.do(ctx, func(s *state) error {
		s.simFault = code
		return nil
	})
}

// Unplug closes the pty master and removes the symlink: an open client gets
// EIO/EOF and the path disappears, as when a USB modem is pulled.
func (m *Modem) Unplug(ctx context.Context) error {
	return m.do(ctx, func(s *state) error {
		if s.ptm == nil {
			return errors.New("unplug: already unplugged")
		}
		s.unplug()
		return nil
	})
}

// Replug brings a fresh pty behind the same Path() and boots the modem.
func (m *Modem) Replug(ctx context.Context) error {
	return m.do(ctx, func(s *state) error {
		if s.ptm != nil {
			return errors.New("replug: modem is plugged in")
		}
		return s.plug()
	})
}

// Reboot resets the modem as a firmware crash would: settings are lost,
// calls drop and the boot URCs (RDY …) are sent again.
func (m *Modem) Reboot(ctx context.Context) error {
	return m.do(ctx, func(s *state) error {
		s.reboot()
		return nil
	})
}

// InjectGarbage writes raw bytes to the client, as line noise would.
func (m *Modem) InjectGarbage(ctx context.Context, b []byte) error {
	b = slices.Clone(b)
	return m.do(ctx, func(s *state) error {
		s.write(b)
		return nil
	})
}

// HoldURCs makes the modem hold back URCs and emit them inside the answer to
// the next command (between echo and information text), as real modems do
// when an event races a command.
func (m *Modem) HoldURCs(ctx context.Context, hold bool) error {
	return m.do(ctx, func(s *state) error {
		s.holdURCs = hold
		if !hold && len(s.heldURCs) > 0 {
			s.write(s.heldURCs)
			s.heldURCs = nil
		}
		return nil
	})
}

// openPTY opens a pty pair: the master in non-blocking mode (so deadlines
// work and Close unblocks readers) and the slave in raw mode.
func openPTY() (ptm, pts *os.File, err error) {
	p, t, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	defer p.Close()
	// pty.Open called Fd(), which put the master in blocking mode; re-wrap a
	// non-blocking duplicate so the runtime poller handles it.
	fd, err := unix.FcntlInt(p.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Close()
		return nil, nil, fmt.Errorf("dup pty master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		t.Close()
		return nil, nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	ptm = os.NewFile(uintptr(fd), "/dev/ptmx")
	tio, err := unix.IoctlGetTermios(int(t.Fd()), unix.TCGETS)
	if err == nil {
		tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		tio.Oflag &^= unix.OPOST
		tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		tio.Cflag &^= unix.CSIZE | unix.PARENB
		tio.Cflag |= unix.CS8
		tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
		err = unix.IoctlSetTermios(int(t.Fd()), unix.TCSETS, tio)
	}
	if err != nil {
		ptm.Close()
		t.Close()
		return nil, nil, fmt.Errorf("pty raw mode: %w", err)
	}
	return ptm, t, nil
}

// replaceLink points link at target atomically.
func replaceLink(target, link string) error {
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("symlink %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("symlink %s: %w", link, err)
	}
	return nil
}
