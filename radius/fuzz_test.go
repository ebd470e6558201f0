package radius

import (
	"context"
	"testing"

	"mfagate/mfa"
)

// FuzzHandle feeds datagrams to the packet handling entry point, as if they
// came from the configured client (which requires Message-Authenticator):
// it never panics, and a packet it drops changes nothing (no audit event,
// nothing in the outbox). Valid requests of every shape seed the corpus;
// their mutations must fail the Message-Authenticator check.
func FuzzHandle(f *testing.F) {
	r := newRig(f)
	for _, a := range []ask{
		{user: alice},
		{user: alice, password: "123456"},
		{user: alice, password: "2", state: []byte("c_aaaaaaaaaaaaaaaaaaaaaaaaaa")},
		{user: alice, noPassword: true, state: []byte("c_aaaaaaaaaaaaaaaaaaaaaaaaaa.c_bbbbbbbbbbbbbbbbbbbbbbbbbb")},
		{user: alice, noMA: true},
	} {
		f.Add(a.build())
	}
	f.Add([]byte{1, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 2})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, b []byte) {
		before, err := r.svc.Events(ctx, mfa.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if out := r.srv.handle(ctx, b, hostport); out != nil {
			return
		}
		after, err := r.svc.Events(ctx, mfa.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("a dropped packet added %d audit events", len(after)-len(before))
		}
		if o, ok, _ := r.modem.Take(ctx); ok {
			t.Fatalf("a dropped packet queued %+v", o)
		}
	})
}
