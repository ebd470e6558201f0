package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// pipeState is an owner state whose "pty" is a pipe, so the command
// interpreter can be driven without a goroutine or terminal.
func pipeState(t testing.TB, profile string) (*state, *os.File, <-chan []byte) {
	n := NewNetwork(NetworkOptions{OpenNumbering: true})
	o := Options{Profile: profile, Network: n}
	if err := applyDefaults(&o); err != nil {
		t.Fatal(err)
	}
	m := &Modem{opts: o, prof: profiles[profile], net: n, log: slog.New(slog.DiscardHandler),
		reqs: make(chan request), done: make(chan struct{})}
	s := newState(m, context.Background())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.ptm = w
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		out <- b
	}()
	return s, w, out
}

var fuzzSeeds = []string{
	"AT+CSMS=1;+CNMI=2,2,0,1,0\rAT+CNMA\rAT+CNMA=0\r",
	"AT\r",
	"ATE0\rAT+CMEE=2;+CREG=2\rAT+CREG?\r",
	"AT+CMGS=24\r0011000C911805214365870000FF0BE337B90C8AC966B49A0D\x1a",
	"AT+CMGS=24\r07911809020000F011000C911805214365870000FF0BE337B90C8AC966B49A0D\x1a",
	"AT+CMGF=1\rAT+CMGS=\"+815012345678\"\rhello\x1a",
	"AT+CSCS=\"UCS2\"\rAT+CMGF=1\rAT+CMGS=\"002B0038\"\r00410042\x1a",
	"AT+CMGS=5\r0041000C91\x1b",
	"ATD+815012345678;\rAT+CLCC\rATH\rAT+CHUP\r",
	"AT^DSCI=1;+QTONEDET=1;+QWTTS=1,1,1,\"0041\"\r",
	"AT+CTTS=2,\"x\"\rAT+CCMXPLAY=\"a\",1,0\rAT+CDTAM=?\r",
	"AT+CNMI=2,1,0,2,0;+CSMS=1\rAT+CMGR=0\rAT+CMGD=0,4\rAT+CMGL=4\rAT+CNMA\r",
	"AT+CFUN=1,1\r",
	"\x1b\rAT+CPROT=?\r\x00\xff\r",
	"at+cgmi;+cgmm;+cgmr;+cgsn;+cimi;+gcap;i\r",
	"AT+CPMS=\"ME\",\"ME\",\"ME\"\rAT+CPMS?\rAT+COPS=?\rATS0=0\rATS7?\r",
	"AT+CGSN\r\x08\x08\x7fAT\r",
}

// FuzzCommandLine feeds arbitrary bytes to the AT interpreter: it must never
// panic, and whatever state the bytes leave behind (half a line, a pending
// SMS prompt, a reboot), ESC followed by "AT" must be answered with OK.
func FuzzCommandLine(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, in string, prof uint8) {
		s, w, out := pipeState(t, Profiles[int(prof)%len(Profiles)])
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second): // a hang is a failure too
				panic(fmt.Sprintf("stuck on %q", in))
			}
		}()
		s.process([]byte(in))
		s.booting, s.hang = false, false
		s.process([]byte("\x1b\rAT\r"))
		w.Close()
		got := string(<-out)
		close(done)
		if !strings.HasSuffix(got, "\r\nOK\r\n") {
			t.Errorf("after %q the modem did not answer AT; output ends %q", in, tail(got, 80))
		}
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// FuzzDecodeSubmit checks the PDU intake on arbitrary hex: no panic, and
// anything accepted is a SUBMIT whose length matches and has a destination.
func FuzzDecodeSubmit(f *testing.F) {
	f.Add("0011000C911805214365870000FF0BE337B90C8AC966B49A0D", 24)
	f.Add("07911809020000F011000C911805214365870000FF0BE337B90C8AC966B49A0D", 24)
	f.Add("0051000C9118052143658700080C0500030A0201306E30B330FC30C9", 27)
	f.Add("00", 0)
	f.Add("FF11", 1)
	f.Fuzz(func(t *testing.T, hx string, n int) {
		p, tp, err := decodeSubmit(hx, n)
		if err != nil {
			return
		}
		if len(p.TPDU) != n || tp.DA.Addr == "" {
			t.Errorf("accepted %q with length %d: tpdu %d octets, DA %q", hx, n, len(p.TPDU), tp.DA.Addr)
		}
	})
}
