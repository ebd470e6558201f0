package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mfagate/device/softkey"
)

// kioskNode configures mfagated as one node of a PostgreSQL cluster, with
// the security keys at devicePaths.
func kioskNode(t *testing.T, bin, dsn, passwordFile, name string, devicePaths ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "api.sock"), token: "kiosk-nodes-token-0123456789"}
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte(strings.Repeat("ef", 32)), 0o600) // one key for all nodes
	os.WriteFile(filepath.Join(dir, "api.token"), []byte(g.token), 0o600)
	paths, _ := json.Marshal(append([]string{}, devicePaths...))
	conf := fmt.Sprintf(`[server]
listen = "unix:%s"
node = %q
[store]
driver = "postgres"
dsn = %q
password_file = %q
[secrets]
key_file = "secret.key"
[fido]
device_paths = %s
poll_interval = "200ms"
[[api.client]]
name = "idp"
token_file = "api.token"
roles = ["enroll", "admin"]
`, g.sock, name, dsn, passwordFile, paths)
	os.WriteFile(filepath.Join(dir, "mfagate.toml"), []byte(conf), 0o600)
	g.client = &http.Client{Timeout: 30 * time.Second, Transport: unixTransport(g.sock)}
	return g
}

type kioskSessionJSON struct {
	ID, State, Message, Operation string
	Method                        *struct{ ID, Kind, Label string }
}

// events streams a kiosk session's server-sent events from g.
func (g *gateway) events(ctx context.Context, id string) <-chan kioskSessionJSON {
	g.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://mfagate/v1/kiosk/sessions/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	res, err := (&http.Client{Transport: unixTransport(g.sock)}).Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		g.t.Fatalf("events: %s", res.Status)
	}
	ch := make(chan kioskSessionJSON, 64)
	go func() {
		defer res.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var s kioskSessionJSON
				json.Unmarshal([]byte(data), &s)
				ch <- s
			}
		}
	}()
	return ch
}

// The identity provider opens a kiosk session through node idp; the kiosk
// page's requests reach node kiosk, where the key is plugged in. Node idp's
// event stream follows the enrollment, and its GET shows the result.
func TestKioskSessionAcrossNodes(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	pg := startPostgres(t)
	key, err := softkey.Start(t.Context(), softkey.Options{TouchDelay: 500 * time.Millisecond})
	if err != nil {
		t.Skipf("software key unavailable: %v", err)
	}
	t.Cleanup(func() { key.Close() })
	idp := kioskNode(t, bin, pg.srv.DSN(pg.db), pg.srv.PasswordFile(), "idp")
	kk := kioskNode(t, bin, pg.srv.DSN(pg.db), pg.srv.PasswordFile(), "kiosk", key.Path())
	idp.start()
	kk.start()

	var s kioskSessionJSON
	if c := idp.call("POST", "/v1/kiosk/sessions", `{"user":"0123456789"}`, &s); c != 201 {
		t.Fatalf("open on idp: %d", c)
	}
	var got kioskSessionJSON
	if c := kk.call("GET", "/v1/kiosk/sessions/"+s.ID, "", &got); c != 200 || got.State != "ready" {
		t.Fatalf("GET on the kiosk's node: %d %+v", c, got)
	}
	if c := kk.call("GET", "/v1/kiosk/sessions/e_unknown", "", nil); c != 404 {
		t.Fatalf("unknown session on the kiosk's node: %d", c)
	}
	sctx, stop := context.WithCancel(t.Context())
	defer stop()
	events := idp.events(sctx, s.ID)
	waitFor(t, "the key at the kiosk's node", 15*time.Second, func() bool {
		var ds []struct{ Path string }
		kk.call("GET", "/v1/kiosk/devices", "", &ds)
		return len(ds) == 1 && ds[0].Path == key.Path()
	})
	var op struct{ Operation string }
	if c := kk.call("POST", "/v1/kiosk/sessions/"+s.ID+"/enroll", `{"device":"`+key.Path()+`","new_pin":"482910","label":"Blue key"}`, &op); c != 202 {
		t.Fatalf("enroll on the kiosk's node: %d", c)
	}
	var seen []string
	deadline := time.After(30 * time.Second)
	for got.State != "done" {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("idp's event stream ended after %v", seen)
			}
			got = e
			seen = append(seen, e.State)
			if e.State == "failed" {
				t.Fatalf("enrollment failed: %q", e.Message)
			}
		case <-deadline:
			t.Fatalf("idp's event stream showed %v, never done", seen)
		}
	}
	if !strings.Contains(strings.Join(seen, " "), "touch_key") {
		t.Fatalf("idp's event stream showed %v: not the wait for the touch", seen)
	}
	if got.Operation != op.Operation || got.Method == nil || got.Method.Kind != "fido" || got.Method.Label != "Blue key" {
		t.Fatalf("idp's last event: %+v", got)
	}
	var final kioskSessionJSON
	if c := idp.call("GET", "/v1/kiosk/sessions/"+s.ID, "", &final); c != 200 || final.State != "done" || final.Method == nil || final.Method.ID != got.Method.ID {
		t.Fatalf("GET on idp: %d %+v", c, final)
	}
}
