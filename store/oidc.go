package store

import (
	"database/sql"
	"errors"
	"time"

	"mfagate/mfa"
	"mfagate/oidc"
)

// The OpenID provider's signing keys and sign-in flows (oidc.KeyStore,
// oidc.FlowStore), written like the kiosk records: one statement per
// change, outside Update, so that writers on several nodes need no retry.

const keyCols = `seq, kid, created_at, activates_at, certificate, sealed, retired_at`

func scanKey(row Row) (oidc.StoredKey, error) {
	var k oidc.StoredKey
	var created, activates, retired int64
	err := row.Scan(&k.Seq, &k.KID, &created, &activates, &k.Certificate, &k.Sealed, &retired)
	k.Created, k.ActivatesAt, k.RetiredAt = Time(created), Time(activates), Time(retired)
	return k, err
}

// SigningKeys returns every signing key, retired ones included, by Seq.
func SigningKeys(c Conn) ([]oidc.StoredKey, error) {
	return list(c, "list signing keys", scanKey, `SELECT `+keyCols+` FROM oidc_signing_keys ORDER BY seq`)
}

// InsertSigningKey adds k, or returns oidc.ErrKeyConflict when a key with
// its Seq (or its kid) exists. It is one statement that does nothing on a
// conflict: of nodes racing to create the same next key, one inserts and
// the others learn they lost without an aborted transaction.
func InsertSigningKey(c Conn, k oidc.StoredKey) error {
	n, err := c.Exec(`INSERT INTO oidc_signing_keys (`+keyCols+`) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
		k.Seq, k.KID, Nanos(k.Created), Nanos(k.ActivatesAt), k.Certificate, k.Sealed, Nanos(k.RetiredAt))
	if err != nil {
		return c.Err("store signing key", err)
	}
	if n == 0 {
		return oidc.ErrKeyConflict
	}
	return nil
}

// RetireSigningKey sets the key's retirement time and erases its sealed
// private part, keeping the row. A retired or unknown key is left alone.
func RetireSigningKey(c Conn, kid string, at time.Time) error {
	_, err := c.Exec(`UPDATE oidc_signing_keys SET retired_at = ?, sealed = NULL WHERE kid = ? AND retired_at = 0`, Nanos(at), kid)
	return c.Err("retire signing key", err)
}

const flowCols = `id, client_id, redirect_uri, nonce, state, acr, amr_values, subject, oid, tid, user_id,
	created_at, expires_at, binding_hash, challenge_id, consumed`

// CreateFlow stores a new flow. An ID already stored is an error, never a
// replacement: a flow, once answered, must stay answered.
func CreateFlow(c Conn, d *Dialect, f oidc.Flow) error {
	_, err := c.Exec(`INSERT INTO oidc_flows (`+flowCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		f.ID, f.ClientID, f.RedirectURI, f.Nonce, f.State, f.ACR, d.Strings(f.AMRValues), f.Subject, f.OID, f.TID, f.User,
		Nanos(f.Created), Nanos(f.Expires), f.BindingHash, f.Challenge, f.Consumed)
	return c.Err("store sign-in flow", err)
}

// ReadFlow returns the flow with id, or oidc.ErrFlowNotFound.
func ReadFlow(c Conn, d *Dialect, id string) (oidc.Flow, error) {
	f, err := one(c, "read sign-in flow", func(row Row) (oidc.Flow, error) {
		var f oidc.Flow
		var created, expires int64
		err := row.Scan(&f.ID, &f.ClientID, &f.RedirectURI, &f.Nonce, &f.State, &f.ACR, d.ScanStrings(&f.AMRValues),
			&f.Subject, &f.OID, &f.TID, &f.User, &created, &expires, &f.BindingHash, &f.Challenge, &f.Consumed)
		f.Created, f.Expires = Time(created), Time(expires)
		if len(f.AMRValues) == 0 {
			f.AMRValues = nil
		}
		return f, err
	}, `SELECT `+flowCols+` FROM oidc_flows WHERE id = ?`, id)
	if errors.Is(err, mfa.ErrNotFound) {
		return oidc.Flow{}, oidc.ErrFlowNotFound
	}
	return f, err
}

// ConsumeFlow marks the flow consumed. The condition on consumed makes it
// atomic on every backend and node: of concurrent callers exactly one
// changes the row, and the others get oidc.ErrFlowConsumed.
func ConsumeFlow(c Conn, id string) error {
	n, err := c.Exec(`UPDATE oidc_flows SET consumed = true WHERE id = ? AND NOT consumed`, id)
	if err != nil {
		return c.Err("consume sign-in flow", err)
	}
	if n == 1 {
		return nil
	}
	return whyUnchanged(c, "consume sign-in flow", id)
}

// SetFlowChallenge records the challenge the flow's page started, unless
// the flow was answered.
func SetFlowChallenge(c Conn, id, challenge string) error {
	n, err := c.Exec(`UPDATE oidc_flows SET challenge_id = ? WHERE id = ? AND NOT consumed`, challenge, id)
	if err != nil {
		return c.Err("record challenge of sign-in flow", err)
	}
	if n == 1 {
		return nil
	}
	return whyUnchanged(c, "record challenge of sign-in flow", id)
}

// whyUnchanged explains an update of a flow that matched no row: the flow
// is consumed (which it then stays) or is not there.
func whyUnchanged(c Conn, what, id string) error {
	var consumed bool
	err := c.QueryRow(`SELECT consumed FROM oidc_flows WHERE id = ?`, id).Scan(&consumed)
	switch {
	case err == nil && consumed:
		return oidc.ErrFlowConsumed
	case err == nil || errors.Is(err, sql.ErrNoRows):
		// Not there, or created since the update looked: either way the
		// update did not find it.
		return oidc.ErrFlowNotFound
	}
	return c.Err(what, err)
}

// DeleteFlowsBefore deletes the flows that expired before t and returns
// how many it deleted.
func DeleteFlowsBefore(c Conn, t time.Time) (int, error) {
	n, err := c.Exec(`DELETE FROM oidc_flows WHERE expires_at < ?`, Nanos(t))
	return int(n), c.Err("delete expired sign-in flows", err)
}
