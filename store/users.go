package store

import (
	"strings"

	"mfagate/mfa"
)

// Users lists stored users for mfa.Service.ListUsers: keyset pagination
// by ID in byte order, on the primary key or, with a state, on the index
// (state, id) of migration 0012, so that every page is an index range scan
// however many users there are. The method conditions are correlated
// subqueries on methods_user (user_id, created_at).
func (t *Tx) Users(q mfa.UserQuery) ([]mfa.User, error) {
	if len(q.States) <= 1 {
		return t.usersPage(q)
	}
	// One index range per state, merged: IN (…) over (state, id) would
	// need a sort of every matching row before the LIMIT.
	var out []mfa.User
	for _, st := range q.States {
		one := q
		one.States = []mfa.State{st}
		us, err := t.usersPage(one)
		if err != nil {
			return nil, err
		}
		out = mergeByID(out, us)
	}
	if q.Limit >= 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// mergeByID merges two lists sorted by ID in byte order.
func mergeByID(a, b []mfa.User) []mfa.User {
	out := make([]mfa.User, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if strings.Compare(a[0].ID, b[0].ID) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// usableMethod is the condition that method m counts toward a user's
// methods (mfa.Method.Usable: confirmed, not a pass).
const usableMethod = `m.user_id = u.id AND m.confirmed AND m.kind <> 'tap'`

func (t *Tx) usersPage(q mfa.UserQuery) ([]mfa.User, error) {
	id := `u.id` + t.d.ByteOrder
	where := []string{id + ` > ?`}
	args := []any{q.After}
	if len(q.States) == 1 {
		where = append(where, `u.state = ?`)
		args = append(args, string(q.States[0]))
	}
	if q.PhoneBlocked {
		where = append(where, `u.phone_blocked`)
	}
	if q.MinFailures > 0 {
		where = append(where, `u.consecutive_failures >= ?`)
		args = append(args, q.MinFailures)
	}
	if q.NoDefault {
		where = append(where, `u.default_method = ''`)
	}
	if q.Kind != "" {
		where = append(where, `EXISTS (SELECT 1 FROM methods m WHERE m.user_id = u.id AND m.confirmed AND m.kind = ?)`)
		args = append(args, string(q.Kind))
		if q.OnlyKind {
			where = append(where, `NOT EXISTS (SELECT 1 FROM methods m WHERE `+usableMethod+` AND m.kind <> ?)`)
			args = append(args, string(q.Kind))
		}
	}
	// Semi- and anti-joins, not COUNT(*) = 1: a planner estimates those
	// and keeps to the index order instead of sorting a guess.
	if q.OneUsable {
		where = append(where, `EXISTS (SELECT 1 FROM methods m WHERE `+usableMethod+` AND NOT EXISTS (
			SELECT 1 FROM methods o WHERE o.user_id = u.id AND o.confirmed AND o.kind <> 'tap' AND o.id <> m.id))`)
	} else if q.SomeUsable {
		where = append(where, `EXISTS (SELECT 1 FROM methods m WHERE `+usableMethod+`)`)
	}
	args = append(args, limit(q.Limit))
	return list(t.c, "list users", scanUser, `SELECT `+prefixed("u.", userCols)+` FROM users u WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY `+id+` LIMIT ?`, args...)
}

// prefixed qualifies each of the comma-separated columns with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func (t *Tx) MethodsOf(users []string) ([]mfa.Method, error) {
	if len(users) == 0 {
		return nil, nil
	}
	cond, args := t.d.AnyOf("user_id", users)
	return list(t.c, "list methods of users", scanMethod, `SELECT `+methodCols+` FROM methods WHERE `+cond+` ORDER BY user_id, created_at, id`, args...)
}
