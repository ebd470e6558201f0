package config

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration that reads from and writes to TOML as a string
// such as "30s", "5m" or "1h30m" (the syntax of time.ParseDuration).
type Duration struct{ time.Duration }

// D returns d as a Duration.
func D(d time.Duration) Duration { return Duration{d} }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	s := string(text)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit, like \"30s\", \"5m\" or \"1h\"", s)
	}
	d.Duration = v
	return nil
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
