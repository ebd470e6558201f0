package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// appCode is an authenticator app's code for secret at at, computed with
// pquerna/otp rather than the gateway's own code.
func appCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrollApp registers and confirms an authenticator app for user (with the
// previous time step's code, so that the next steps are fresh).
func (g *gateway) enrollApp(user string) (method, secret string) {
	g.t.Helper()
	var a addedMethod
	if c := g.call("POST", "/v1/users/"+user+"/methods", `{"kind":"totp"}`, &a); c != 201 {
		g.t.Fatalf("add totp for %s: HTTP %d", user, c)
	}
	code := appCode(g.t, a.TOTP.Secret, time.Now().Add(-30*time.Second))
	if c := g.call("POST", "/v1/users/"+user+"/methods/"+a.Method.ID+"/confirm", `{"code":"`+code+`"}`, nil); c != 200 {
		g.t.Fatalf("confirm totp for %s: HTTP %d", user, c)
	}
	return a.Method.ID, a.TOTP.Secret
}

// signIn runs a test sign-in of user's app with the code for at and
// returns the verification's HTTP status (200: approved).
func (g *gateway) signIn(user, method, secret string, at time.Time) int {
	g.t.Helper()
	var ch struct{ ID string }
	if c := g.call("POST", "/v1/users/"+user+"/challenges", `{"purpose":"test","method":"`+method+`"}`, &ch); c != 201 {
		g.t.Fatalf("challenge for %s: HTTP %d", user, c)
	}
	var res struct{ Status string }
	c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+appCode(g.t, secret, at)+`"}`, &res)
	if c == 200 && res.Status != "approved" {
		return 0
	}
	return c
}

// stop ends the daemon with SIGTERM and waits for it.
func (g *gateway) stop() {
	g.cmd.Process.Signal(syscall.SIGTERM)
	g.cmd.Wait()
}

// tool runs one of the built binaries and returns its exit code and output.
func tool(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, args[0]), args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

type appUser struct{ id, method, secret string }

// The README's restore drill: back up while sign-ins and enrollments go
// on, restore into a fresh daemon's store, and the apps enrolled before the
// backup sign in there with their next codes.
func TestBackupRestoreDrill(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, bin, "")
	g.start()
	var users []appUser
	for i := range 6 {
		u := appUser{id: fmt.Sprintf("30000000%02d", i)}
		u.method, u.secret = g.enrollApp(u.id)
		users = append(users, u)
	}

	// Sign-ins and enrollments continue while the backup runs.
	var writes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := users[i%len(users)]
			g.signIn(u.id, u.method, u.secret, time.Now()) // a replayed step is refused; the writes happen
			g.enrollApp(fmt.Sprintf("31%08d", i))
			writes.Add(1)
		}
	})
	waitFor(t, "sign-ins under way", 20*time.Second, func() bool { return writes.Load() > 0 })
	file := filepath.Join(t.TempDir(), "mfagate-backup.db")
	before := writes.Load()
	code, out, errOut := tool(t, bin, "mfagatectl", "-url", "unix:"+g.sock, "-token-file", filepath.Join(g.dir, "admin.token"), "backup", file)
	if code != 0 {
		t.Fatalf("mfagatectl backup: exit %d: %s", code, errOut)
	}
	waitFor(t, "sign-ins after the backup", 20*time.Second, func() bool { return writes.Load() > before+1 })
	close(stop)
	wg.Wait()
	if !strings.Contains(out, "wrote "+file) {
		t.Errorf("backup output: %q", out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file %v, want mode 0600", err)
	}
	// A second backup to the same name is refused and leaves the first.
	if code, _, errOut := tool(t, bin, "mfagatectl", "-url", "unix:"+g.sock, "-token-file", filepath.Join(g.dir, "admin.token"), "backup", file); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("backup over an existing file: exit %d, %q", code, errOut)
	}

	// Restoring into the running daemon's own store is refused.
	conf := filepath.Join(g.dir, "mfagate.toml")
	if code, _, errOut := tool(t, bin, "mfagated", "-config", conf, "-restore", file, "-force"); code != 1 || !strings.Contains(errOut, "is in use: stop mfagated") {
		t.Errorf("restore into a running daemon's store: exit %d, %q", code, errOut)
	}
	g.stop()

	// A fresh daemon with the same key file: the drill.
	fresh := newGateway(t, bin, "")
	freshConf := filepath.Join(fresh.dir, "mfagate.toml")
	freshDB := filepath.Join(fresh.dir, "mfagate.db")
	code, out, errOut = tool(t, bin, "mfagated", "-config", freshConf, "-restore", file)
	if code != 0 || !strings.Contains(out, "restored "+file+" to "+freshDB) {
		t.Fatalf("restore: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if fi, err := os.Stat(freshDB); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("restored database: %v, want mode 0600", err)
	}
	fresh.start()
	for _, u := range users {
		if c := fresh.signIn(u.id, u.method, u.secret, time.Now().Add(30*time.Second)); c != 200 {
			t.Errorf("%s signs in on the restored daemon: HTTP %d, want 200", u.id, c)
		}
	}
	fresh.stop()

	// Refusals, each changing nothing.
	snapshot := func() []byte { b, _ := os.ReadFile(freshDB); return b }
	kept := snapshot()
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notDB, []byte("not a database at all, but long enough\n"), 0o600)
	newer := filepath.Join(t.TempDir(), "newer.db")
	b, _ := os.ReadFile(file)
	os.WriteFile(newer, b, 0o600)
	if db, err := sql.Open("sqlite", newer); err != nil {
		t.Fatal(err)
	} else {
		if _, err := db.Exec(`INSERT INTO schema_migrations (version) VALUES (9999)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	otherKey := newGateway(t, bin, "")
	os.WriteFile(filepath.Join(otherKey.dir, "secret.key"), []byte(strings.Repeat("cd", 32)), 0o600)
	for _, tt := range []struct {
		name, conf, file string
		force            bool
		msg              string
	}{
		{"existing store without -force", freshConf, file, false, "exists: stop mfagated and pass -force"},
		{"not a database", freshConf, notDB, true, "not an SQLite database file"},
		{"missing file", freshConf, filepath.Join(t.TempDir(), "none.db"), true, "does not exist"},
		{"newer schema", freshConf, newer, true, "schema version 9999, newer than this mfagated's"},
		{"another key", filepath.Join(otherKey.dir, "mfagate.toml"), file, true, "was sealed with a key this configuration does not have"},
	} {
		args := []string{"mfagated", "-config", tt.conf, "-restore", tt.file}
		if tt.force {
			args = append(args, "-force")
		}
		code, out, errOut := tool(t, bin, args...)
		if code != 1 || !strings.Contains(errOut, tt.msg) || out != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want 1 and %q", tt.name, code, errOut, out, tt.msg)
		}
	}
	if !bytes.Equal(snapshot(), kept) {
		t.Error("a refused restore changed the store")
	}
	if _, err := os.Stat(filepath.Join(otherKey.dir, "mfagate.db")); err == nil {
		t.Error("a restore refused for its key created the store")
	}
	// With -force the replaced database is kept beside the restored one.
	code, out, errOut = tool(t, bin, "mfagated", "-config", freshConf, "-restore", file, "-force")
	if code != 0 || !strings.Contains(out, "is kept as "+freshDB+".replaced-") {
		t.Fatalf("restore -force: exit %d\n%s%s", code, out, errOut)
	}
}

// Server key rotation end to end: secrets sealed with key A; the daemon
// restarted with key B and A as previous re-seals them all; restarted with
// B alone, every app still signs in.
func TestKeyRotation(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, bin, "")
	conf := filepath.Join(g.dir, "mfagate.toml")
	g.start()
	var users []appUser
	for i := range 6 {
		u := appUser{id: fmt.Sprintf("40000000%02d", i)}
		u.method, u.secret = g.enrollApp(u.id)
		users = append(users, u)
	}
	// Temporary Access Passes are keyed hashes made with A: they cannot be
	// re-sealed, and verify while A is listed.
	type issued struct {
		Pass   string
		Method struct{ ID string }
	}
	var passes [2]issued
	for i, u := range []appUser{users[1], users[4]} {
		if c := g.call("POST", "/v1/users/"+u.id+"/tap", `{"lifetime":"1h"}`, &passes[i]); c != 201 || passes[i].Pass == "" {
			t.Fatalf("issue a pass for %s: HTTP %d", u.id, c)
		}
	}
	usePass := func(user string, p issued) int {
		t.Helper()
		var ch struct{ ID string }
		if c := g.call("POST", "/v1/users/"+user+"/challenges", `{"method":"`+p.Method.ID+`","purpose":"proof"}`, &ch); c != 201 {
			t.Fatalf("challenge of the pass of %s: HTTP %d", user, c)
		}
		var res struct{ Status string }
		c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+p.Pass+`"}`, &res)
		if c == 200 && res.Status != "approved" {
			return 0
		}
		return c
	}
	g.stop()
	os.WriteFile(filepath.Join(g.dir, "b.key"), []byte(strings.Repeat("5a", 32)), 0o600)
	setKeys := func(keys string) {
		b, _ := os.ReadFile(conf)
		head, rest, _ := strings.Cut(string(b), "[secrets]\n")
		_, rest, _ = strings.Cut(rest, "[[api.client]]")
		os.WriteFile(conf, []byte(head+"[secrets]\n"+keys+"\n[[api.client]]"+rest), 0o600)
	}

	// Bad configurations are refused with what to do.
	os.WriteFile(filepath.Join(g.dir, "b-copy.key"), []byte(strings.Repeat("5a", 32)), 0o600)
	os.WriteFile(filepath.Join(g.dir, "short.key"), []byte("abcd"), 0o600)
	os.Mkdir(filepath.Join(g.dir, "a-directory"), 0o700)
	for _, tt := range []struct{ keys, msg string }{
		{`key_file = "b.key"` + "\nprevious_key_files = [\"gone.key\"]", "secrets.previous_key_files[0]: the old key file " + filepath.Join(g.dir, "gone.key") + " does not exist"},
		{`key_file = "b.key"` + "\nprevious_key_files = [\"a-directory\"]", "secrets.previous_key_files[0]: the old key file " + filepath.Join(g.dir, "a-directory") + " cannot be read"},
		{`key_file = "b.key"` + "\nprevious_key_files = [\"b-copy.key\"]", "holds the same key as secrets.key_file"},
		{`key_file = "b.key"` + "\nprevious_key_files = [\"b.key\"]", "is secrets.key_file itself"},
		{`key_file = "b.key"` + "\nprevious_key_files = [\"short.key\"]", "the old key file " + filepath.Join(g.dir, "short.key") + " holds 4 bytes"},
	} {
		setKeys(tt.keys)
		if code, _, errOut := tool(t, bin, "mfagated", "-check-config", "-config", conf); code != 1 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%s: exit %d, %q; want %q", tt.keys, code, errOut, tt.msg)
		}
	}

	// B alone cannot open what A sealed: the test can tell.
	setKeys(`key_file = "b.key"`)
	g.start()
	if c := g.signIn(users[0].id, users[0].method, users[0].secret, time.Now()); c == 200 {
		t.Fatal("an app sealed with key A signed in under key B alone")
	}
	g.stop()

	setKeys(`key_file = "b.key"` + "\nprevious_key_files = [\"secret.key\"]")
	g.start()
	var s struct {
		PreviousKeys       int  `json:"previous_keys"`
		SealedWithPrevious int  `json:"sealed_with_previous"`
		Resealed           int  `json:"resealed"`
		Unreadable         int  `json:"unreadable"`
		Done               bool `json:"done"`
	}
	waitFor(t, "the re-seal", 30*time.Second, func() bool { g.call("GET", "/v1/secrets", "", &s); return s.Done })
	if s.PreviousKeys != 1 || s.Resealed != len(users) || s.SealedWithPrevious != 0 || s.Unreadable != 0 {
		t.Fatalf("after the re-seal: %+v, want %d re-sealed, none left", s, len(users))
	}
	metrics := scrapeAll(t, g)
	for _, want := range []string{fmt.Sprintf("mfagate_secrets_resealed_total %d\n", len(users)), "mfagate_secrets_sealed_with_previous 0\n", "mfagate_secrets_previous_keys 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	code, out, errOut := tool(t, bin, "mfagatectl", "-url", "unix:"+g.sock, "-token-file", filepath.Join(g.dir, "admin.token"), "status")
	if !strings.Contains(out, fmt.Sprintf("re-seal done (%d re-sealed)", len(users))) {
		t.Errorf("mfagatectl status (exit %d) does not show the re-seal:\n%s%s", code, out, errOut)
	}
	for _, u := range users[:3] {
		if c := g.signIn(u.id, u.method, u.secret, time.Now()); c != 200 {
			t.Errorf("%s under B with A previous: HTTP %d", u.id, c)
		}
	}
	if c := usePass(users[1].id, passes[0]); c != 200 {
		t.Errorf("a pass issued under A, used with A previous: HTTP %d, want 200", c)
	}
	g.stop()

	setKeys(`key_file = "b.key"`)
	g.start()
	for _, u := range users[3:] {
		if c := g.signIn(u.id, u.method, u.secret, time.Now()); c != 200 {
			t.Errorf("%s under B alone after the re-seal: HTTP %d", u.id, c)
		}
	}
	// Once A is gone, so is what only A keyed: the README says to keep A
	// until such passes have expired.
	if c := usePass(users[4].id, passes[1]); c == 200 {
		t.Error("a pass hashed with A verified after A was removed")
	}
	g.call("GET", "/v1/secrets", "", &s)
	if s.PreviousKeys != 0 || !s.Done {
		t.Errorf("with one key: %+v", s)
	}
}

func scrapeAll(t *testing.T, g *gateway) string {
	t.Helper()
	res, err := g.client.Get("http://mfagate/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return b.String()
}
