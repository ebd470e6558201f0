package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads from and writes to TOML as a string
// such as "30s", "5m" or "1h30m" (the syntax of time.ParseDuration), with
// whole days allowed in front, as in "30d" or "1d12h".
type Duration struct{ time.Duration }

// D returns d as a Duration.
func D(d time.Duration) Duration { return Duration{d} }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	s := string(text)
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit, like \"30s\", \"5m\", \"1h\" or \"30d\"", s)
	}
	d.Duration = v
	return nil
}

// maxDays keeps a count of days within a time.Duration (about 290 years).
const maxDays = 100_000

// parseDuration is time.ParseDuration with a leading count of days.
func parseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(days)
	if err != nil || n < 0 || n > maxDays || days[0] == '+' {
		return 0, fmt.Errorf("bad count of days %q", days)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest == "" {
		return d, nil
	}
	r, err := time.ParseDuration(rest)
	if err != nil || r < 0 {
		return 0, fmt.Errorf("bad duration after the days %q", rest)
	}
	return d + r, nil
}

// MarshalText implements encoding.TextMarshaler; it writes the shortest form
// ("5m", not "5m0s") so that an encoded configuration reads naturally.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(formatDuration(d.Duration)), nil
}

// String returns the same short form as MarshalText.
func (d Duration) String() string { return formatDuration(d.Duration) }

// formatDuration drops the zero units time.Duration.String leaves at the end:
// 5m0s becomes 5m and 1h0m0s becomes 1h.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
