package api

import (
	"slices"
	"testing"

	"mfagate/metrics"
)

// Every staff action route exists, and its action is one of the metric's,
// which all have a route.
func TestStaffActionsNamed(t *testing.T) {
	s := New(Options{Kiosk: noKiosk{}})
	var names []string
	for pattern, action := range staffActions {
		if !slices.ContainsFunc(s.routes, func(r route) bool { return r.pattern == pattern }) {
			t.Errorf("staff action route %s is not served", pattern)
		}
		if !slices.Contains(metrics.StaffActions, action) {
			t.Errorf("action %q of %s is not among metrics.StaffActions", action, pattern)
		}
		names = append(names, action)
	}
	for _, a := range metrics.StaffActions {
		if !slices.Contains(names, a) {
			t.Errorf("metrics.StaffActions lists %q, which no route counts", a)
		}
	}
}
