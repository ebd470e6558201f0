package storetest

import (
	"slices"
	"testing"

	"mfagate/mfa"
)

// RunUserListing checks Tx.Users and Tx.MethodsOf: keyset pagination in
// byte order (whatever the database's collation), each condition alone,
// and pages that together hold every matching user exactly once.
func RunUserListing(t *testing.T, open Open) {
	s := open(t)
	// IDs whose byte order differs from a dictionary order: upper case
	// before lower case, '-' before digits, '_' after upper case.
	ids := []string{"B2", "a1", "a-1", "A_1", "b1", "é1", "Z9", "0001"}
	phone := func(id, u string, confirmed bool) mfa.Method {
		m := method(id, u, t0)
		m.Kind, m.Slot, m.Channel, m.Phone, m.Confirmed = mfa.KindPhone, mfa.SlotMobile, mfa.ChannelSMS, "+819012345678", confirmed
		return m
	}
	totp := func(id, u string, confirmed bool) mfa.Method {
		m := method(id, u, t0)
		m.Confirmed = confirmed
		return m
	}
	tap := func(id, u string) mfa.Method {
		m := method(id, u, t0)
		m.Kind, m.Confirmed = mfa.KindTAP, true
		return m
	}
	blocked := user("b1", mfa.StateActive)
	blocked.PhoneBlocked, blocked.ConsecutiveFailures, blocked.DefaultMethod = true, 5, "m-b1"
	a1 := user("a1", mfa.StatePending)
	a1.DefaultMethod = "m-a1"
	put(t, s,
		user("B2", mfa.StateActive), phone("m-B2", "B2", true), totp("m-B2b", "B2", true), // two methods, no default
		a1, phone("m-a1", "a1", true), // phone only, one method
		user("a-1", mfa.StateOff), totp("m-a-1", "a-1", false), // nothing usable
		user("A_1", mfa.StateActive), totp("m-A_1", "A_1", true), tap("t-A_1", "A_1"), // app and a pass
		blocked, phone("m-b1", "b1", true),
		user("é1", mfa.StateOff),
		user("Z9", mfa.StatePending), phone("m-Z9", "Z9", false), tap("t-Z9", "Z9"), // only a pass
		user("0001", mfa.StateActive), totp("m-0001", "0001", true), phone("m-0001b", "0001", true),
	)
	list := func(q mfa.UserQuery) []string {
		t.Helper()
		var out []string
		view(t, s, func(tx mfa.Tx) error {
			us, err := tx.Users(q)
			for _, u := range us {
				out = append(out, u.ID)
			}
			return err
		})
		return out
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted) // Go's order: bytes
	same(t, "every user, in byte order", list(mfa.UserQuery{Limit: 100}), sorted)

	// Pages of two, each after the last ID of the one before.
	var paged []string
	after := ""
	for range len(ids) {
		page := list(mfa.UserQuery{After: after, Limit: 2})
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	same(t, "pages of two", paged, sorted)
	same(t, "pages of two, active and pending merged", append(list(mfa.UserQuery{States: []mfa.State{mfa.StateActive, mfa.StatePending}, Limit: 3}),
		list(mfa.UserQuery{After: "B2", States: []mfa.State{mfa.StateActive, mfa.StatePending}, Limit: 3})...),
		[]string{"0001", "A_1", "B2", "Z9", "a1", "b1"})

	for _, c := range []struct {
		name string
		q    mfa.UserQuery
		want []string
	}{
		{"state off", mfa.UserQuery{States: []mfa.State{mfa.StateOff}}, []string{"a-1", "é1"}},
		{"state pending", mfa.UserQuery{States: []mfa.State{mfa.StatePending}}, []string{"Z9", "a1"}},
		{"with a phone", mfa.UserQuery{Kind: mfa.KindPhone}, []string{"0001", "B2", "a1", "b1"}},
		{"phones only", mfa.UserQuery{Kind: mfa.KindPhone, OnlyKind: true}, []string{"a1", "b1"}},
		{"apps only (a pass does not count)", mfa.UserQuery{Kind: mfa.KindTOTP, OnlyKind: true}, []string{"A_1"}},
		{"with a pass", mfa.UserQuery{Kind: mfa.KindTAP}, []string{"A_1", "Z9"}},
		{"one usable method", mfa.UserQuery{OneUsable: true}, []string{"A_1", "a1", "b1"}},
		{"no default", mfa.UserQuery{SomeUsable: true, NoDefault: true}, []string{"0001", "A_1", "B2"}},
		{"phone blocked", mfa.UserQuery{PhoneBlocked: true}, []string{"b1"}},
		{"locked", mfa.UserQuery{MinFailures: 3}, []string{"b1"}},
		{"active, one method", mfa.UserQuery{States: []mfa.State{mfa.StateActive}, OneUsable: true}, []string{"A_1", "b1"}},
	} {
		c.q.Limit = 100
		if got := list(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}

	var ms []mfa.Method
	view(t, s, func(tx mfa.Tx) (err error) { ms, err = tx.MethodsOf([]string{"B2", "Z9", "nobody"}); return err })
	var got []string
	for _, m := range ms {
		got = append(got, m.User+"/"+m.ID)
	}
	slices.Sort(got)
	same(t, "methods of B2 and Z9", got, []string{"B2/m-B2", "B2/m-B2b", "Z9/m-Z9", "Z9/t-Z9"})
	view(t, s, func(tx mfa.Tx) (err error) { ms, err = tx.MethodsOf(nil); return err })
	if len(ms) != 0 {
		t.Errorf("methods of no users: %v", ms)
	}
}

// ScaleUsers is how many users the listing is tested at.
const ScaleUsers = 100_000

// ScaleUser says what the backends' bulk seeds store for user i
// (1…ScaleUsers, ID i in ten digits): state by i%3 (0 active, 1 pending,
// 2 off), one confirmed method (a phone when i is even, else an app), and
// a second confirmed app when i%5 == 0.
func ScaleUser(i int) (st mfa.State, phone, two bool) {
	st = []mfa.State{mfa.StateActive, mfa.StatePending, mfa.StateOff}[i%3]
	return st, i%2 == 0, i%5 == 0
}

// ScaleQueries are the listings CheckScale pages through, with the users
// of ScaleUser each must return.
var ScaleQueries = []struct {
	Name  string
	Query mfa.UserQuery
	Want  func(i int) bool
}{
	{"every user", mfa.UserQuery{}, func(int) bool { return true }},
	{"active with one method", mfa.UserQuery{States: []mfa.State{mfa.StateActive}, OneUsable: true}, func(i int) bool {
		st, _, two := ScaleUser(i)
		return st == mfa.StateActive && !two
	}},
	{"phones only", mfa.UserQuery{Kind: mfa.KindPhone, OnlyKind: true}, func(i int) bool {
		_, phone, two := ScaleUser(i)
		return phone && !two
	}},
	{"pending or active with an app", mfa.UserQuery{States: []mfa.State{mfa.StateActive, mfa.StatePending}, Kind: mfa.KindTOTP}, func(i int) bool {
		st, phone, two := ScaleUser(i)
		return st != mfa.StateOff && (!phone || two)
	}},
}

// CheckScale pages through each of ScaleQueries, 1000 users a page, on a
// store seeded as ScaleUser says, and checks that the pages hold exactly
// the users they should, in order.
func CheckScale(t *testing.T, s mfa.Store) {
	for _, c := range ScaleQueries {
		var want []string
		for i := 1; i <= ScaleUsers; i++ {
			if c.Want(i) {
				want = append(want, ScaleID(i))
			}
		}
		var got []string
		q := c.Query
		q.Limit = 1000
		for {
			var page []mfa.User
			view(t, s, func(tx mfa.Tx) (err error) { page, err = tx.Users(q); return err })
			for _, u := range page {
				got = append(got, u.ID)
			}
			if len(page) < q.Limit {
				break
			}
			q.After = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d users listed, want %d", c.Name, len(got), len(want))
		}
	}
}

// ScaleID is user i's ID.
func ScaleID(i int) string {
	const digits = "0123456789"
	b := []byte("0000000000")
	for p := len(b) - 1; i > 0 && p >= 0; p-- {
		b[p] = digits[i%10]
		i /= 10
	}
	return string(b)
}
