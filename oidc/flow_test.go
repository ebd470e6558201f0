package oidc_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"mfagate/oidc"
	"mfagate/oidc/oidctest"
)

// A flow answers only the browser that started it, once, within FlowTTL.
func TestFlowBindingAndSingleUse(t *testing.T) {
	req, err := oidc.ParseAuthRequest(httptest.NewRecorder(), post(entraForm()), testClients())
	if err != nil {
		t.Fatal(err)
	}
	f, secret := oidc.NewFlow(req, &oidc.Hint{Subject: "sub", ObjectID: "oid", TenantID: "tid", User: "0123456789"}, t0)
	store := &oidctest.FlowStore{}
	if err := store.CreateFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	got, err := store.Flow(ctx, f.ID)
	if err != nil || got.Nonce != "n-1" || got.State != "s-1" || got.User != "0123456789" {
		t.Fatalf("stored flow %+v, %v", got, err)
	}
	if err := got.Check(secret, t0.Add(time.Minute)); err != nil {
		t.Fatalf("own browser: %v", err)
	}
	if err := got.Check("forged", t0); !errors.Is(err, oidc.ErrFlowBinding) {
		t.Errorf("forged cookie: %v", err)
	}
	if err := got.Check(secret, t0.Add(oidc.FlowTTL)); !errors.Is(err, oidc.ErrFlowExpired) {
		t.Errorf("after FlowTTL: %v", err)
	}
	if err := store.ConsumeFlow(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.ConsumeFlow(ctx, f.ID); !errors.Is(err, oidc.ErrFlowConsumed) {
		t.Errorf("second consume: %v", err)
	}
	got, _ = store.Flow(ctx, f.ID)
	if err := got.Check(secret, t0); !errors.Is(err, oidc.ErrFlowConsumed) {
		t.Errorf("replayed flow: %v", err)
	}
	if n, _ := store.DeleteExpiredFlows(ctx, t0.Add(oidc.FlowTTL+time.Second)); n != 1 {
		t.Errorf("deleted %d expired flows, want 1", n)
	}
}
