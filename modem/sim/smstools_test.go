package sim

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSmstoolsSendsThroughSimulator runs smstools' smsd (Debian smstools)
// against the simulator: a spool file dropped in outgoing/ must reach the
// virtual phone and end up in sent/.
func TestSmstoolsSendsThroughSimulator(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("smsd")
	if err != nil {
		t.Skip("smsd is not installed (Debian package smstools; make deps installs it)")
	}
	n := NewNetwork(NetworkOptions{})
	phone := addPhone(t, n, Behavior{})
	m, err := Start(testCtx(t), Options{Profile: "simcom", Network: n})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	for _, d := range []string{"outgoing", "checked", "failed", "sent", "incoming"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "smsd.conf")
	cfg := strings.NewReplacer("DIR", dir, "PORT", m.Path()).Replace(`devices = GSM1
outgoing = DIR/outgoing
checked = DIR/checked
failed = DIR/failed
sent = DIR/sent
incoming = DIR/incoming
logfile = DIR/smsd.log
infofile = DIR/smsd.working
pidfile = DIR/smsd.pid
loglevel = 7
delaytime = 1

[GSM1]
device = PORT
incoming = no
baudrate = 115200
`)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-c"+conf, "-t")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // smsd and the modem process it forked
		cmd.Wait()
	}()
	text := "Your code is 624120"
	spool := "To: " + strings.TrimPrefix(callee, "+") + "\n\n" + text + "\n"
	if err := os.WriteFile(filepath.Join(dir, "outgoing", "otp1"), []byte(spool), 0o644); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	msg, err := phone.NextSMS(wctx)
	if err != nil {
		logb, _ := os.ReadFile(filepath.Join(dir, "smsd.log"))
		t.Fatalf("no SMS from smsd: %v\nsmsd.log:\n%s", err, logb)
	}
	if strings.TrimSpace(msg.Text) != text {
		t.Errorf("phone got %q, want %q", msg.Text, text)
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "sent", "otp1")); err == nil {
			break
		}
		if time.Now().After(end) {
			logb, _ := os.ReadFile(filepath.Join(dir, "smsd.log"))
			t.Fatalf("smsd did not move the message to sent/\nsmsd.log:\n%s", logb)
		}
	}
}
