package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// modemsim is cmd/modemsim in its own process. Every "sms delivered" line
// it logs sends the time the line was read on delivered, every "call" line
// a callEvent on calls.
type modemsim struct {
	cmd       *exec.Cmd
	dir       string // removed by stop unless kept
	keepDir   bool
	port      string
	started   time.Time // when the port line was read: the symlink exists
	delivered chan time.Time
	calls     chan callEvent
	exited    chan struct{}
}

// callEvent is one "call" line of modemsim: the call's state on the
// virtual network and how many prompts the modem has played into it.
type callEvent struct {
	at      time.Time
	state   string // dialing, ringing, active, ended
	prompts int
}

var (
	portLine = regexp.MustCompile(`port=(\S+)`)
	callLine = regexp.MustCompile(`msg=call .*state=(\w+).*prompts=(\d+)`)
)

// startModemsim runs one simulated Quectel modem with zero radio latency
// in a new directory; extra flags come after (and override) the defaults.
func startModemsim(bin string, extra ...string) (*modemsim, error) {
	dir, err := os.MkdirTemp("", "mfagate-bench-sim-")
	if err != nil {
		return nil, err
	}
	args := append([]string{"-dir", dir, "-profile", "quectel", "-latency", "0s"}, extra...)
	return launchModemsim(bin, dir, false, args)
}

// startModemsimLink runs one simulated Quectel modem whose port is the
// symlink link, as a udev rule would name a USB modem. The link's
// directory is left in place, so that the same port can come back.
func startModemsimLink(bin, link string, extra ...string) (*modemsim, error) {
	args := append([]string{"-link", link, "-profile", "quectel", "-latency", "0s"}, extra...)
	return launchModemsim(bin, filepath.Dir(link), true, args)
}

func launchModemsim(bin, dir string, keepDir bool, args []string) (*modemsim, error) {
	m := &modemsim{dir: dir, keepDir: keepDir, delivered: make(chan time.Time, 1024), calls: make(chan callEvent, 1024), exited: make(chan struct{})}
	m.cmd = exec.Command(filepath.Join(bin, "modemsim"), args...)
	stdout, _ := m.cmd.StdoutPipe()
	stderr, _ := m.cmd.StderrPipe()
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			now, l := time.Now(), sc.Text()
			if strings.Contains(l, "sms delivered") {
				select {
				case m.delivered <- now:
				default:
				}
			} else if c := callLine.FindStringSubmatch(l); c != nil {
				n, _ := strconv.Atoi(c[2])
				select {
				case m.calls <- callEvent{at: now, state: c[1], prompts: n}:
				default:
				}
			}
		}
	}()
	ports := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p := portLine.FindStringSubmatch(sc.Text()); p != nil {
				ports <- p[1]
			}
		}
	}()
	go func() { m.cmd.Wait(); close(m.exited) }()
	select {
	case m.port = <-ports:
		m.started = time.Now()
		return m, nil
	case <-time.After(10 * time.Second):
		m.stop()
		return nil, fmt.Errorf("modemsim printed no port")
	}
}

// stop ends the process (the port and its symlink vanish) and waits for it.
func (m *modemsim) stop() {
	m.cmd.Process.Signal(syscall.SIGCONT) // a hung simulator must see the SIGTERM
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
	if !m.keepDir {
		os.RemoveAll(m.dir)
	}
}

// hang stops the process without closing its port: the modem no longer
// answers, as a wedged USB modem does.
func (m *modemsim) hang() error { return m.cmd.Process.Signal(syscall.SIGSTOP) }

// drainEvents forgets deliveries and call events seen so far.
func (m *modemsim) drainEvents() {
	for {
		select {
		case <-m.delivered:
		case <-m.calls:
		default:
			return
		}
	}
}

// latencies submits n messages one at a time through submit and returns
// the time from submit's start to the handset receiving each. Between
// messages it waits a random time up to gap so that submissions do not
// fall in step with a peer's polling.
func (m *modemsim) latencies(ctx context.Context, n int, limit, gap time.Duration, submit func(i int) error) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		m.drainEvents()
		t0 := time.Now()
		if err := submit(i); err != nil {
			return out, err
		}
		select {
		case t := <-m.delivered:
			out = append(out, t.Sub(t0))
		case <-time.After(limit):
			return out, fmt.Errorf("message %d not delivered within %s", i, limit)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(gap))))
	}
	return out, nil
}
