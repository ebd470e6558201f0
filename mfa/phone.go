package mfa

import (
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"mfagate/phone"
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
		return Phone{}, refuse(CodeInvalidPhone, "phone %q is not a phone number (%v): give it in national form (like 090-xxxx-xxxx) or E.164 (like +8190xxxxxxxx)", phone.Mask(raw), err)
	}
	if !phonenumbers.IsValidNumber(num) {
		return Phone{}, refuse(CodeInvalidPhone, "phone %s is not a valid number in its country's numbering plan", phone.Mask(phonenumbers.Format(num, phonenumbers.E164)))
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
		return Phone{}, refuse(CodeInvalidPhone, "phone %s is a %s number; register a personal mobile or landline number", phone.Mask(p.E164), serviceKind(t))
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
