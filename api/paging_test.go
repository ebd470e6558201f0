package api_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"mfagate/mfa"
)

// The outbox and the audit log list newest first and page with before and
// after cursors; following the pages one way or the other meets every row
// exactly once.
func TestOutboxAndAuditPages(t *testing.T) {
	h := newHarness(t)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var want []string // newest first
	err := h.db.Update(t.Context(), func(tx mfa.Tx) error {
		for i := range 25 {
			st := mfa.JobSent
			if i%5 == 0 {
				st = mfa.JobFailed
			}
			// Jobs 10 and 11 are created at one instant: the ID breaks the tie.
			created := at.Add(time.Duration(min(i, 10)+max(i-11, 0)) * time.Second)
			j := mfa.Job{ID: fmt.Sprintf("j_page%02d", i), Challenge: fmt.Sprintf("c_page%02d", i), Channel: mfa.ChannelSMS,
				To: "+819012345678", Sealed: []byte{1}, State: st, CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(time.Minute)}
			if err := tx.PutJob(j); err != nil {
				return err
			}
			want = append([]string{j.ID}, want...)
			if err := tx.AddEvent(mfa.Event{At: created, User: user, Type: "test_sms", Detail: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	jobIDs := func(path string) []string {
		r := h.do("GET", path, tokAdmin, "")
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
		}
		out := []string{}
		for _, j := range jsonArray(t, r.raw) {
			out = append(out, j["id"].(string))
		}
		return out
	}
	if got := jobIDs("/v1/outbox?limit=3"); !slices.Equal(got, want[:3]) {
		t.Fatalf("first page %v, want the newest %v", got, want[:3])
	}
	// Older, page by page.
	var seen []string
	for page, path := 0, "/v1/outbox?limit=7"; ; page++ {
		got := jobIDs(path)
		if len(got) == 0 {
			break
		}
		seen = append(seen, got...)
		path = "/v1/outbox?limit=7&before=" + got[len(got)-1]
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("pages before…:\n%v\nwant\n%v", seen, want)
	}
	// Newer, from the oldest, page by page: each page newest first.
	seen = nil
	for cursor := want[len(want)-1]; ; {
		got := jobIDs("/v1/outbox?limit=4&after=" + cursor)
		if len(got) == 0 {
			break
		}
		seen = append(slices.Clone(got), seen...)
		cursor = got[0]
	}
	if !slices.Equal(seen, want[:len(want)-1]) {
		t.Errorf("pages after…:\n%v\nwant\n%v", seen, want[:len(want)-1])
	}
	if got, wantFailed := jobIDs("/v1/outbox?state=failed&before=j_page20"), []string{"j_page15", "j_page10", "j_page05", "j_page00"}; !slices.Equal(got, wantFailed) {
		t.Errorf("failed jobs before j_page20: %v, want %v", got, wantFailed)
	}

	events := func(path string) (ids []int64, details []string) {
		r := h.do("GET", path, tokAdmin, "")
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
		}
		for _, e := range jsonArray(t, r.raw) {
			ids = append(ids, int64(e["id"].(float64)))
			details = append(details, e["detail"].(string))
		}
		return ids, details
	}
	ids, details := events("/v1/audit?user=" + user + "&limit=3")
	if !slices.Equal(details, []string{"24", "23", "22"}) {
		t.Fatalf("newest events %v", details)
	}
	if _, d := events(fmt.Sprintf("/v1/audit?user=%s&limit=2&before=%d", user, ids[2])); !slices.Equal(d, []string{"21", "20"}) {
		t.Errorf("events before %d: %v", ids[2], d)
	}
	if _, d := events(fmt.Sprintf("/v1/audit?user=%s&limit=2&after=%d", user, ids[2])); !slices.Equal(d, []string{"24", "23"}) {
		t.Errorf("events after %d: %v", ids[2], d)
	}
}
