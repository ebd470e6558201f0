package api

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mfagate/mfa"
)

// Finding users (GET /v1/users), exporting them (GET /v1/export/users)
// and importing pre-registered phones (POST /v1/users/import).

func (s *Server) userRoutes(enroll, admin []Role) {
	s.handle("GET /v1/users", enroll, s.listUsers)
	s.handle("GET /v1/export/users", admin, s.exportUsers)
	s.handle("POST /v1/users/import", admin, s.importUsers)
}

const defaultUserPage = 100

// userFilterParams are the query parameters of a listing; export adds format.
var userFilterParams = []string{"state", "method_kind", "only", "warning"}

// parseUserFilter reads the filter of a listing or an export, refusing
// parameters it does not know (a typo must not list everyone).
func parseUserFilter(q url.Values, extra ...string) (mfa.UserFilter, error) {
	known := append(slices.Clone(userFilterParams), extra...)
	for k, vs := range q {
		if !slices.Contains(known, k) {
			return mfa.UserFilter{}, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidFilter), "unknown parameter %q: use %s", truncate(k, 32), strings.Join(known, ", "))
		}
		if len(vs) > 1 {
			return mfa.UserFilter{}, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidFilter), "parameter %q is given %d times; give it once", k, len(vs))
		}
	}
	f := mfa.UserFilter{State: mfa.State(q.Get("state")), MethodKind: mfa.Kind(q.Get("method_kind")), Warning: q.Get("warning")}
	switch q.Get("only") {
	case "", "false":
	case "true":
		f.Only = true
	default:
		return mfa.UserFilter{}, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidFilter), "only must be true or false")
	}
	return f, mfa.CheckUserFilter(f)
}

// A cursor is the last user ID of the page before, base64url-encoded: an
// opaque token to the client, that survives any character in an ID.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", newProblem(http.StatusBadRequest, string(mfa.CodeInvalidCursor), "cursor %q is not one this gateway gave; pass the next_cursor of the previous page unchanged, or none for the first page", truncate(c, 40))
	}
	return string(b), nil
}

type userPageJSON struct {
	Users      []userJSON `json:"users"`
	NextCursor *string    `json:"next_cursor"`
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ *Client) error {
	q := r.URL.Query()
	cursor, limitText := q.Get("cursor"), q.Get("limit")
	q.Del("cursor")
	q.Del("limit")
	f, err := parseUserFilter(q, "cursor", "limit")
	if err != nil {
		return err
	}
	after := ""
	if cursor != "" {
		if after, err = decodeCursor(cursor); err != nil {
			return err
		}
	}
	limit := defaultUserPage
	if limitText != "" {
		if limit, err = strconv.Atoi(limitText); err != nil {
			return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidFilter), "limit %q is not a number: ask for 1 to %d users", truncate(limitText, 16), mfa.MaxUserPage)
		}
	}
	page, err := s.svc.ListUsers(r.Context(), f, after, limit)
	if err != nil {
		return err
	}
	out := userPageJSON{Users: make([]userJSON, 0, len(page.Users))}
	for _, v := range page.Users {
		out.Users = append(out.Users, s.userView(v))
	}
	if page.Next != "" {
		c := encodeCursor(page.Next)
		out.NextCursor = &c
	}
	return writeJSON(w, http.StatusOK, out)
}

// csvColumns are the export's columns: one row per method, a user without
// methods on one row of their own. Phones are masked as everywhere; no
// secret, pass or credential is in an export.
var csvColumns = []string{"user", "state", "warnings", "default_method", "last_test_signin_at",
	"method_id", "kind", "label", "confirmed", "default", "slot", "channel", "phone", "last_used_at"}

func (s *Server) exportUsers(w http.ResponseWriter, r *http.Request, _ *Client) error {
	q := r.URL.Query()
	format := q.Get("format")
	q.Del("format")
	f, err := parseUserFilter(q, "format")
	if err != nil {
		return err
	}
	var write func(userJSON) error
	var end func() error
	switch format {
	case "csv", "":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="mfagate-users.csv"`)
		cw := csv.NewWriter(w)
		cw.Write(csvColumns)
		write = func(u userJSON) error {
			for _, row := range csvRows(u) {
				cw.Write(row)
			}
			cw.Flush()
			return cw.Error()
		}
		end = func() error { cw.Flush(); return cw.Error() }
	case "json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="mfagate-users.json"`)
		io.WriteString(w, "[")
		first := true
		write = func(u userJSON) error {
			b, err := json.Marshal(u)
			if err != nil {
				return err
			}
			if !first {
				io.WriteString(w, ",")
			}
			first = false
			_, err = w.Write(append([]byte("\n"), b...))
			return err
		}
		end = func() error { _, err := io.WriteString(w, "\n]\n"); return err }
	default:
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidFilter), "format %q is unknown: use csv or json", truncate(format, 16))
	}
	// server.write_timeout bounds a whole answer; an export of many
	// users may take longer, so each user written moves the deadline on
	// (a stalled client still times out).
	rc := http.NewResponseController(w)
	started := false
	err = s.svc.ExportUsers(r.Context(), f, func(v mfa.UserView) error {
		started = true
		rc.SetWriteDeadline(time.Now().Add(exportStall))
		return write(s.userView(v))
	})
	if err != nil && !started {
		w.Header().Del("Content-Disposition")
		return err
	}
	if err != nil {
		// The status is sent: cut the answer off so that the client
		// cannot take a partial export for a whole one.
		s.log.Error("user export failed midway", "err", err)
		panic(http.ErrAbortHandler)
	}
	return end()
}

// exportStall is how long an export may wait for the client to take
// the next user.
const exportStall = 30 * time.Second

// importTime bounds reading and storing one import, beyond
// server.read_timeout and server.write_timeout: 50 000 lines take seconds.
const importTime = 5 * time.Minute

// csvRows are the export rows of one user.
func csvRows(u userJSON) [][]string {
	def := ""
	if u.DefaultMethod != nil {
		def = *u.DefaultMethod
	}
	head := []string{u.User, u.MFA.State, strings.Join(u.Warnings, ";"), def, stamp(u.MFA.LastTestSigninAt)}
	if len(u.Methods) == 0 {
		return [][]string{append(head, make([]string, len(csvColumns)-len(head))...)}
	}
	rows := make([][]string, 0, len(u.Methods))
	for _, m := range u.Methods {
		rows = append(rows, append(slices.Clone(head), m.ID, m.Kind, cell(m.Label), strconv.FormatBool(m.Confirmed),
			strconv.FormatBool(m.Default), m.Slot, m.Channel, m.Phone, stamp(m.LastUsedAt)))
	}
	return rows
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// cell keeps a spreadsheet from reading a label as a formula (OWASP's
// "CSV injection"): a leading =, +, -, @, tab or CR gets a quote.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// MaxImportBody bounds an import's CSV (about 50 000 lines).
const MaxImportBody = 8 << 20

// importColumns are the columns an import may have; user, phone and slot
// are required.
var importColumns = []string{"user", "phone", "slot", "channel", "language", "label"}

type lineJSON struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func importProblem(lines []mfa.LineError) *problem {
	p := newProblem(http.StatusUnprocessableEntity, string(mfa.CodeImportRejected), "%d lines are refused; nothing was imported: correct them and send the whole file again", len(lines))
	if len(lines) == 1 {
		p.Detail = fmt.Sprintf("line %d is refused (%s); nothing was imported: correct it and send the whole file again", lines[0].Line, lines[0].Message)
	}
	for _, l := range lines {
		p.Lines = append(p.Lines, lineJSON{Line: l.Line, Code: string(l.Code), Detail: l.Message})
	}
	return p
}

// parseImport reads an import's CSV: a header naming the columns, then one
// phone a line. Line numbers count from the header, line 1, as an editor
// shows them.
func parseImport(body []byte) ([]mfa.ImportPhone, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a spreadsheet's byte order mark
	cr := csv.NewReader(bytes.NewReader(body))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, importProblem([]mfa.LineError{{Line: 1, Code: mfa.CodeImportRejected, Message: "the file is empty; the first line names the columns: " + strings.Join(importColumns, ",")}})
	}
	if err != nil {
		return nil, csvProblem(err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(importColumns, h) {
			return nil, importProblem([]mfa.LineError{{Line: 1, Code: mfa.CodeImportRejected, Message: fmt.Sprintf("column %q is unknown: the columns are %s", truncate(h, 32), strings.Join(importColumns, ", "))}})
		}
		if _, dup := col[h]; dup {
			return nil, importProblem([]mfa.LineError{{Line: 1, Code: mfa.CodeImportRejected, Message: fmt.Sprintf("column %q is named twice", h)}})
		}
		col[h] = i
	}
	for _, need := range []string{"user", "phone", "slot"} {
		if _, ok := col[need]; !ok {
			return nil, importProblem([]mfa.LineError{{Line: 1, Code: mfa.CodeImportRejected, Message: fmt.Sprintf("the column %q is missing: the first line names the columns, e.g. user,phone,slot,channel,language,label", need)}})
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []mfa.ImportPhone
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvProblem(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) == mfa.MaxImportLines {
			return nil, importProblem([]mfa.LineError{{Line: line, Code: mfa.CodeImportRejected, Message: fmt.Sprintf("the import holds more than %d lines: split it", mfa.MaxImportLines)}})
		}
		out = append(out, mfa.ImportPhone{Line: line, User: get(rec, "user"), Phone: get(rec, "phone"),
			Slot: mfa.Slot(get(rec, "slot")), Channel: mfa.Channel(get(rec, "channel")),
			Language: get(rec, "language"), Label: get(rec, "label")})
	}
	if len(out) == 0 {
		return nil, importProblem([]mfa.LineError{{Line: 2, Code: mfa.CodeImportRejected, Message: "the file names the columns but holds no phones"}})
	}
	return out, nil
}

func csvProblem(err error) *problem {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return importProblem([]mfa.LineError{{Line: pe.StartLine, Code: mfa.CodeImportRejected, Message: fmt.Sprintf("not CSV: %v", pe.Err)}})
	}
	return newProblem(http.StatusBadRequest, string(mfa.CodeImportRejected), "the CSV could not be read: %v", err)
}

type importAnswer struct {
	Imported int `json:"imported"`
}

func (s *Server) importUsers(w http.ResponseWriter, r *http.Request, c *Client) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "text/csv" {
		return newProblem(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "send the import as text/csv (Content-Type: text/csv), a header line naming the columns %s, then one phone a line", strings.Join(importColumns, ","))
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(importTime))
	rc.SetWriteDeadline(time.Now().Add(importTime))
	if r.ContentLength > MaxImportBody {
		return newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "the body is %d bytes; the limit is %d: split the import", r.ContentLength, MaxImportBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxImportBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "the body exceeds the %d-byte limit: split the import", MaxImportBody)
		}
		return newProblem(http.StatusBadRequest, string(mfa.CodeImportRejected), "the body could not be read: %v", err)
	}
	lines, err := parseImport(body)
	if err != nil {
		return err
	}
	n, err := s.svc.ImportPhones(r.Context(), actor(c), lines)
	var ie *mfa.ImportError
	if errors.As(err, &ie) {
		return importProblem(ie.Lines)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, importAnswer{Imported: n})
}
