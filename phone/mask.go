// Package phone masks phone numbers for logs, the outbox and the UI: the
// one place that decides how much of a number may be shown. It sits below
// mfa and modem so that both, the simulator and the commands use it.
package phone

import (
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Mask hides the middle digits of a phone number. An E.164 number keeps its
// country code, its grouping, up to two leading national digits and the
// last four, and always hides at least four: +819012345678 →
// "+81 90-****-5678", +81312345678 → "+81 3-****-5678". Anything else
// (unvalidated input, national form) keeps its separators and only its last
// four digits, or its last two when it has eight digits or fewer, so an
// error message can echo what was sent without disclosing it.
func Mask(s string) string {
	if m, ok := masked.get(s); ok {
		return m
	}
	if m, ok := maskE164(s); ok {
		masked.put(s, m)
		return m
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	keep := 0
	switch {
	case digits > 8:
		keep = 4
	case digits > 4:
		keep = 2
	}
	b := []byte(s)
	for i, c := range b {
		if c >= '0' && c <= '9' && digits > keep {
			b[i] = '*'
			digits--
		}
	}
	return string(b)
}

func maskE164(s string) (string, bool) {
	if !strings.HasPrefix(s, "+") {
		return "", false
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		return "", false
	}
	cc := "+" + strconv.Itoa(int(num.GetCountryCode()))
	rest, ok := strings.CutPrefix(phonenumbers.Format(num, phonenumbers.INTERNATIONAL), cc)
	if !ok {
		return "", false
	}
	total := 0
	for _, r := range rest {
		if r >= '0' && r <= '9' {
			total++
		}
	}
	if total < 8 {
		return "", false // too short to show any of it beside the country code
	}
	lead := min(2, total-8)
	var sb strings.Builder
	sb.WriteString(cc)
	seen := 0
	for _, r := range rest {
		if r >= '0' && r <= '9' {
			seen++
			if seen > lead && seen <= total-4 {
				sb.WriteByte('*')
				continue
			}
		}
		sb.WriteRune(r)
	}
	return sb.String(), true
}

// masked remembers the masks of recent E.164 numbers: parsing and
// formatting one with the numbering plan takes about 0.1 ms, which made a
// page of 100 outbox jobs cost 10 ms to render, while the numbers of a
// page repeat from one listing (and one log line) to the next.
var masked = maskCache{max: 4096}

type maskCache struct {
	mu  sync.Mutex
	m   map[string]string
	max int
}

func (c *maskCache) get(s string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[s]
	return m, ok
}

// put stores a mask; a full cache starts over (the numbers in use come
// back at once, and no entry outlives max others).
func (c *maskCache) put(s, m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[string]string, c.max)
	}
	c.m[s] = m
}
