package pi

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// pyJSON serialises v exactly as Python's json.dumps(v, sort_keys=True)
// does with its default arguments: keys sorted, ", " between items and
// ": " after keys, every non-ASCII character escaped as \uXXXX (UTF-16
// surrogate pairs above U+FFFF), floats as repr. privacyIDEA signs that
// string of the response (privacyidea/lib/crypto.py Sign.sign over
// json.dumps(..., sort_keys=True)), and a plugin verifies a response by
// parsing it, dropping "signature" and serialising it again the same way;
// the body must therefore be something whose re-serialisation is this.
//
// v may hold map[string]any, []any, []string, []map[string]any, string,
// bool, nil, int, int64 and float64 — what the handlers build. Anything
// else is a programming error and panics.
func pyJSON(v any) string {
	var b strings.Builder
	writePy(&b, v)
	return b.String()
}

func writePy(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writePyString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(pyFloat(v))
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		// Python compares str keys by code point; Go's string order is
		// by UTF-8 bytes, which sorts code points the same way.
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, k)
			b.WriteString(": ")
			writePy(b, v[k])
		}
		b.WriteByte('}')
	case []any:
		writePyList(b, len(v), func(i int) any { return v[i] })
	case []string:
		writePyList(b, len(v), func(i int) any { return v[i] })
	case []map[string]any:
		writePyList(b, len(v), func(i int) any { return v[i] })
	default:
		panic(fmt.Sprintf("pyJSON: unsupported type %T", v))
	}
}

func writePyList(b *strings.Builder, n int, at func(int) any) {
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		writePy(b, at(i))
	}
	b.WriteByte(']')
}

// writePyString follows CPython's py_encode_basestring_ascii: the two-
// character escapes for " \ \n \r \t \b \f, \u00XX for the other control
// characters and DEL, \uXXXX for everything outside ASCII; '/' stays as
// it is. Invalid UTF-8 is written as U+FFFD (Python strings cannot hold
// it; the handlers never produce it).
func writePyString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			u(r)
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			u(r1)
			u(r2)
		default:
			u(r)
		}
	}
	b.WriteByte('"')
}

// pyFloat is Python's float repr: the shortest digits that round-trip,
// in positional notation for exponents -4 ≤ e < 16 (with ".0" when the
// value is whole) and as 1e+16 / 1.5e-05 otherwise.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	// The shortest scientific form carries the decimal exponent.
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	mant, e, _ := strings.Cut(sci, "e")
	if exp, _ := strconv.Atoi(e); exp < -4 || exp >= 16 {
		sign := e[0]
		digits := strings.TrimLeft(e[1:], "0")
		if len(digits) < 2 {
			digits = strings.Repeat("0", 2-len(digits)) + digits
		}
		return mant + "e" + string(sign) + digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}
