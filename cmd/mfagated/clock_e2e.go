//go:build e2eclock

package main

import (
	"fmt"
	"os"
	"time"
)

// Only in the binary the end-to-end tests build (go build -tags e2eclock):
// MFAGATED_E2E_CLOCK_OFFSET runs the domain's clock ahead by a duration, so
// a restarted daemon finds its challenges expired without a real wait. A
// release build has no such variable.
func init() {
	v := os.Getenv("MFAGATED_E2E_CLOCK_OFFSET")
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mfagated: MFAGATED_E2E_CLOCK_OFFSET=%q: %v\n", v, err)
		os.Exit(2)
	}
	now = func() time.Time { return time.Now().Add(d) }
}
