package store

import (
	"fmt"

	"mfagate/mfa"
	"mfagate/oidc"
)

var _ mfa.SealedTx = (*Tx)(nil)

// sealedTables says, for each table holding sealed values, how to list
// them and what each was sealed with. Only TOTP methods hold a sealed
// secret: a Temporary Access Pass's secret is a keyed hash.
var sealedTables = map[string]struct {
	list, replace string
	context       func(id string) string
}{
	"methods": {
		list:    `SELECT id, secret FROM methods WHERE kind = 'totp' AND secret IS NOT NULL AND id > ? ORDER BY id LIMIT ?`,
		replace: `UPDATE methods SET secret = ? WHERE id = ? AND secret = ?`,
		context: func(id string) string { return id },
	},
	"outbox": {
		list:    `SELECT id, sealed FROM outbox WHERE id > ? ORDER BY id LIMIT ?`,
		replace: `UPDATE outbox SET sealed = ? WHERE id = ? AND sealed = ?`,
		context: func(id string) string { return id },
	},
	"oidc_signing_keys": {
		list:    `SELECT kid, sealed FROM oidc_signing_keys WHERE sealed IS NOT NULL AND kid > ? ORDER BY kid LIMIT ?`,
		replace: `UPDATE oidc_signing_keys SET sealed = ? WHERE kid = ? AND sealed = ?`,
		context: oidc.SealContext,
	},
}

// SealedValues lists up to limit sealed values of table after the ID after.
func (t *Tx) SealedValues(table, after string, limit int) ([]mfa.SealedValue, error) {
	st, ok := sealedTables[table]
	if !ok {
		return nil, fmt.Errorf("store: %q holds no sealed values", table)
	}
	return list(t.c, "list sealed values of "+table, func(row Row) (mfa.SealedValue, error) {
		v := mfa.SealedValue{Table: table}
		err := row.Scan(&v.ID, &v.Sealed)
		v.Context = st.context(v.ID)
		return v, err
	}, st.list, after, limit)
}

// ReplaceSealed swaps v.Sealed for sealed if the row still holds v.Sealed.
func (t *Tx) ReplaceSealed(v mfa.SealedValue, sealed []byte) (bool, error) {
	st, ok := sealedTables[v.Table]
	if !ok {
		return false, fmt.Errorf("store: %q holds no sealed values", v.Table)
	}
	n, err := t.c.Exec(st.replace, sealed, v.ID, v.Sealed)
	if err != nil {
		return false, t.c.Err("re-seal a value of "+v.Table, err)
	}
	return n == 1, nil
}
