package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mfagate/mfa"
	"mfagate/store/postgres/pgtest"
	"mfagate/store/storetest"
)

// srv is the cluster every test of this package uses; nil when PostgreSQL
// is not installed.
var (
	srv     *pgtest.Server
	skipWhy string
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := pgtest.Start(ctx)
	cancel()
	switch {
	case errors.Is(err, pgtest.ErrNoServer):
		skipWhy = err.Error()
	case err != nil:
		fmt.Fprintln(os.Stderr, "start a throw-away PostgreSQL:", err)
		os.Exit(1)
	default:
		srv = s
	}
	code := m.Run()
	if srv != nil {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop PostgreSQL:", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// newDatabase returns the DSN of a new, empty database.
func newDatabase(t *testing.T) string {
	t.Helper()
	return srv.DSN(newDatabaseName(t))
}

func newDatabaseName(t *testing.T) string {
	t.Helper()
	if srv == nil {
		t.Skip(skipWhy)
	}
	name, err := srv.NewDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func openDSN(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn, srv.PasswordFile())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func open(t *testing.T) *DB {
	t.Helper()
	return openDSN(t, newDatabase(t))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mfa.Store { return open(t) })
}

// Nodes starting together against a new database all come up, and the
// schema is migrated once.
func TestConcurrentMigrations(t *testing.T) {
	dsn := newDatabase(t)
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			db, err := Open(t.Context(), dsn, srv.PasswordFile())
			if err == nil {
				err = db.Update(t.Context(), func(tx mfa.Tx) error {
					return tx.PutUser(mfa.User{ID: fmt.Sprint(i), State: mfa.StateOff, CreatedAt: time.Now(), UpdatedAt: time.Now()})
				})
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	db := openDSN(t, dsn)
	var versions []int
	rows, _ := db.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	want := make([]int, len(files)) // the files' numbers, which may have gaps
	for i, f := range files {
		want[i], _ = strconv.Atoi(strings.SplitN(path.Base(f), "_", 2)[0])
	}
	if err != nil || fmt.Sprint(versions) != fmt.Sprint(want) {
		t.Fatalf("schema versions = %v, %v; want each migration once: %v", versions, err, want)
	}
	db.View(t.Context(), func(tx mfa.Tx) error {
		n, err := tx.CountUsers()
		if err != nil || n[mfa.StateOff] != nodes {
			t.Errorf("users written by the nodes: %v %v", n, err)
		}
		return nil
	})
}

// A database migrated by a newer mfagated is refused, not used.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := newDatabase(t)
	db := openDSN(t, dsn)
	if _, err := db.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), dsn, srv.PasswordFile())
	if err == nil || !strings.Contains(err.Error(), "schema version 999") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// The password comes from a file, never from the DSN, and every way of
// getting it wrong says what is wrong without showing the password.
func TestPasswordFile(t *testing.T) {
	name := newDatabaseName(t)
	dsn := srv.DSN(name)
	good, err := os.ReadFile(srv.PasswordFile())
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(good))
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	url := fmt.Sprintf("postgres://%s@/%s?host=%s&port=5432&sslmode=disable", pgtest.Role, name, srv.Dir())
	tests := []struct {
		name, dsn, file, want string
	}{
		{"no trailing newline", dsn, file("bare", password), ""},
		{"CRLF", dsn, file("crlf", password+"\r\n"), ""},
		{"URL form", url, srv.PasswordFile(), ""},
		{"missing file", dsn, filepath.Join(dir, "absent"), "read password file"},
		{"empty file", dsn, file("empty", "\n"), "is empty"},
		{"wrong password", dsn, file("wrong", "not-"+password), "password authentication failed"},
		{"no password", dsn, "", "connect to"},
		{"password in key=value DSN", dsn + " password=" + password, "", "contains a password"},
		{"password in URL", strings.Replace(url, pgtest.Role+"@", pgtest.Role+":"+password+"@", 1), "", "contains a password"},
		{"password in URL query", url + "&password=" + password, "", "contains a password"},
		{"empty DSN", " ", "", "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(t.Context(), tc.dsn, tc.file)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if err := db.Ping(t.Context()); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded, want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// A transaction that loses to a concurrent one runs again, even when fn
// swallowed the error, and the result holds both writes.
func TestRetryAfterConflict(t *testing.T) {
	db := open(t)
	put := func(tx mfa.Tx, n int) error {
		return tx.PutUser(mfa.User{ID: "u", State: mfa.StateActive, ConsecutiveFailures: n, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	}
	if err := db.Update(t.Context(), func(tx mfa.Tx) error { return put(tx, 0) }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := db.Update(t.Context(), func(tx mfa.Tx) error {
		runs++
		u, err := tx.User("u")
		if err != nil {
			return err
		}
		if runs == 1 {
			// Another node increments the counter meanwhile.
			if err := db.Update(t.Context(), func(tx mfa.Tx) error {
				u, err := tx.User("u")
				if err != nil {
					return err
				}
				return put(tx, u.ConsecutiveFailures+1)
			}); err != nil {
				return fmt.Errorf("concurrent update: %w", err)
			}
		}
		if err := put(tx, u.ConsecutiveFailures+1); err != nil && runs == 1 {
			return nil // swallowed: the store must still notice the conflict
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("fn ran %d times, want 2 (one conflict, one success)", runs)
	}
	db.View(t.Context(), func(tx mfa.Tx) error {
		u, err := tx.User("u")
		if err != nil || u.ConsecutiveFailures != 2 {
			t.Errorf("counter = %d, %v; want 2: an increment was lost", u.ConsecutiveFailures, err)
		}
		return nil
	})
}

// Retries are bounded, and the final error says why.
func TestRetriesBounded(t *testing.T) {
	db := open(t)
	runs := 0
	conflict := &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	err := db.Update(t.Context(), func(tx mfa.Tx) error {
		runs++
		return fmt.Errorf("store challenge: %w", conflict)
	})
	if runs != MaxAttempts {
		t.Errorf("fn ran %d times, want %d", runs, MaxAttempts)
	}
	if !errors.Is(err, conflict) || !strings.Contains(err.Error(), "conflicting") {
		t.Errorf("err = %v", err)
	}
	// Other errors are not retried.
	runs = 0
	other := errors.New("refused")
	if err := db.Update(t.Context(), func(mfa.Tx) error { runs++; return other }); !errors.Is(err, other) || runs != 1 {
		t.Errorf("a plain error: %v after %d runs", err, runs)
	}
}

func TestPingAfterClose(t *testing.T) {
	db := open(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.Ping(t.Context()); err == nil {
		t.Fatal("Ping of a closed store succeeded")
	}
}

// A node claiming while another holds a claimed job in an open transaction
// takes the next job at once instead of waiting for that transaction.
func TestClaimSkipsHeldJobs(t *testing.T) {
	db := open(t)
	now := time.Now()
	err := db.Update(t.Context(), func(tx mfa.Tx) error {
		for _, id := range []string{"a", "b"} {
			if err := tx.PutJob(mfa.Job{ID: id, Challenge: "c_" + id, Channel: mfa.ChannelSMS, To: "+819012345678",
				Sealed: []byte{1}, State: mfa.JobQueued, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	claimed, release := make(chan string, 1), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- db.Update(context.Background(), func(tx mfa.Tx) error {
			j, err := tx.ClaimJob(mfa.JobClaim{Channels: []mfa.Channel{mfa.ChannelSMS}, Modem: "m1", Node: "node-1", Now: now, LeaseUntil: now.Add(time.Minute)})
			if err != nil {
				close(claimed)
				return err
			}
			claimed <- j.ID
			<-release
			return nil
		})
	}()
	first := <-claimed
	second := make(chan string, 1)
	go func() {
		var id string
		err := db.Update(context.Background(), func(tx mfa.Tx) error {
			j, err := tx.ClaimJob(mfa.JobClaim{Channels: []mfa.Channel{mfa.ChannelSMS}, Modem: "m2", Node: "node-2", Now: now, LeaseUntil: now.Add(time.Minute)})
			id = j.ID
			return err
		})
		if err != nil {
			id = "error: " + err.Error()
		}
		second <- id
	}()
	select {
	case id := <-second:
		if id == first || id == "" || strings.HasPrefix(id, "error") {
			t.Errorf("first claim %q, second %q: want the other job", first, id)
		}
	case <-time.After(5 * time.Second):
		t.Error("the second claim waited for the first claim's transaction")
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
}

func TestReseal(t *testing.T) {
	storetest.RunReseal(t, func(t *testing.T) storetest.ResealStore { return open(t) })
}
