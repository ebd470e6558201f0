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
	"strings"
	"syscall"
	"time"
)

// modemsim is cmd/modemsim in its own process; every "sms delivered" line
// it logs sends the time the line was read on delivered.
type modemsim struct {
	cmd       *exec.Cmd
	dir       string
	port      string
	delivered chan time.Time
}

func startModemsim(bin string) (*modemsim, error) {
	dir, err := os.MkdirTemp("", "mfagate-bench-sim-")
	if err != nil {
		return nil, err
	}
	m := &modemsim{dir: dir, delivered: make(chan time.Time, 1024)}
	m.cmd = exec.Command(filepath.Join(bin, "modemsim"), "-dir", dir, "-profile", "quectel", "-latency", "0s")
	stdout, _ := m.cmd.StdoutPipe()
	stderr, _ := m.cmd.StderrPipe()
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "sms delivered") {
				select {
				case m.delivered <- time.Now():
				default:
				}
			}
		}
	}()
	ports := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p := regexp.MustCompile(`port=(\S+)`).FindStringSubmatch(sc.Text()); p != nil {
				ports <- p[1]
			}
		}
	}()
	select {
	case m.port = <-ports:
		return m, nil
	case <-time.After(10 * time.Second):
		m.stop()
		return nil, fmt.Errorf("modemsim printed no port")
	}
}

func (m *modemsim) stop() {
	m.cmd.Process.Signal(syscall.SIGTERM)
	m.cmd.Wait()
	os.RemoveAll(m.dir)
}

// drainEvents forgets deliveries seen so far.
func (m *modemsim) drainEvents() {
	for {
		select {
		case <-m.delivered:
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

// peer is an outside SMS daemon driving a modemsim port, fed through its
// spool directory.
type peer struct {
	name  string
	cmd   *exec.Cmd
	dir   string
	spool string                       // where a new message file goes
	file  func(i int) (string, string) // name and content of message i
}

func (p *peer) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	os.RemoveAll(p.dir)
}

// drop writes message i atomically (write, then rename) into the spool.
func (p *peer) drop(i int) error {
	name, content := p.file(i)
	tmp := filepath.Join(p.dir, "tmp-"+name)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(p.spool, name))
}

const peerText = "mfagate: your sign-in code is 482913. It expires in 5 minutes."

// startGammu runs gammu-smsd (files backend) on port. commtimeout < 0
// keeps Gammu's defaults for the polling settings.
func startGammu(port string, aggressive bool) (*peer, error) {
	bin, err := exec.LookPath("gammu-smsd")
	if err != nil {
		return nil, fmt.Errorf("gammu-smsd is not installed (Debian package gammu-smsd)")
	}
	dir, err := os.MkdirTemp("", "mfagate-bench-gammu-")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"inbox", "outbox", "sent", "error"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	conf := fmt.Sprintf(`[gammu]
device = %s
connection = at
use_locking = no

[smsd]
service = files
inboxpath = %[2]s/inbox/
outboxpath = %[2]s/outbox/
sentsmspath = %[2]s/sent/
errorsmspath = %[2]s/error/
logfile = %[2]s/smsd.log
debuglevel = 0
`, port, dir)
	name := "gammu-smsd (defaults)"
	if aggressive {
		name = "gammu-smsd (commtimeout 0, loopsleep 0)"
		conf += "commtimeout = 0\nloopsleep = 0\nstatusfrequency = 0\nreceivefrequency = 3600\ncheckbattery = 0\ncheckSignal = 0\ncheckNetwork = 0\ncheckSecurity = 0\n"
	}
	rc := filepath.Join(dir, "smsdrc")
	os.WriteFile(rc, []byte(conf), 0o644)
	p := &peer{name: name, dir: dir, spool: filepath.Join(dir, "outbox"),
		file: func(i int) (string, string) { return fmt.Sprintf("OUT+81901000%04d.txt", i), peerText }}
	p.cmd = exec.Command(bin, "-c", rc)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// startSmstools runs smstools3's smsd on port; delay > 0 sets delaytime.
func startSmstools(port string, delay int) (*peer, error) {
	bin, err := exec.LookPath("smsd")
	if err != nil {
		return nil, fmt.Errorf("smsd is not installed (Debian package smstools)")
	}
	dir, err := os.MkdirTemp("", "mfagate-bench-smsd-")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"outgoing", "checked", "failed", "sent", "incoming"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	conf := strings.NewReplacer("DIR", dir, "PORT", port).Replace(`devices = GSM1
outgoing = DIR/outgoing
checked = DIR/checked
failed = DIR/failed
sent = DIR/sent
incoming = DIR/incoming
logfile = DIR/smsd.log
infofile = DIR/smsd.working
pidfile = DIR/smsd.pid
loglevel = 5
`)
	name := "smstools3 smsd (defaults)"
	if delay > 0 {
		name = fmt.Sprintf("smstools3 smsd (delaytime = %d)", delay)
		conf += fmt.Sprintf("delaytime = %d\n", delay)
	}
	conf += "\n[GSM1]\ndevice = " + port + "\nincoming = no\nbaudrate = 115200\n"
	os.WriteFile(filepath.Join(dir, "smsd.conf"), []byte(conf), 0o644)
	p := &peer{name: name, dir: dir, spool: filepath.Join(dir, "outgoing"),
		file: func(i int) (string, string) {
			return fmt.Sprintf("otp%d", i), "To: 81901000" + fmt.Sprintf("%04d", i) + "\n\n" + peerText + "\n"
		}}
	p.cmd = exec.Command(bin, "-c"+filepath.Join(dir, "smsd.conf"), "-t")
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}
