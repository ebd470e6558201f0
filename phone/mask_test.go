package phone

import (
	"fmt"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"+819012345678": "+81 90-****-5678",
		"+81312345678":  "+81 3-****-5678",
		"+815012345678": "+81 50-****-5678",
		"+14155550123":  "+1 41*-***-0123",
		"+35312345678":  "+353 * *** 5678",
		"090-1234-5678": "***-****-5678",
		"090123":        "****23",
		"123":           "***",
		"+12345":        "+***45",
		"":              "",
		"not a number":  "not a number",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"+819012345678", "+14155550123", "090-1234-5678", "+", "", "+8190123456789012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		m := Mask(n)
		digits := func(s string) int {
			return strings.Count(strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return 'd'
				}
				return -1
			}, s), "d")
		}
		// Country code (at most 3), two leading and four trailing digits.
		if kept := digits(m); kept > 9 {
			t.Fatalf("Mask(%q) = %q keeps %d digits", n, m, kept)
		}
		hidden := strings.Count(m, "*") - strings.Count(n, "*")
		if d := digits(n); (d > 4 && hidden < 3) || (d <= 4 && hidden < d) {
			t.Fatalf("Mask(%q) = %q hides only %d of %d digits", n, m, hidden, d)
		}
	})
}

// Masks served from the cache are the masks computed afresh, also across
// the cache starting over when full.
func TestMaskCache(t *testing.T) {
	for round := range 2 {
		for i := range masked.max + 100 {
			n := fmt.Sprintf("+8190%08d", i)
			want, ok := maskE164(n)
			if got := Mask(n); !ok || got != want {
				t.Fatalf("round %d: Mask(%s) = %q, want %q", round, n, got, want)
			}
		}
	}
}

func BenchmarkMask(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			Mask("+819012345678")
		}
	})
	b.Run("new", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			Mask(fmt.Sprintf("+8180%08d", i))
		}
	})
}
