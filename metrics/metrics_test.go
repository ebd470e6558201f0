package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// series returns the gathered samples of a metric family by their label
// values (in label name order) joined with spaces: counters' values, histograms' sample counts.
func series(t *testing.T, m *Metrics, name string) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			var key []string
			for _, l := range s.GetLabel() {
				key = append(key, l.GetValue())
			}
			v := s.GetCounter().GetValue()
			if h := s.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			out[strings.Join(key, " ")] = v
		}
	}
	return out
}

// A route's kept observer counts each request under its route and status
// code, also when goroutines see a code for the first time together.
func TestHTTPRoute(t *testing.T) {
	m := New()
	get, post := m.HTTPRoute("GET /v1/users/{user}"), m.HTTPRoute("POST /v1/challenges/{id}/verify")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 100 {
				post.Observe([]int{200, 422, 404, 500}[i%4], time.Millisecond)
			}
		})
	}
	wg.Wait()
	get.Observe(200, time.Millisecond)
	requests := series(t, m, "mfagate_http_requests_total")
	want := map[string]float64{
		"200 POST /v1/challenges/{id}/verify": 200, "422 POST /v1/challenges/{id}/verify": 200,
		"404 POST /v1/challenges/{id}/verify": 200, "500 POST /v1/challenges/{id}/verify": 200,
		"200 GET /v1/users/{user}": 1,
	}
	if len(requests) != len(want) {
		t.Errorf("request series %v, want %v", requests, want)
	}
	for k, n := range want {
		if requests[k] != n {
			t.Errorf("%s: %v requests, want %v", k, requests[k], n)
		}
	}
	durations := series(t, m, "mfagate_http_request_duration_seconds")
	if len(durations) != 2 || durations["POST /v1/challenges/{id}/verify"] != 800 || durations["GET /v1/users/{user}"] != 1 {
		t.Errorf("duration series %v, want 800 and 1 observations", durations)
	}
}
