package sim

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gammu runs the real gammu binary against the simulator with a temporary gammurc.
func gammu(t *testing.T, m *Modem, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("gammu")
	if err != nil {
		t.Skip("gammu is not installed (Debian package gammu; make deps installs it)")
	}
	dir := t.TempDir()
	rc := filepath.Join(dir, "gammurc")
	cfg := "[gammu]\ndevice = " + m.Path() + "\nconnection = at\nuse_locking = no\nlogfile = " +
		filepath.Join(dir, "gammu.log") + "\nlogformat = textalldate\n"
	if err := os.WriteFile(rc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"-c", rc}, args...)...).CombinedOutput()
	if err != nil {
		logb, _ := os.ReadFile(filepath.Join(dir, "gammu.log"))
		t.Fatalf("gammu %s: %v\n%s\nlog:\n%s", strings.Join(args, " "), err, out, logb)
	}
	return string(out)
}

func TestGammuIdentify(t *testing.T) {
	t.Parallel()
	for _, prof := range Profiles {
		t.Run(prof, func(t *testing.T) {
			t.Parallel()
			n := NewNetwork(NetworkOptions{})
			m, err := Start(testCtx(t), Options{Profile: prof, Network: n, IMEI: "867000000000077"})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			out := gammu(t, m, "identify")
			if !strings.Contains(out, "867000000000077") {
				t.Errorf("identify does not show the IMEI:\n%s", out)
			}
			if !strings.Contains(strings.ToLower(out), strings.ToLower(m.prof.manufacturer)) {
				t.Errorf("identify does not show manufacturer %q:\n%s", m.prof.manufacturer, out)
			}
		})
	}
}

func TestGammuSendSMS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		profile, text string
		unicode       bool
	}{
		{"quectel", "Your sign-in code is 482913", false},
		{"simcom", "サインインコード 482913", true},
		{"generic", strings.Repeat("long message part ", 12), false}, // 216 chars: two parts
	} {
		t.Run(tc.profile, func(t *testing.T) {
			t.Parallel()
			n := NewNetwork(NetworkOptions{})
			phone, err := n.AddPhone("+815012345678", Behavior{})
			if err != nil {
				t.Fatal(err)
			}
			m, err := Start(testCtx(t), Options{Profile: tc.profile, Network: n})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			args := []string{"sendsms", "TEXT", "+815012345678", "-text", tc.text}
			if tc.unicode {
				args = append(args, "-unicode")
			}
			if len(tc.text) > 160 {
				args[1] = "TEXT"
				args = append(args, "-len", "400")
			}
			out := gammu(t, m, args...)
			if !strings.Contains(out, "OK, message reference=") {
				t.Errorf("gammu did not report success:\n%s", out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			msg, err := phone.NextSMS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Text != tc.text {
				t.Errorf("phone got %q, want %q", msg.Text, tc.text)
			}
			if want := 1 + len(tc.text)/160; msg.Parts != want {
				t.Errorf("parts = %d, want %d", msg.Parts, want)
			}
			if msg.UCS2 != tc.unicode {
				t.Errorf("UCS2 = %v, want %v", msg.UCS2, tc.unicode)
			}
			if c := m.Counters(); c.SMSSubmitted < 1 {
				t.Errorf("counters: %+v", c)
			}
		})
	}
}
