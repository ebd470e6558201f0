package api_test

import (
	"testing"
	"time"

	"mfagate/mfa"
)

// GET /v1/nodes shows the nodes sharing the store from their heartbeats;
// a test SMS may name a modem of another live node, and no longer once
// that node went silent.
func TestNodes(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/nodes", tokAdmin, "")
	h.want(r, 200, "")
	if got := jsonArray(t, r.raw); len(got) != 0 {
		t.Fatalf("nodes before any heartbeat: %s", r.raw)
	}
	h.want(h.do("GET", "/v1/nodes", tokIDP, ""), 403, "forbidden")

	// Another node, "lab-2", shares the store and has modem ec25-b.
	other, err := mfa.New(mfa.Options{Store: h.db, Keys: h.keys, Policy: testPolicy(), Now: h.clock.Now, Node: "lab-2"})
	if err != nil {
		t.Fatal(err)
	}
	started := h.clock.Now()
	beat := func() {
		t.Helper()
		modems := []mfa.NodeModem{{Name: "ec25-b", State: "up", Channels: []mfa.Channel{mfa.ChannelSMS}}}
		if _, err := other.Heartbeat(t.Context(), mfa.Node{Version: "v9", StartedAt: started, Modems: modems}, nil); err != nil {
			t.Fatal(err)
		}
	}
	beat()
	if _, err := h.svc.Heartbeat(t.Context(), mfa.Node{Version: "v9", StartedAt: started}, nil); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/v1/nodes", tokAdmin, "")
	h.want(r, 200, "")
	got := jsonArray(t, r.raw)
	if len(got) != 2 || got[0]["id"] != "lab-2" || got[1]["id"] != "local" {
		t.Fatalf("nodes: %s", r.raw)
	}
	if got[0]["self"] != false || got[1]["self"] != true || got[0]["alive"] != true || got[0]["version"] != "v9" {
		t.Fatalf("nodes: %s", r.raw)
	}
	if ms := got[0]["modems"].([]any); len(ms) != 1 || ms[0].(map[string]any)["id"] != "ec25-b" {
		t.Fatalf("lab-2's modems: %s", r.raw)
	}

	// A test SMS for lab-2's modem is queued here, pinned to it.
	r = h.do("POST", "/v1/modems/ec25-b/test-sms", tokAdmin, `{"to":"090-1234-5678"}`)
	h.want(r, 202, "")
	h.want(h.do("POST", "/v1/modems/ec25-z/test-sms", tokAdmin, `{"to":"090-1234-5678"}`), 404, "unknown_modem")

	// lab-2 goes silent for a lease: it is shown dead and its modem refused.
	h.clock.Advance(mfa.DefaultLease + time.Second)
	r = h.do("GET", "/v1/nodes", tokAdmin, "")
	if got := jsonArray(t, r.raw); got[0]["alive"] != false {
		t.Fatalf("a node silent for a lease is shown alive: %s", r.raw)
	}
	h.want(h.do("POST", "/v1/modems/ec25-b/test-sms", tokAdmin, `{"to":"090-1234-5678"}`), 404, "unknown_modem")
	beat()
	h.want(h.do("POST", "/v1/modems/ec25-b/test-sms", tokAdmin, `{"to":"090-1234-5678"}`), 202, "")
}
