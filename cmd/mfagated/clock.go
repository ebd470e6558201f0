package main

import "time"

// now is the domain's clock. The end-to-end tests' build moves it forward
// (clock_e2e.go) rather than wait for a code's real lifetime.
var now = time.Now
