package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
)

// client is a test's view of the simulated port: a real serial open of Path().
type client struct {
	t    *testing.T
	port serial.Port
	buf  strings.Builder // everything read and not yet consumed
}

const waitLimit = 5 * time.Second // bound for anything a test waits on

func openClient(t *testing.T, path string) *client {
	t.Helper()
	p, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if err := p.SetReadTimeout(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, port: p}
	t.Cleanup(func() { p.Close() })
	return c
}

func (c *client) write(s string) {
	c.t.Helper()
	if _, err := c.port.Write([]byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// readMore reads once; it reports false on a read error.
func (c *client) readMore() bool {
	b := make([]byte, 4096)
	n, err := c.port.Read(b)
	c.buf.WriteString(string(b[:n]))
	return err == nil
}

// expect reads until the unconsumed input contains want and returns the
// input up to and including it.
func (c *client) expect(want string) string {
	c.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(c.buf.String(), want) {
		if time.Now().After(deadline) {
			c.t.Fatalf("did not get %q; got %q", want, c.buf.String())
		}
		if !c.readMore() {
			c.t.Fatalf("read error while waiting for %q; got %q", want, c.buf.String())
		}
	}
	all := c.buf.String()
	i := strings.Index(all, want) + len(want)
	c.buf.Reset()
	c.buf.WriteString(all[i:])
	return all[:i]
}

// quiet reads for d and returns what arrived (for asserting absence).
func (c *client) quiet(d time.Duration) string {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		c.readMore()
	}
	s := c.buf.String()
	c.buf.Reset()
	return s
}

var finals = []string{"\r\nOK\r\n", "\r\nERROR\r\n", "+CME ERROR:", "+CMS ERROR:", "\r\nNO CARRIER\r\n", "\r\n> "}

// cmd sends an AT command line and returns the answer's non-empty lines
// (URCs that arrived in between included), ending with the final result.
func (c *client) cmd(line string) []string {
	c.t.Helper()
	c.write(line + "\r")
	deadline := time.Now().Add(waitLimit)
	for {
		all := c.buf.String()
		for _, f := range finals {
			i := strings.Index(all, f)
			if i < 0 {
				continue
			}
			end := i + len(f)
			if f == "+CME ERROR:" || f == "+CMS ERROR:" {
				j := strings.Index(all[i:], "\r\n")
				if j < 0 {
					continue
				}
				end = i + j + 2
			}
			c.buf.Reset()
			c.buf.WriteString(all[end:])
			return splitLines(all[:end])
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: no final result; got %q", line, all)
		}
		if !c.readMore() {
			c.t.Fatalf("%s: read error; got %q", line, all)
		}
	}
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// last returns the final result of an answer.
func last(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startModem starts a modem on a fresh network and opens a client on it,
// past the boot URCs and with echo off.
func startModem(t *testing.T, profile string, nopts NetworkOptions, mod ...func(*Options)) (*Modem, *Network, *client) {
	t.Helper()
	n := NewNetwork(nopts)
	o := Options{Profile: profile, Network: n, IMEI: "867000000000042",
		Number: "+819011110000", PromptDuration: 30 * time.Millisecond}
	for _, f := range mod {
		f(&o)
	}
	m, err := Start(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c := openClient(t, m.Path())
	boot := m.prof.boot
	c.expect(boot[len(boot)-1])
	if got := c.cmd("ATE0"); last(got) != "OK" {
		t.Fatalf("ATE0: %q", got)
	}
	return m, n, c
}
