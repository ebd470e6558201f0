package selfservice_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mfagate/mfa/mfatest"
	"mfagate/selfservice"
	"mfagate/store/sqlite"
)

func TestStaffPolicy(t *testing.T) {
	p := selfservice.StaffPolicy{NameClaim: "preferred_username", GroupsClaim: "groups", AdminGroup: "mfa-admins", HelpdeskGroup: "helpdesk"}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   selfservice.Staff
		code   string
		msg    string
	}{
		{"help desk", map[string]any{"preferred_username": "hana@example.ac.jp", "groups": []any{"students", "helpdesk"}},
			selfservice.Staff{Name: "hana@example.ac.jp", Role: "enroll"}, "", ""},
		{"admin", map[string]any{"preferred_username": "aki", "groups": []any{"mfa-admins"}}, selfservice.Staff{Name: "aki", Role: "admin"}, "", ""},
		{"both is admin", map[string]any{"preferred_username": "aki", "groups": []any{"helpdesk", "mfa-admins"}}, selfservice.Staff{Name: "aki", Role: "admin"}, "", ""},
		{"one group as a string", map[string]any{"preferred_username": "hana", "groups": "helpdesk"}, selfservice.Staff{Name: "hana", Role: "enroll"}, "", ""},
		{"neither group", map[string]any{"preferred_username": "sora", "groups": []any{"students", 7}}, selfservice.Staff{}, "login_staff", "neither staff group (helpdesk, mfa-admins)"},
		{"a group's prefix is no group", map[string]any{"preferred_username": "sora", "groups": []any{"helpdesk-alumni"}}, selfservice.Staff{}, "login_staff", "neither"},
		{"no groups", map[string]any{"preferred_username": "sora"}, selfservice.Staff{}, "login_staff", "neither"},
		{"groups overage", map[string]any{"preferred_username": "sora", "_claim_names": map[string]any{"groups": "src1"}}, selfservice.Staff{}, "login_staff", "too many groups"},
		{"no name", map[string]any{"groups": []any{"helpdesk"}}, selfservice.Staff{}, "login_user", "no preferred_username claim"},
		{"name of another shape", map[string]any{"preferred_username": "hana; admin", "groups": []any{"helpdesk"}}, selfservice.Staff{}, "login_user", "not usable as a staff name"},
		{"name too long", map[string]any{"preferred_username": strings.Repeat("a", 65), "groups": []any{"helpdesk"}}, selfservice.Staff{}, "login_user", "not usable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Staff(tc.claims)
			var le *selfservice.LoginError
			switch {
			case tc.code == "" && (err != nil || got != tc.want):
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			case tc.code != "" && (!errors.As(err, &le) || le.Code != tc.code || !strings.Contains(le.Msg, tc.msg)):
				t.Fatalf("got %+v, %v; want %s with %q", got, err, tc.code, tc.msg)
			}
		})
	}
}

func TestStaffSessions(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	staff := selfservice.NewStaffSessions(db, 0, clk.Now)
	if staff.TTL() != selfservice.DefaultStaffSessionTTL {
		t.Fatalf("default lifetime %v", staff.TTL())
	}
	s, secret, err := staff.Open(t.Context(), selfservice.Staff{Name: "hana", Role: "enroll"})
	if err != nil || s.Via != "staff:enroll" || !s.Expires.Equal(clk.Now().Add(30*time.Minute)) {
		t.Fatalf("session %+v, %v", s, err)
	}
	if _, st, err := staff.Session(t.Context(), secret); err != nil || st != (selfservice.Staff{Name: "hana", Role: "enroll"}) {
		t.Fatalf("the session by its secret: %+v %v", st, err)
	}
	// The page's manager does not take a staff secret, nor staff sessions
	// a page secret: one table, two domains.
	pages := selfservice.New(selfservice.Options{Store: db, Now: clk.Now})
	if _, err := pages.Session(t.Context(), secret); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a staff secret as a page session: %v", err)
	}
	_, pageSecret, err := pages.Open(t.Context(), "hana", selfservice.ViaOIDC)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := staff.Session(t.Context(), pageSecret); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a page secret as a staff session: %v", err)
	}
	if _, _, err := staff.Session(t.Context(), "short"); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a malformed secret: %v", err)
	}
	clk.Advance(30 * time.Minute)
	if _, _, err := staff.Session(t.Context(), secret); !errors.Is(err, selfservice.ErrSessionExpired) {
		t.Fatalf("after 30 minutes: %v", err)
	}
	s2, secret2, _ := staff.Open(t.Context(), selfservice.Staff{Name: "aki", Role: "admin"})
	if err := staff.End(t.Context(), s2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := staff.Session(t.Context(), secret2); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a signed-out session: %v", err)
	}
}

// FuzzStaffPolicy feeds the policy ID token claims of any content: it
// never panics, a staff member it accepts has a name of the staff shape
// and the role of a group the claims list, and anything else is a
// LoginError of login_user or login_staff.
func FuzzStaffPolicy(f *testing.F) {
	f.Add("hana@example.ac.jp", "helpdesk", "students", false)
	f.Add("aki", "mfa-admins", "", true)
	f.Add("", "", "", false)
	f.Add("a b", "helpdesk", "mfa-admins", true)
	f.Add(strings.Repeat("x", 70), "\x00", "mfa-admins\n", false)
	p := selfservice.StaffPolicy{NameClaim: "preferred_username", GroupsClaim: "groups", AdminGroup: "mfa-admins", HelpdeskGroup: "helpdesk"}
	f.Fuzz(func(t *testing.T, name, g1, g2 string, asString bool) {
		claims := map[string]any{"preferred_username": name, "groups": []any{g1, g2}}
		if asString {
			claims["groups"] = g1
		}
		st, err := p.Staff(claims)
		if err != nil {
			var le *selfservice.LoginError
			if !errors.As(err, &le) || (le.Code != "login_user" && le.Code != "login_staff") {
				t.Fatalf("refusal %v is not a login_user or login_staff LoginError", err)
			}
			return
		}
		listed := func(g string) bool { return g1 == g || (!asString && g2 == g) }
		switch {
		case st.Name != name || len(name) > 64 || strings.ContainsAny(name, " \t\r\n;:<>\"'/\\"):
			t.Fatalf("accepted staff name %q", name)
		case st.Role == "admin" && !listed("mfa-admins"):
			t.Fatalf("admin without the admin group: %q %q %v", g1, g2, asString)
		case st.Role == "enroll" && (!listed("helpdesk") || listed("mfa-admins")):
			t.Fatalf("enroll from groups %q %q %v", g1, g2, asString)
		case st.Role != "admin" && st.Role != "enroll":
			t.Fatalf("role %q", st.Role)
		}
	})
}
