package sqlite

import (
	"context"
	"time"

	"mfagate/oidc"
	"mfagate/store"
)

// The OpenID provider's state: keys and flows are read on the read pool
// and changed by single statements on the writer, like the kiosk records.

var (
	_ oidc.KeyStore  = (*DB)(nil)
	_ oidc.FlowStore = (*DB)(nil)
)

// SigningKeys returns every signing key, retired ones included, by Seq.
func (db *DB) SigningKeys(ctx context.Context) ([]oidc.StoredKey, error) {
	return store.SigningKeys(&conn{ctx: ctx, q: db.r})
}

// InsertKey adds k, or returns oidc.ErrKeyConflict when a key with its Seq
// or kid exists.
func (db *DB) InsertKey(ctx context.Context, k oidc.StoredKey) error {
	return store.InsertSigningKey(db.writer(ctx), k)
}

// RetireKey retires the key kid at at and erases its sealed private part.
func (db *DB) RetireKey(ctx context.Context, kid string, at time.Time) error {
	return store.RetireSigningKey(db.writer(ctx), kid, at)
}

// CreateFlow stores a new sign-in flow.
func (db *DB) CreateFlow(ctx context.Context, f oidc.Flow) error {
	return store.CreateFlow(db.writer(ctx), &dialect, f)
}

// Flow returns the flow with id, or oidc.ErrFlowNotFound.
func (db *DB) Flow(ctx context.Context, id string) (oidc.Flow, error) {
	return store.ReadFlow(&conn{ctx: ctx, q: db.r}, &dialect, id)
}

// ConsumeFlow marks the flow consumed, or returns oidc.ErrFlowConsumed or
// oidc.ErrFlowNotFound.
func (db *DB) ConsumeFlow(ctx context.Context, id string) error {
	return store.ConsumeFlow(db.writer(ctx), id)
}

// SetFlowChallenge records the challenge the flow's page started.
func (db *DB) SetFlowChallenge(ctx context.Context, id, challenge string) error {
	return store.SetFlowChallenge(db.writer(ctx), id, challenge)
}

// DeleteExpiredFlows deletes the flows that expired before t and returns
// how many it deleted.
func (db *DB) DeleteExpiredFlows(ctx context.Context, t time.Time) (int, error) {
	return store.DeleteFlowsBefore(db.writer(ctx), t)
}
