package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// The README's "Try the demo" walkthrough, run as written: the block
// between <!-- demo-walkthrough --> and <!-- /demo-walkthrough --> is split
// into commands, each run by bash in a directory that looks like a
// checkout (the repository's files, and the demo's state in .demo),
// against a demo on a port other than the default. Like a person at the
// terminal, the test types the authenticator app's code (computed with
// pquerna/otp from the key mfagatectl prints), the SMS codes the virtual
// handset received, and the digits of a call in place of <digits>. Each
// "# → TEXT" line after a command must be in that command's output.
func TestREADMEDemoWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (the walkthrough uses it)")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps := walkthrough(t, string(readme))

	// The first terminal: make demo DEMO_LISTEN=…, here the same daemon
	// on another free port, with quick virtual handsets.
	if !strings.Contains(string(readme), "make demo DEMO_LISTEN=127.0.0.1:8471") {
		t.Fatal("the README no longer starts the demo with make demo DEMO_LISTEN=…")
	}
	bin, addr := binariesAndPort(t)
	work := checkoutView(t)
	cmd := exec.Command(filepath.Join(bin, "mfagated"), "-demo", "-state-dir", filepath.Join(work, ".demo"), "-listen", addr,
		"-log-level", "warn", "-sim-sms-latency", "200ms", "-sim-answer-after", "300ms")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(stdout)
	readUntil(t, out, "Stop it with Ctrl-C")
	go io.Copy(io.Discard, out)
	admin, _ := os.ReadFile(filepath.Join(work, ".demo", "admin.token"))
	d := &driver{t: t, base: "http://" + addr, token: strings.TrimSpace(string(admin)), dir: work,
		env: filepath.Join(t.TempDir(), "env")}

	for _, s := range steps {
		got, later := d.run(s)
		if later {
			continue // a call waiting for keys: checked when it ends (keys)
		}
		check(t, s, got)
	}
	if d.running != nil {
		t.Fatalf("README line %d: the call waits for keys no later line presses", d.waiting.line)
	}
	// What the walkthrough promised, checked once more through the API.
	var u struct {
		MFA     struct{ State string }
		Methods []struct{ Kind, Label string }
	}
	d.get("/v1/users/0123456789", &u)
	if u.MFA.State != "pending" || len(u.Methods) != 5 {
		t.Fatalf("after the walkthrough the user is %+v", u)
	}
}

func check(t *testing.T, s step, got string) {
	t.Helper()
	for _, want := range s.expect {
		if !strings.Contains(got, want) {
			t.Fatalf("README line %d: %s\nthe output lacks %q:\n%s", s.line, s.cmd, want, got)
		}
	}
}

// step is one command of the walkthrough and the texts its output must
// hold.
type step struct {
	line   int
	cmd    string
	expect []string
	// aside: "in a third terminal": run while the command before it still
	// runs, then wait for both.
	aside bool
}

func walkthrough(t *testing.T, readme string) []step {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- demo-walkthrough -->")
	block, _, ok2 := strings.Cut(rest, "<!-- /demo-walkthrough -->")
	if !ok || !ok2 {
		t.Fatal("README.md lacks the demo-walkthrough markers")
	}
	first := strings.Count(readme[:strings.Index(readme, "<!-- demo-walkthrough -->")], "\n") + 1
	var steps []step
	var cmd strings.Builder
	start, aside := 0, false
	for i, line := range strings.Split(block, "\n") {
		n := first + i
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			continue
		case cmd.Len() > 0:
			cmd.WriteString("\n" + line)
		case strings.HasPrefix(trimmed, "# → "):
			if len(steps) == 0 {
				t.Fatalf("README line %d: an expectation before any command", n)
			}
			steps[len(steps)-1].expect = append(steps[len(steps)-1].expect, strings.TrimPrefix(trimmed, "# → "))
			continue
		case strings.HasPrefix(trimmed, "#"):
			aside = aside || strings.Contains(trimmed, "third terminal")
			continue
		case trimmed == "":
			aside = false
			continue
		default:
			cmd.WriteString(line)
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			continue
		}
		steps = append(steps, step{line: start, cmd: cmd.String(), aside: aside && strings.HasPrefix(cmd.String(), "curl")})
		if steps[len(steps)-1].aside {
			aside = false
		}
		cmd.Reset()
	}
	if len(steps) < 10 {
		t.Fatalf("only %d commands between the markers", len(steps))
	}
	return steps
}

// checkoutView is a directory holding the repository's top-level entries
// as symbolic links, so that "go run ./cmd/mfagatectl" works in it, and a
// .demo of its own (never the developer's).
func checkoutView(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, e := range entries {
		switch e.Name() {
		case ".demo", ".git", "bin":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// driver runs the commands and plays the person at the terminal.
type driver struct {
	t     *testing.T
	base  string
	token string
	dir   string
	env   string // the shell variables the commands set, carried from one to the next
	phone string // the last SMS phone registered: where test and proof codes go
	// running is the command that waits for the aside after it, the
	// call's digits it shows, and its step.
	running *proc
	digits  string
	waiting step
}

type proc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

var (
	manualKey = regexp.MustCompile(`Manual key:\s+([A-Z2-7 ]+)\n`)
	keyIn     = regexp.MustCompile(`key in (\d+) when asked`)
	smsCode   = regexp.MustCompile(`\b(\d{6})\b`)
	phoneFlag = regexp.MustCompile(`\s-phone (\S+)`)
)

// start runs one command under bash with the variables of the commands
// before it; the variables it sets are kept for the next.
func (d *driver) start(s step) *proc {
	script := fmt.Sprintf("set -a\n[ -f %[1]q ] && . %[1]q\n%[2]s\nrc=$?\nexport -p > %[1]q\nexit $rc\n", d.env, s.cmd)
	p := &proc{cmd: exec.Command("bash", "-c", script), done: make(chan error, 1)}
	p.cmd.Dir = d.dir
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.in, _ = p.cmd.StdinPipe()
	if err := p.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// run runs s to its end, answering its prompts, and returns its output;
// later when s waits for a call's keys that the next step presses.
func (d *driver) run(s step) (out string, later bool) {
	t := d.t
	if strings.Contains(s.cmd, "<digits>") {
		if d.running == nil || !s.aside {
			t.Fatalf("README line %d: <digits> is used outside a call's third-terminal step", s.line)
		}
		return d.keys(s), false
	}
	if d.running != nil {
		t.Fatalf("README line %d: the call of line %d waits for keys, but this line does not press them", s.line, d.waiting.line)
	}
	if m := phoneFlag.FindStringSubmatch(s.cmd); m != nil && !strings.Contains(s.cmd, "voice") {
		d.phone = m[1]
	}
	sent := d.messages()
	p := d.start(s)
	answered := map[string]bool{}
	deadline := time.Now().Add(4 * time.Minute) // the first "go run" compiles mfagatectl
	for {
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("README line %d: %s\n%v:\n%s", s.line, s.cmd, err, p.output())
			}
			return p.output(), false
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("README line %d: %s\nstill running after 4 minutes:\n%s", s.line, s.cmd, p.output())
		}
		got := p.output()
		switch {
		case strings.Contains(got, "digit code shown in the app") && !answered["totp"]:
			m := manualKey.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("README line %d: a code is asked for but no key was printed:\n%s", s.line, got)
			}
			code, err := totp.GenerateCode(strings.ReplaceAll(m[1], " ", ""), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(p.in, code)
			answered["totp"] = true
		case strings.Contains(got, "code sent by SMS") && !answered["sms"]:
			fmt.Fprintln(p.in, d.nextSMS(s, sent))
			answered["sms"] = true
		case keyIn.MatchString(got) && d.running == nil:
			// A call waits for keys pressed in another terminal: the
			// next step is that terminal.
			d.digits = keyIn.FindStringSubmatch(got)[1]
			d.running, d.waiting = p, s
			return "", true
		}
	}
}

// keys runs an aside that presses the call's digits: the reader replaces
// <digits>; the call must have been answered, so "no call yet" and "still
// ringing" are tried again as a person would.
func (d *driver) keys(s step) string {
	t := d.t
	cmd := strings.ReplaceAll(s.cmd, "<digits>", d.digits)
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for {
		p := d.start(step{line: s.line, cmd: cmd})
		if err := <-p.done; err != nil {
			t.Fatalf("README line %d: %s\n%v:\n%s", s.line, cmd, err, p.output())
		}
		out = p.output()
		if out == "" { // 204: the keys were pressed on the answered call
			break
		}
		// Before the handset answered the gateway says why not yet
		// (no call, still ringing): a person tries again.
		if time.Now().After(deadline) || !(strings.Contains(out, "no_call") || strings.Contains(out, "ringing") || strings.Contains(out, "unknown_phone")) {
			t.Fatalf("README line %d: the keys were not taken: %s", s.line, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	running := d.running
	d.running = nil
	select {
	case err := <-running.done:
		if err != nil {
			t.Fatalf("the call's command failed after the keys: %v\n%s", err, running.output())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the call's command did not end after the keys:\n%s", running.output())
	}
	check(t, d.waiting, running.output())
	return out
}

// messages counts what the SMS phone's handset received so far.
func (d *driver) messages() int {
	if d.phone == "" {
		return 0
	}
	var msgs []struct{ Text string }
	d.get("/v1/demo/phones/"+d.phone+"/messages", &msgs)
	return len(msgs)
}

// nextSMS waits for a message after the first `before` and returns its code.
func (d *driver) nextSMS(s step, before int) string {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var msgs []struct{ Text string }
		d.get("/v1/demo/phones/"+d.phone+"/messages", &msgs)
		if len(msgs) > before {
			m := smsCode.FindStringSubmatch(msgs[len(msgs)-1].Text)
			if m == nil {
				d.t.Fatalf("README line %d: no code in the SMS %q", s.line, msgs[len(msgs)-1].Text)
			}
			return m[1]
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("README line %d: no SMS reached %s within 30s", s.line, d.phone)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *driver) get(path string, v any) {
	d.t.Helper()
	req, _ := http.NewRequest("GET", d.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
}
