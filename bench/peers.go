package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

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
		pg := -p.cmd.Process.Pid
		syscall.Kill(pg, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(pg, syscall.SIGKILL)
			<-done
		}
		// A child (smsd's modem handler) blocked on a hung port can
		// outlive the main process: give the group a moment, then kill it.
		for end := time.Now().Add(2 * time.Second); syscall.Kill(pg, 0) == nil; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(end) {
				syscall.Kill(pg, syscall.SIGKILL)
				break
			}
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
	return startSmstoolsOn([]string{port}, delay, 5)
}

// startSmstoolsOn runs smstools3's smsd with one modem (GSM1, GSM2, …)
// on each port, logging at loglevel (7 logs every AT command).
func startSmstoolsOn(ports []string, delay, loglevel int) (*peer, error) {
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
	var devices []string
	for i := range ports {
		devices = append(devices, fmt.Sprintf("GSM%d", i+1))
	}
	conf := strings.NewReplacer("DIR", dir, "DEVICES", strings.Join(devices, ","), "LEVEL", fmt.Sprint(loglevel)).Replace(`devices = DEVICES
outgoing = DIR/outgoing
checked = DIR/checked
failed = DIR/failed
sent = DIR/sent
incoming = DIR/incoming
logfile = DIR/smsd.log
infofile = DIR/smsd.working
pidfile = DIR/smsd.pid
loglevel = LEVEL
`)
	name := "smstools3 smsd (defaults)"
	if delay > 0 {
		name = fmt.Sprintf("smstools3 smsd (delaytime = %d)", delay)
		conf += fmt.Sprintf("delaytime = %d\n", delay)
	}
	for i, port := range ports {
		conf += "\n[" + devices[i] + "]\ndevice = " + port + "\nincoming = no\nbaudrate = 115200\n"
	}
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
