package selfservice

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Staff sign-in to the help-desk console: the console's relying party
// (an RP with Purpose "console") hands back the ID token's claims, a
// StaffPolicy maps them to a staff member and a role, and StaffSessions
// keeps the signed-in browsers in the table of the page's sessions.
// A staff session's row has the staff name in user_id and "staff:<role>"
// in via; its id_hash is the SHA-256 of the secret in a domain of its
// own, so that a console cookie is never a Security info page session
// nor the other way round.

// Staff roles, as the API names them.
const (
	StaffEnroll = "enroll" // the help desk
	StaffAdmin  = "admin"
)

// DefaultStaffSessionTTL is how long a staff session lasts by default.
const DefaultStaffSessionTTL = 30 * time.Minute

// Staff is a signed-in staff member.
type Staff struct {
	Name string // from the name claim: the audit log's staff:<Name>
	Role string // StaffEnroll or StaffAdmin
}

// StaffPolicy maps an ID token's claims to a staff member.
type StaffPolicy struct {
	NameClaim     string // names the staff member (like "preferred_username")
	GroupsClaim   string // lists the groups (like "groups")
	AdminGroup    string // "" : no one is an admin by group
	HelpdeskGroup string // "" : no one is help desk by group
}

// staffNameRE is what a staff name may be: it becomes part of the actor
// of audit events, so it is kept to the characters of user names, e-mail
// addresses and UPNs.
var staffNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)

// Staff returns the staff member the claims name; a claim missing or of
// the wrong shape, or a member of neither group, is a *LoginError
// (login_user, login_staff).
func (p StaffPolicy) Staff(claims map[string]any) (Staff, error) {
	name, _ := claims[p.NameClaim].(string)
	switch {
	case name == "":
		return Staff{}, loginErr("login_user", "the ID token has no "+p.NameClaim+" claim naming the staff member", nil)
	case !staffNameRE.MatchString(name):
		return Staff{}, loginErr("login_user", "the "+p.NameClaim+" "+clean(name)+" is not usable as a staff name (1 to 64 letters, digits and . _ @ + -)", nil)
	}
	var groups []string
	switch g := claims[p.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				groups = append(groups, s)
			}
		}
	case string:
		groups = []string{g}
	case nil:
		// Entra ID leaves groups out of a token for a member of too many
		// and names a source instead ("groups overage", _claim_names).
		if names, ok := claims["_claim_names"].(map[string]any); ok && names[p.GroupsClaim] != nil {
			return Staff{}, loginErr("login_staff", "the identity provider left the "+p.GroupsClaim+" claim out of the ID token (too many groups): have it send only the groups assigned to this application", nil)
		}
	}
	has := func(want string) bool {
		if want == "" {
			return false
		}
		for _, g := range groups {
			if g == want {
				return true
			}
		}
		return false
	}
	switch {
	case has(p.AdminGroup):
		return Staff{Name: name, Role: StaffAdmin}, nil
	case has(p.HelpdeskGroup):
		return Staff{Name: name, Role: StaffEnroll}, nil
	}
	var want []string
	for _, g := range []string{p.HelpdeskGroup, p.AdminGroup} {
		if g != "" {
			want = append(want, clean(g))
		}
	}
	return Staff{}, loginErr("login_staff", clean(name)+" is in neither staff group ("+strings.Join(want, ", ")+") of the "+p.GroupsClaim+" claim: ask an administrator to add you to the help desk group", nil)
}

// StaffSessions opens, finds and ends staff sessions.
type StaffSessions struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
}

// NewStaffSessions returns staff sessions in store lasting ttl (default
// DefaultStaffSessionTTL) from their start.
func NewStaffSessions(store Store, ttl time.Duration, now func() time.Time) *StaffSessions {
	if ttl <= 0 {
		ttl = DefaultStaffSessionTTL
	}
	if now == nil {
		now = time.Now
	}
	return &StaffSessions{store: store, ttl: ttl, now: now}
}

// TTL is how long a staff session lasts.
func (m *StaffSessions) TTL() time.Duration { return m.ttl }

const staffVia = "staff:"

func staffHash(secret string) []byte { return Hash("mfagate staff session\x00" + secret) }

// Open starts a session for st and returns it with the cookie's secret.
func (m *StaffSessions) Open(ctx context.Context, st Staff) (Session, string, error) {
	secret, now := token(), m.now()
	s := Session{IDHash: staffHash(secret), User: st.Name, Via: staffVia + st.Role, Created: now, Expires: now.Add(m.ttl)}
	if err := m.store.CreateSelfSession(ctx, s); err != nil {
		return Session{}, "", err
	}
	return s, secret, nil
}

// Session returns the session whose cookie holds secret and its staff
// member: ErrNoSession when there is none (forged, signed out, deleted),
// ErrSessionExpired when it has ended.
func (m *StaffSessions) Session(ctx context.Context, secret string) (Session, Staff, error) {
	if !wellFormed(secret) {
		return Session{}, Staff{}, ErrNoSession
	}
	s, err := m.store.SelfSession(ctx, staffHash(secret))
	if err != nil {
		return Session{}, Staff{}, err
	}
	role, ok := strings.CutPrefix(s.Via, staffVia)
	if !ok || (role != StaffEnroll && role != StaffAdmin) {
		return Session{}, Staff{}, ErrNoSession
	}
	if !m.now().Before(s.Expires) {
		return Session{}, Staff{}, ErrSessionExpired
	}
	return s, Staff{Name: s.User, Role: role}, nil
}

// End deletes the session (signing out).
func (m *StaffSessions) End(ctx context.Context, s Session) error {
	return m.store.DeleteSelfSession(ctx, s.IDHash)
}
