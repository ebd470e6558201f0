package config

import (
	"strconv"
	"strings"
	"unicode/utf16"
)

// Render substitutes each {name} placeholder in tmpl whose name is in vars.
// Other text, including unknown placeholders, is left as is; substituted
// values are not scanned again.
func Render(tmpl string, vars map[string]string) string {
	var b strings.Builder
	b.Grow(len(tmpl))
	for i := 0; i < len(tmpl); {
		if tmpl[i] == '{' {
			if name, n := placeholderAt(tmpl[i:]); n > 0 {
				if v, ok := vars[name]; ok {
					b.WriteString(v)
					i += n
					continue
				}
			}
		}
		b.WriteByte(tmpl[i])
		i++
	}
	return b.String()
}

// SMSVars returns the values of the SMS template placeholders for code.
func (c *Config) SMSVars(code string) map[string]string {
	return map[string]string{
		"code":    code,
		"minutes": strconv.Itoa(c.Policy.TTLMinutes()),
		"seconds": strconv.Itoa(c.Policy.TTLSeconds()),
		"issuer":  c.TOTP.Issuer,
	}
}

// placeholderAt returns the name of the placeholder s starts with and its
// length in bytes, or 0 if s does not start with one. A placeholder is "{",
// letters, digits or '_', then "}".
func placeholderAt(s string) (string, int) {
	if len(s) < 3 || s[0] != '{' {
		return "", 0
	}
	for j := 1; j < len(s) && j <= 33; j++ {
		c := s[j]
		switch {
		case c == '}' && j > 1:
			return s[1:j], j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_':
		default:
			return "", 0
		}
	}
	return "", 0
}

// placeholders lists the placeholder names in tmpl in order of appearance.
func placeholders(tmpl string) []string {
	var out []string
	for i := 0; i < len(tmpl); i++ {
		if name, n := placeholderAt(tmpl[i:]); n > 0 {
			out = append(out, name)
			i += n - 1
		}
	}
	return out
}

// The GSM 03.38 default alphabet and its extension table (3GPP TS 23.038
// §6.2.1). Extension characters take two septets (escape + character). ESC
// itself is left out: it cannot appear as text.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// One SMS segment holds 160 GSM-7 septets or 70 UCS-2 code units.
const (
	smsMaxGSM7 = 160
	smsMaxUCS2 = 70
)

// smsSize returns the size of text in one SMS: in septets if every character
// is in the GSM-7 alphabet, else in UCS-2 (UTF-16) code units. It also
// returns the segment limit for that encoding and, for UCS-2, the first
// character that forced it.
func smsSize(text string) (size, limit int, forcedBy rune) {
	septets := 0
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			septets++
		case strings.ContainsRune(gsmExtension, r):
			septets += 2
		default:
			return len(utf16.Encode([]rune(text))), smsMaxUCS2, r
		}
	}
	return septets, smsMaxGSM7, 0
}
