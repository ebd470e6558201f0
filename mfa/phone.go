package mfa

import (
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone is a validated, normalised phone number.
type Phone struct {
	E164      string
	Extension string
	Region    string
	Mobile    bool // can receive SMS (mobile, or a number the plan cannot tell from mobile)
}

// NormalizePhone parses a number in national or international form with the
// default region, and checks it against the number plan and the allowed
// regions. Only mobile numbers, landlines and IP phones are accepted; every
// other type is refused outright (see serviceKind): such numbers are the
// toll-fraud vector or no person answers them.
func NormalizePhone(raw, defaultRegion string, allowedRegions []string) (Phone, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Phone{}, refuse(CodeInvalidPhone, "phone is empty: give the number in national form (like 090-xxxx-xxxx) or E.164 (like +8190xxxxxxxx)")
	}
	if len(raw) > 40 {
		return Phone{}, refuse(CodeInvalidPhone, "phone is %d characters long; a phone number has at most 15 digits plus separators", len(raw))
	}
	num, err := phonenumbers.Parse(raw, defaultRegion)
	if err != nil {
		return Phone{}, refuse(CodeInvalidPhone, "phone %q is not a phone number (%v): give it in national form (like 090-xxxx-xxxx) or E.164 (like +8190xxxxxxxx)", MaskRaw(raw), err)
	}
	if !phonenumbers.IsValidNumber(num) {
		return Phone{}, refuse(CodeInvalidPhone, "phone %s is not a valid number in its country's numbering plan", MaskE164(phonenumbers.Format(num, phonenumbers.E164)))
	}
	region := phonenumbers.GetRegionCodeForNumber(num)
	if len(allowedRegions) > 0 && !slices.Contains(allowedRegions, region) {
		return Phone{}, refuse(CodeRegionNotAllowed, "phone numbers from region %s are not allowed here (allowed: %s)", region, strings.Join(allowedRegions, ", "))
	}
	p := Phone{E164: phonenumbers.Format(num, phonenumbers.E164), Extension: num.GetExtension(), Region: region}
	switch t := phonenumbers.GetNumberType(num); t {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		p.Mobile = true
	case phonenumbers.FIXED_LINE, phonenumbers.VOIP:
		// Landlines and IP phones (Japan's 050) take calls but not SMS.
	default:
		return Phone{}, refuse(CodeInvalidPhone, "phone %s is a %s number; register a personal mobile or landline number", MaskE164(p.E164), serviceKind(t))
	}
	return p, nil
}

// serviceKind names the number types NormalizePhone refuses. Whoever calls
// or texts them pays the callee (premium rate, shared cost, personal
// numbers that forward at a premium, Japan's 0570 Navi Dial as UAN) or no
// person answers them (toll-free lines, 020 pagers and M2M SIMs, voicemail).
func serviceKind(t phonenumbers.PhoneNumberType) string {
	switch t {
	case phonenumbers.TOLL_FREE:
		return "toll-free"
	case phonenumbers.PREMIUM_RATE:
		return "premium-rate"
	case phonenumbers.SHARED_COST, phonenumbers.UAN:
		return "shared-cost"
	case phonenumbers.PERSONAL_NUMBER:
		return "personal (call-forwarding)"
	case phonenumbers.PAGER:
		return "pager or machine-to-machine"
	case phonenumbers.VOICEMAIL:
		return "voicemail"
	}
	return "service"
}

// MaskPhone formats an E.164 number for display with its middle digits
// hidden: +819012345678 → "+81 90-****-5678", +81312345678 → "+81 3-****-5678".
func MaskPhone(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return MaskE164(e164)
	}
	intl := phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	cc := "+" + strconv.Itoa(int(num.GetCountryCode()))
	rest, ok := strings.CutPrefix(intl, cc)
	if !ok {
		return MaskE164(e164)
	}
	total := 0
	for _, r := range rest {
		if r >= '0' && r <= '9' {
			total++
		}
	}
	// Keep the last four digits and up to two leading ones, hiding at least four.
	lead := min(2, max(0, total-8))
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
	return sb.String()
}

// MaskE164 hides all but the country code's first digits and the last four:
// the form used in logs and audit details.
func MaskE164(e164 string) string {
	if len(e164) <= 7 {
		return strings.Repeat("*", len(e164))
	}
	return e164[:3] + strings.Repeat("*", len(e164)-7) + e164[len(e164)-4:]
}

// MaskRaw hides the digits of unvalidated input except the last two, so an
// error message can echo what was sent without disclosing it.
func MaskRaw(s string) string {
	b := []byte(s)
	digits := 0
	for _, c := range b {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	for i, c := range b {
		if c >= '0' && c <= '9' && digits > 2 {
			b[i] = '*'
			digits--
		}
	}
	return string(b)
}
