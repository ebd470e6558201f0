package mfa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// UserFilter picks users for ListUsers and ExportUsers; zero fields do not
// filter. It speaks of what the API shows (the effective state, the
// warnings), not of stored columns: the service decides, the store only
// narrows the candidates with its indexes.
type UserFilter struct {
	State State // off, pending or active
	// MethodKind keeps users with a usable method of this kind (totp,
	// phone, fido) or a live Temporary Access Pass (tap).
	MethodKind Kind
	// Only, with MethodKind, keeps users all of whose usable methods are
	// of that kind: "every user still on phones only".
	Only    bool
	Warning string // one of the Warning* values
}

// UserQuery is what Tx.Users selects: stored users whose ID is after After
// (byte order), by ID, at most Limit. The conditions narrow the stored
// records; a store may return records that the service then drops, never
// leave out one that matches. Usable methods are the confirmed ones that
// are not passes (Method.Usable).
type UserQuery struct {
	After string
	Limit int
	// States are the stored states to list; nil for all.
	States []State
	// Kind: a confirmed method of this kind exists. OnlyKind: and no
	// usable method of another kind.
	Kind     Kind
	OnlyKind bool
	// OneUsable: exactly one usable method. SomeUsable: at least one.
	OneUsable    bool
	SomeUsable   bool
	NoDefault    bool // no default method
	PhoneBlocked bool // blocked by a fraud report
	MinFailures  int  // > 0: at least that many consecutive failures
}

// UserPage is one page of ListUsers.
type UserPage struct {
	Users []UserView
	// Next is the keyset cursor for the following page (the last user ID
	// looked at), "" after the last page. A page may hold fewer users than
	// asked for, even none, and still have a Next.
	Next string
}

// MaxUserPage is the largest page ListUsers returns.
const MaxUserPage = 1000

var warnings = []string{WarningSingleMethod, WarningNoDefaultMethod, WarningPhoneBlocked, WarningLocked}

// CheckUserFilter refuses a filter that names no known state, kind or
// warning, with what would be accepted.
func CheckUserFilter(f UserFilter) error {
	switch f.State {
	case "", StateOff, StatePending, StateActive:
	default:
		return refuse(CodeInvalidFilter, "state %q is unknown: use off, pending or active", truncate(string(f.State), 32))
	}
	switch f.MethodKind {
	case "", KindTOTP, KindPhone, KindFIDO, KindTAP:
	default:
		return refuse(CodeInvalidFilter, "method_kind %q is unknown: use totp, phone, fido or tap", truncate(string(f.MethodKind), 32))
	}
	if f.Only && (f.MethodKind == "" || f.MethodKind == KindTAP) {
		return refuse(CodeInvalidFilter, "only needs method_kind totp, phone or fido: the kind every usable method must have")
	}
	if f.Warning != "" && !slices.Contains(warnings, f.Warning) {
		return refuse(CodeInvalidFilter, "warning %q is unknown: use %s", truncate(f.Warning, 32), strings.Join(warnings, ", "))
	}
	return nil
}

// query narrows f to stored records.
func (s *Service) query(f UserFilter, after string, limit int) UserQuery {
	q := UserQuery{After: after, Limit: limit, Kind: f.MethodKind, OnlyKind: f.Only}
	switch f.State {
	case StateActive:
		// A pending user whose activation time has come is active before
		// the sweeper stores it.
		q.States = []State{StateActive, StatePending}
	case StateOff, StatePending:
		q.States = []State{f.State}
	}
	switch f.Warning {
	case WarningSingleMethod:
		q.OneUsable = true
	case WarningNoDefaultMethod:
		q.SomeUsable, q.NoDefault = true, true
	case WarningPhoneBlocked:
		q.PhoneBlocked = true
	case WarningLocked:
		q.MinFailures = max(s.pol().MaxConsecutiveFailures, 1)
	}
	return q
}

// matches reports whether the user's view passes f: the rules of view()
// decide, whatever the store selected.
func matches(v UserView, f UserFilter) bool {
	if f.State != "" && v.State != f.State {
		return false
	}
	if f.Warning != "" && !slices.Contains(v.Warnings, f.Warning) {
		return false
	}
	if f.MethodKind == "" {
		return true
	}
	found := false
	for _, m := range v.Methods {
		if f.MethodKind == KindTAP {
			found = found || m.Kind == KindTAP // view() keeps only live passes
			continue
		}
		if !m.Usable() {
			continue
		}
		if m.Kind == f.MethodKind {
			found = true
		} else if f.Only {
			return false
		}
	}
	return found
}

// ListUsers returns one page of the users whose stored record matches f,
// by user ID after the cursor after ("" for the first page). Users who
// never registered anything have no record and are not listed.
func (s *Service) ListUsers(ctx context.Context, f UserFilter, after string, limit int) (UserPage, error) {
	if err := CheckUserFilter(f); err != nil {
		return UserPage{}, err
	}
	if after != "" {
		if err := s.checkUserID(after); err != nil {
			return UserPage{}, refuse(CodeInvalidFilter, "the cursor does not name a user; pass the next_cursor of the previous page unchanged")
		}
	}
	if limit < 1 || limit > MaxUserPage {
		return UserPage{}, refuse(CodeInvalidFilter, "limit %d is out of range: ask for 1 to %d users", limit, MaxUserPage)
	}
	var page UserPage
	err := s.store.View(ctx, func(tx Tx) error {
		page = UserPage{}
		users, err := tx.Users(s.query(f, after, limit))
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return nil
		}
		if len(users) > limit {
			return fmt.Errorf("list users: the store returned %d users for a page of %d", len(users), limit)
		}
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		methods, err := tx.MethodsOf(ids)
		if err != nil {
			return err
		}
		byUser := make(map[string][]Method, len(users))
		for _, m := range methods {
			byUser[m.User] = append(byUser[m.User], m)
		}
		for _, u := range users {
			if v := s.view(u, byUser[u.ID]); matches(v, f) {
				page.Users = append(page.Users, v)
			}
		}
		if len(users) == limit {
			page.Next = users[len(users)-1].ID
		}
		return nil
	})
	return page, err
}

// exportPage is how many users ExportUsers reads in one transaction.
const exportPage = 500

// ExportUsers calls fn for every user matching f, by user ID. Each page
// of users is read in its own transaction: a user changed during a long
// export appears as they were when their page was read.
func (s *Service) ExportUsers(ctx context.Context, f UserFilter, fn func(UserView) error) error {
	after := ""
	for {
		page, err := s.ListUsers(ctx, f, after, exportPage)
		if err != nil {
			return err
		}
		for _, v := range page.Users {
			if err := fn(v); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// ImportPhone is one line of an import: a user and a phone number the
// institution already has on file, registered unconfirmed ("pending
// confirmation"); the user confirms it later by registering the phone at
// a kiosk or on the Security info page, which sends the code.
type ImportPhone struct {
	Line     int // where it came from, for the errors
	User     string
	Phone    string
	Slot     Slot
	Channel  Channel
	Language string
	Label    string
}

// LineError is why one line of an import was refused.
type LineError struct {
	Line    int
	Code    Code
	Message string
}

// ImportError refuses a whole import: the lines that are wrong, each with
// its reason. Nothing was imported.
type ImportError struct {
	Lines []LineError
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("%d lines of the import are refused; nothing was imported (line %d: %s)", len(e.Lines), e.Lines[0].Line, e.Lines[0].Message)
}

// MaxImportLines bounds one import; a larger rollout is split.
const MaxImportLines = 50000

// ImportPhones registers every line's phone, unconfirmed and without
// sending anything, all or nothing: when any line is refused (a user ID or
// number that is not valid, a slot that holds a confirmed phone, a user
// and slot twice in the file) nothing is stored and the error lists every
// refused line. An unconfirmed phone already in the slot is replaced.
// The proof rule holds as for one registration: a client that is not an
// admin cannot import a phone for a user whose MFA is on.
func (s *Service) ImportPhones(ctx context.Context, actor Actor, lines []ImportPhone) (n int, err error) {
	if len(lines) == 0 {
		return 0, refuse(CodeImportRejected, "the import holds no lines")
	}
	if len(lines) > MaxImportLines {
		return 0, refuse(CodeImportRejected, "the import holds %d lines; the limit is %d: split it", len(lines), MaxImportLines)
	}
	now := s.now()
	var bad []LineError
	reject := func(line int, err error) {
		var e *Error
		if errors.As(err, &e) {
			bad = append(bad, LineError{Line: line, Code: e.Code, Message: e.Message})
			return
		}
		bad = append(bad, LineError{Line: line, Code: CodeInvalidRequest, Message: err.Error()})
	}
	methods := make([]Method, len(lines))
	type userSlot struct {
		user string
		slot Slot
	}
	seen := map[userSlot]int{}
	for i, l := range lines {
		if err := s.checkUserID(l.User); err != nil {
			reject(l.Line, err)
			continue
		}
		if err := checkLanguage(l.Language); err != nil {
			reject(l.Line, err)
			continue
		}
		label, err := checkLabel(l.Label, KindPhone, l.Slot)
		if err != nil {
			reject(l.Line, err)
			continue
		}
		m, err := s.phoneMethod(l.User, label, AddMethodRequest{Kind: KindPhone, Slot: l.Slot, Channel: l.Channel, Phone: l.Phone, Language: l.Language}, now)
		if err != nil {
			reject(l.Line, err)
			continue
		}
		k := userSlot{l.User, l.Slot}
		if first, dup := seen[k]; dup {
			reject(l.Line, refuse(CodeSlotTaken, "user %s's %s phone is already on line %d", l.User, l.Slot, first))
			continue
		}
		seen[k] = l.Line
		methods[i] = m
	}
	if len(bad) > 0 {
		return 0, &ImportError{Lines: bad}
	}
	err = s.update(ctx, func(tx Tx) (bool, error) {
		bad = nil // a store may run fn again
		for i, m := range methods {
			u, err := loadUser(tx, m.User, now)
			if err != nil {
				return false, err
			}
			err = s.requireProof(tx, actor, u, "")
			if err == nil {
				err = s.placePhone(tx, actor, &u, m)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					return false, err
				}
				reject(lines[i].Line, err)
			}
		}
		if len(bad) > 0 {
			return false, &ImportError{Lines: bad}
		}
		return false, nil
	})
	if err != nil {
		return 0, err
	}
	return len(methods), nil
}
