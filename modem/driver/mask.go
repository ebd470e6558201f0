package driver

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// MaskNumber returns a phone number fit for logs: the country code and the
// last four digits are kept, the rest replaced by '*' ("+81******5678").
// Anything that is not E.164 keeps only its last four characters.
func MaskNumber(n string) string {
	if !strings.HasPrefix(n, "+") || !allDigits(n[1:]) {
		if len(n) <= 4 {
			return strings.Repeat("*", len(n))
		}
		return strings.Repeat("*", len(n)-4) + n[len(n)-4:]
	}
	digits := n[1:]
	cc := 0
	if p, err := phonenumbers.Parse(n, ""); err == nil && p.GetCountryCode() > 0 {
		cc = len(strconv.Itoa(int(p.GetCountryCode())))
	}
	if cc == 0 || len(digits) <= cc+4 {
		cc = 0
	}
	keep := 4
	if len(digits) <= keep {
		return "+" + strings.Repeat("*", len(digits))
	}
	return "+" + digits[:cc] + strings.Repeat("*", len(digits)-cc-keep) + digits[len(digits)-keep:]
}
