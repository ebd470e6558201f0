package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mfagate/pi"
)

// totpAt is RFC 6238 (HMAC-SHA1, 6 digits, 30 s steps) for time step n.
func totpAt(key []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1000000)
}

func stepNow() int64 { return time.Now().Unix() / 30 }

// totpUser is one user with a confirmed TOTP method.
type totpUser struct {
	id       string
	key      []byte
	last     int64 // highest time step sent as a correct code: the server refuses steps up to the one it last accepted
	failures int   // consecutive failed verifications
}

// registerTOTP gives user id a TOTP method, confirms it, tries a sign-in
// and turns MFA on, as a user does (the daemon's policy.activation_delay is
// 0, so MFA is active at once: the privacyIDEA-compatible door rejects
// users whose MFA is off). The confirmation and the test sign-in each use
// up a time step, the lowest the server still accepts.
func registerTOTP(ctx context.Context, d *daemon, id string) (*totpUser, error) {
	var r struct {
		Method struct{ ID string }
		TOTP   struct{ Secret string } `json:"totp"`
	}
	if st, err := d.call(ctx, "POST", "/v1/users/"+id+"/methods", `{"kind":"totp","label":"bench"}`, &r); err != nil || st != 201 {
		return nil, fmt.Errorf("add totp for %s: HTTP %d %v", id, st, err)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(r.TOTP.Secret))
	if err != nil {
		return nil, err
	}
	u := &totpUser{id: id, key: key}
	if err := u.redeem(ctx, d, "/v1/users/"+id+"/methods/"+r.Method.ID+"/confirm"); err != nil {
		return nil, fmt.Errorf("confirm totp for %s: %w", id, err)
	}
	var ch struct{ ID string }
	if st, err := d.call(ctx, "POST", "/v1/users/"+id+"/challenges", `{"purpose":"test"}`, &ch); err != nil || st != 201 {
		return nil, fmt.Errorf("test sign-in for %s: HTTP %d %v", id, st, err)
	}
	if err := u.redeem(ctx, d, "/v1/challenges/"+ch.ID+"/verify"); err != nil {
		return nil, fmt.Errorf("test sign-in for %s: %w", id, err)
	}
	var user struct{ MFA struct{ State string } }
	if st, err := d.call(ctx, "PUT", "/v1/users/"+id+"/mfa", `{"enabled":true}`, &user); err != nil || st != 200 || user.MFA.State != "active" {
		return nil, fmt.Errorf("turn MFA on for %s: HTTP %d, state %q %v", id, st, user.MFA.State, err)
	}
	return u, nil
}

// redeem posts the code of the lowest fresh time step to path until one is
// accepted (200). The lowest step can pass out of the server's window
// between computing the code and checking it (422); the next is tried then.
func (u *totpUser) redeem(ctx context.Context, d *daemon, path string) error {
	for {
		code, step, ok := u.freshCode()
		if !ok {
			return errors.New("no time step the server accepts is left")
		}
		st, err := d.call(ctx, "POST", path, `{"code":"`+code+`"}`, nil)
		if err != nil {
			return err
		}
		u.outcome(step, st == 200, st == 422)
		if st == 200 {
			return nil
		}
		if st != 422 {
			return fmt.Errorf("HTTP %d", st)
		}
	}
}

// wrongCode is a code that no accepted step (now-1 … now+1) produces.
func (u *totpUser) wrongCode() string {
	s := stepNow()
	valid := map[string]bool{}
	for i := s - 2; i <= s+2; i++ {
		valid[totpAt(u.key, i)] = true
	}
	for c := 0; ; c++ {
		code := fmt.Sprintf("%06d", (c*7919+13)%1000000)
		if !valid[code] {
			return code
		}
	}
}

// freshCode returns a code for the lowest time step the server accepts
// (now-1 … now+1) that is above the last one accepted for this method:
// lowest first, so a user yields up to three successes within one step.
func (u *totpUser) freshCode() (string, int64, bool) {
	s := stepNow()
	for _, c := range []int64{s - 1, s, s + 1} {
		if c > u.last {
			return totpAt(u.key, c), c, true
		}
	}
	return "", 0, false
}

// userPool hands out registered users; each worker owns the users it took.
type userPool struct {
	mu    sync.Mutex
	users []*totpUser
}

func (p *userPool) take() *totpUser {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.users) == 0 {
		return nil
	}
	u := p.users[len(p.users)-1]
	p.users = p.users[:len(p.users)-1]
	return u
}

// putBack returns a user that waits for a fresh time step, to be taken
// after all the others.
func (p *userPool) putBack(u *totpUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = slices.Insert(p.users, 0, u)
}

func (p *userPool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.users)
}

// loadResult is one closed-loop measurement.
type loadResult struct {
	requests int
	elapsed  time.Duration
	lat      []time.Duration // per HTTP request
	ops      []time.Duration // per operation (a sign-in attempt: one or two requests)
	status   map[int]int
	stopped  string // why it ended before the planned duration, if it did
}

func (l *loadResult) rps() float64 { return float64(l.requests) / l.elapsed.Seconds() }

// opsPerSec is the rate of completed operations.
func (l *loadResult) opsPerSec() float64 { return float64(len(l.ops)) / l.elapsed.Seconds() }

// closedLoop runs conc workers for dur (at most maxOps operations each);
// op performs one operation and returns the latency and status of each
// HTTP request it made, or false to stop the worker. An operation that
// returns true is timed as a whole too.
func closedLoop(conc int, dur time.Duration, maxOps int, op func(worker int, rec func(time.Duration, int)) bool) *loadResult {
	var (
		mu      sync.Mutex
		res     = &loadResult{status: map[int]int{}}
		wg      sync.WaitGroup
		stopped atomic.Bool
	)
	deadline := time.Now().Add(dur)
	t0 := time.Now()
	for w := range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			ops := make([]time.Duration, 0, 4096)
			st := map[int]int{}
			rec := func(d time.Duration, code int) { lat = append(lat, d); st[code]++ }
			for i := 0; i < maxOps && time.Now().Before(deadline); i++ {
				t := time.Now()
				if !op(w, rec) {
					stopped.Store(true)
					break
				}
				ops = append(ops, time.Since(t))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.ops = append(res.ops, ops...)
			for k, v := range st {
				res.status[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(t0)
	res.requests = len(res.lat)
	if stopped.Load() {
		res.stopped = "a worker ran out of users"
	}
	return res
}

// getOp reads a user record (GET /v1/users/{user}), cycling over ids: a
// read-only request through the same listener, authentication and JSON
// path, to separate the HTTP layer's cost from the writes of a sign-in.
func getOp(ctx context.Context, c *http.Client, addr string, ids []string) func(int, func(time.Duration, int)) bool {
	var n atomic.Int64
	return func(w int, rec func(time.Duration, int)) bool {
		id := ids[int(n.Add(1))%len(ids)]
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/v1/users/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+benchToken)
		t := time.Now()
		res, err := c.Do(req)
		if err != nil {
			rec(time.Since(t), -1)
			return false
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		rec(time.Since(t), res.StatusCode)
		return true
	}
}

// timed sends one request and records its latency and status.
func timed(ctx context.Context, c *http.Client, url, body string, out any, rec func(time.Duration, int)) int {
	t := time.Now()
	st, err := doJSON(ctx, c, url, "POST", body, out)
	if err != nil {
		st = -1
	}
	rec(time.Since(t), st)
	return st
}

// signins is figure 1's bookkeeping of users and time steps, shared by
// every door the figure drives. Each worker owns the users it took from the
// pool. A user gets wrong codes until 99 consecutive failures, then one
// correct code for a fresh time step, which resets the count; when no fresh
// step is left the worker puts the user back behind all the others, for a
// later time step, and takes the next one. So about 1 verification in 100
// succeeds, and no user reaches the lockout at 100 failures. After each
// loop release hands the users back: the failure count is the user's
// whichever door the codes went through, so the next loop carries on where
// the last left off.
type signins struct {
	pool *userPool
	mu   sync.Mutex
	mine map[int]*totpUser
}

func newSignins(pool *userPool) *signins { return &signins{pool: pool, mine: map[int]*totpUser{}} }

// next returns worker w's user for its next attempt and the code to send,
// with the time step the code is for (-1 for a wrong code), or nil when
// the pool is empty.
func (s *signins) next(w int) (*totpUser, string, int64) {
	s.mu.Lock()
	u := s.mine[w]
	s.mu.Unlock()
	for tries := 0; ; tries++ {
		if u == nil {
			if tries > s.pool.size() {
				return nil, "", -1 // every user waits for a fresh time step
			}
			if u = s.pool.take(); u == nil {
				return nil, "", -1
			}
			s.mu.Lock()
			s.mine[w] = u
			s.mu.Unlock()
		}
		if u.failures < 99 {
			return u, u.wrongCode(), -1
		}
		if code, step, ok := u.freshCode(); ok {
			return u, code, step
		}
		s.mu.Lock()
		delete(s.mine, w)
		s.mu.Unlock()
		s.pool.putBack(u)
		u = nil
	}
}

// outcome records the daemon's answer to a code for step (-1: a wrong
// code): accepted, or refused as a wrong or replayed code. An answer that
// is neither (an error) changes nothing.
func (u *totpUser) outcome(step int64, accepted, refused bool) {
	switch {
	case accepted:
		u.last = step
		u.failures = 0
	case refused && step >= 0:
		u.last = step // the step left the window under us; do not retry it
		u.failures++
	case refused:
		u.failures++
	}
}

// release returns the users the workers own to the pool.
func (s *signins) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w, u := range s.mine {
		s.pool.users = append(s.pool.users, u)
		delete(s.mine, w)
	}
}

// mfagateOp is one sign-in attempt through the API: create a TOTP
// challenge (201), then verify it: 422 for a wrong code, 200 for the
// correct code of a fresh time step.
func mfagateOp(ctx context.Context, d *daemon, s *signins) func(int, func(time.Duration, int)) bool {
	base := "http://" + d.addr
	return func(w int, rec func(time.Duration, int)) bool {
		u, code, step := s.next(w)
		if u == nil {
			return false
		}
		var ch struct{ ID string }
		if st := timed(ctx, d.client, base+"/v1/users/"+u.id+"/challenges", `{}`, &ch, rec); st != 201 {
			return st > 0
		}
		st := timed(ctx, d.client, base+"/v1/challenges/"+ch.ID+"/verify", `{"code":"`+code+`"}`, nil, rec)
		u.outcome(step, st == 200, st == 422)
		return true
	}
}

// verdicts counts the answers of the privacyIDEA-compatible door.
type verdicts struct {
	accept, reject atomic.Int64
	right          atomic.Int64 // correct codes for a fresh step sent
	wrongAccepted  atomic.Int64 // wrong codes answered ACCEPT: a broken door
}

// validateOp is the same sign-in attempt through the privacyIDEA-compatible
// door in one request: POST /validate/check with the form user=…&pass=…
// and no bearer token (the door admits clients by network). A success is
// an answer with result.status and result.value true and authentication
// ACCEPT, nothing else; REJECT is a refused code.
func validateOp(ctx context.Context, d *daemon, s *signins, v *verdicts) func(int, func(time.Duration, int)) bool {
	endpoint := "http://" + d.addr + "/validate/check"
	return func(w int, rec func(time.Duration, int)) bool {
		u, code, step := s.next(w)
		if u == nil {
			return false
		}
		if step >= 0 {
			v.right.Add(1)
		}
		req, err := http.NewRequestWithContext(ctx, "POST", endpoint, strings.NewReader(url.Values{"user": {u.id}, "pass": {code}}.Encode()))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		var out struct {
			Result struct {
				Status         bool
				Value          any
				Authentication string
			}
		}
		t := time.Now()
		res, err := d.client.Do(req)
		if err != nil {
			rec(time.Since(t), -1)
			return false
		}
		derr := json.NewDecoder(res.Body).Decode(&out)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		rec(time.Since(t), res.StatusCode)
		ok := res.StatusCode == 200 && derr == nil && out.Result.Status
		accepted := ok && out.Result.Value == true && out.Result.Authentication == "ACCEPT"
		refused := ok && out.Result.Value == false && out.Result.Authentication == "REJECT"
		switch {
		case accepted && step < 0:
			v.wrongAccepted.Add(1)
		case accepted:
			v.accept.Add(1)
		case refused:
			v.reject.Add(1)
		}
		u.outcome(step, accepted, refused)
		return true
	}
}

// bareOp sends the same two requests to the bare net/http server.
func bareOp(ctx context.Context, c *http.Client, addr string) func(int, func(time.Duration, int)) bool {
	base := "http://" + addr
	return func(w int, rec func(time.Duration, int)) bool {
		var ch struct{ ID string }
		user := fmt.Sprintf("%010d", 2000000000+w)
		if st := timed(ctx, c, base+"/v1/users/"+user+"/challenges", `{}`, &ch, rec); st != 201 {
			return st > 0
		}
		timed(ctx, c, base+"/v1/challenges/"+ch.ID+"/verify", `{"code":"000000"}`, nil, rec)
		return true
	}
}

// serveBare is the baseline: a bare net/http server on the same kind of
// listener, with handlers that do the least an API must do (check the
// bearer token, decode the JSON body, encode a JSON answer). It runs in
// its own process, like the daemon (mfagate-bench -serve-bare ADDR).
func serveBare(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var n atomic.Int64
	mux := http.NewServeMux()
	auth := func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+benchToken }
	mux.HandleFunc("POST /v1/users/{user}/challenges", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if !auth(r) || json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body) != nil {
			http.Error(w, "bad request", 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"id": fmt.Sprintf("c_%d", n.Add(1)), "user": r.PathValue("user"), "status": "created"})
	})
	mux.HandleFunc("POST /v1/challenges/{id}/verify", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Code string }
		if !auth(r) || json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body) != nil {
			http.Error(w, "bad request", 400)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(422)
		json.NewEncoder(w).Encode(map[string]any{"type": "invalid_code", "status": 422, "id": r.PathValue("id")})
	})
	mux.HandleFunc("GET /v1/users/{user}", func(w http.ResponseWriter, r *http.Request) {
		if !auth(r) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"user": r.PathValue("user"), "mfa": map[string]any{"state": "off"}, "methods": []any{}})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return (&http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
}

// startBare runs this program with -serve-bare in a child process.
func startBare() (*exec.Cmd, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, "-serve-bare", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			return cmd, addr, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, "", fmt.Errorf("bare server did not start on %s", addr)
}

// figureTOTP is figure 1: TOTP sign-in attempts through the API against
// the bare net/http baseline at concurrency 1, 16 and 64, and the same
// attempts in one request, against the API's two: through the
// privacyIDEA-compatible /validate/check and as a RADIUS Access-Request,
// all to the same daemon over the same users.
func figureTOTP(ctx context.Context, run *Run, bin string, dur time.Duration, users int) error {
	raddr, err := freeUDPAddr()
	if err != nil {
		return err
	}
	var rsecret []byte
	d, err := startDaemonWith(bin, "[policy]\nmax_consecutive_failures = 100\nactivation_delay = \"0s\"\n"+
		"[privacyidea]\nresponse_key_file = \"privacyidea-response.pem\"\n"+radiusConfig(raddr), 64,
		func(dir string) (err error) { rsecret, err = writeRadiusSecret(dir); return err })
	if err != nil {
		return err
	}
	defer d.stop()
	if err := radiusProbe(ctx, raddr, rsecret); err != nil {
		return err
	}
	pool := &userPool{}
	var ids []string
	t0 := time.Now()
	for i := range users {
		u, err := registerTOTP(ctx, d, fmt.Sprintf("%010d", 1000000000+i))
		if err != nil {
			return err
		}
		pool.users = append(pool.users, u)
		ids = append(ids, u.id)
	}
	fmt.Fprintf(os.Stderr, "figure 1: %d TOTP users registered in %s\n", users, time.Since(t0).Round(time.Millisecond))
	bare, baddr, err := startBare()
	if err != nil {
		return err
	}
	defer func() { bare.Process.Kill(); bare.Wait() }()
	bc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 72, MaxIdleConnsPerHost: 72}}
	si := newSignins(pool)
	commits := 1000
	if dur < time.Second {
		commits = 200
	}
	var floor *Entry
	for _, conc := range []int{1, 16, 64} {
		b := closedLoop(conc, dur, 1<<20, bareOp(ctx, bc, baddr))
		m := closedLoop(conc, dur, 1<<20, mfagateOp(ctx, d, si))
		si.release()
		note := fmt.Sprintf("%d requests in %s; statuses %v", m.requests, m.elapsed.Round(time.Millisecond), m.status)
		if m.stopped != "" {
			note += "; ended early: " + m.stopped
		}
		be := run.add(Entry{Name: fmt.Sprintf("bare_nethttp_c%d_rps", conc), Value: b.rps(), Unit: "req/s",
			Note: fmt.Sprintf("%d requests in %s; statuses %v", b.requests, b.elapsed.Round(time.Millisecond), b.status)})
		me := run.add(Entry{Name: fmt.Sprintf("totp_api_c%d_rps", conc), Value: m.rps(), Unit: "req/s", Target: "ratio >= 0.5", Note: note})
		if err := run.compare(me, be, m.rps()/b.rps(), 0.5); err != nil {
			return err
		}
		for _, p := range []float64{50, 99} {
			bp := run.add(Entry{Name: fmt.Sprintf("bare_nethttp_c%d_p%g", conc, p), Value: ms(percentile(b.lat, p)), Unit: "ms"})
			mp := run.add(Entry{Name: fmt.Sprintf("totp_api_c%d_p%g", conc, p), Value: ms(percentile(m.lat, p)), Unit: "ms"})
			if mp.Value > 0 {
				run.compare(mp, bp, bp.Value/mp.Value, 0)
			}
		}
		fmt.Fprintf(os.Stderr, "figure 1: concurrency %d: mfagate %.0f req/s, bare %.0f req/s\n", conc, m.rps(), b.rps())
		v, vnote, err := validateLoop(ctx, d, si, conc, dur)
		if err != nil {
			return err
		}
		r, rnote, err := radiusLoop(raddr, rsecret, si, conc, dur)
		if err != nil {
			return err
		}
		if err := oneRequestSeries(run, conc, m, []oneRequestDoor{{"validate_check", v, vnote}, {"radius", r, rnote}}); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "figure 1: concurrency %d: sign-ins/s: /validate/check %.0f, RADIUS %.0f, API %.0f\n", conc, v.opsPerSec(), r.opsPerSec(), m.opsPerSec())
		if conc == 1 {
			// The floor, on the daemon's disk, beside the loops it bounds.
			commit, mean, err := durableCommit(d.dir, commits)
			if err != nil {
				return fmt.Errorf("floor: durable commit: %w", err)
			}
			ce := run.add(Entry{Name: "floor_durable_commit", Value: float64(commit.Microseconds()) / 1000, Unit: "ms",
				Note: fmt.Sprintf("median of %d SQLite commits (WAL, synchronous=FULL, one row each, modernc.org/sqlite as the daemon) in a file beside the daemon's database; mean %.3f ms", commits, float64(mean.Microseconds())/1000)})
			req := b.elapsed / time.Duration(b.requests)
			re := run.add(Entry{Name: "floor_bare_request_c1", Value: float64(req.Microseconds()) / 1000, Unit: "ms",
				Note: "mean bare net/http round trip at concurrency 1 (the loop above)"})
			floor = run.add(Entry{Name: "floor_signin_c1", Value: 1 / (req + commit).Seconds(), Unit: "sign-ins/s",
				Note: fmt.Sprintf("1 / (bare round trip %.3f ms + durable commit %.3f ms): a sign-in that needs one request and one commit, with nothing else", re.Value, ce.Value)})
		}
		if err := verifySeries(ctx, run, d, si, conc, dur, be, floor); err != nil {
			return err
		}
	}
	if err := signatureCost(run, d); err != nil {
		return err
	}
	// The read-only comparison at concurrency 16.
	b := closedLoop(16, dur, 1<<20, getOp(ctx, bc, baddr, ids))
	m := closedLoop(16, dur, 1<<20, getOp(ctx, d.client, d.addr, ids))
	be := run.add(Entry{Name: "bare_nethttp_get_user_c16_rps", Value: b.rps(), Unit: "req/s",
		Note: fmt.Sprintf("%d requests in %s; statuses %v", b.requests, b.elapsed.Round(time.Millisecond), b.status)})
	me := run.add(Entry{Name: "api_get_user_c16_rps", Value: m.rps(), Unit: "req/s",
		Note: fmt.Sprintf("GET /v1/users/{user}, read only; %d requests in %s; statuses %v", m.requests, m.elapsed.Round(time.Millisecond), m.status)})
	if err := run.compare(me, be, m.rps()/b.rps(), 0); err != nil {
		return err
	}
	for _, p := range []float64{50, 99} {
		bp := run.add(Entry{Name: fmt.Sprintf("bare_nethttp_get_user_c16_p%g", p), Value: ms(percentile(b.lat, p)), Unit: "ms"})
		mp := run.add(Entry{Name: fmt.Sprintf("api_get_user_c16_p%g", p), Value: ms(percentile(m.lat, p)), Unit: "ms"})
		if mp.Value > 0 {
			run.compare(mp, bp, bp.Value/mp.Value, 0)
		}
	}
	fmt.Fprintf(os.Stderr, "figure 1: read only, concurrency 16: mfagate %.0f req/s, bare %.0f req/s\n", m.rps(), b.rps())
	return nil
}

// oneRequestDoor is a door that answers figure 1's sign-in in one request.
type oneRequestDoor struct {
	name string      // in the entries' names: totp_<name>_c<conc>_…
	res  *loadResult // its loop at this concurrency
	note string
}

// oneRequestSeries sets figure 1's sign-ins through the one-request doors
// beside the API's at concurrency conc (m: the API's loop): the sign-ins
// per second and per-sign-in latencies of each, with the ratio of each
// one-request path to the API's two-request one.
func oneRequestSeries(run *Run, conc int, m *loadResult, doors []oneRequestDoor) error {
	me := run.add(Entry{Name: fmt.Sprintf("totp_api_c%d_signins", conc), Value: m.opsPerSec(), Unit: "sign-ins/s",
		Note: fmt.Sprintf("create + verify, two requests per sign-in; %d sign-ins in %s", len(m.ops), m.elapsed.Round(time.Millisecond))})
	for _, d := range doors {
		e := run.add(Entry{Name: fmt.Sprintf("totp_%s_c%d_signins", d.name, conc), Value: d.res.opsPerSec(), Unit: "sign-ins/s", Note: d.note})
		if err := run.compare(e, me, d.res.opsPerSec()/m.opsPerSec(), 0); err != nil {
			return err
		}
	}
	for _, p := range []float64{50, 99} {
		mp := run.add(Entry{Name: fmt.Sprintf("totp_api_c%d_signin_p%g", conc, p), Value: ms(percentile(m.ops, p)), Unit: "ms"})
		for _, d := range doors {
			e := run.add(Entry{Name: fmt.Sprintf("totp_%s_c%d_p%g", d.name, conc, p), Value: ms(percentile(d.res.ops, p)), Unit: "ms"})
			if e.Value > 0 {
				if err := run.compare(e, mp, mp.Value/e.Value, 0); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// validateLoop measures figure 1's sign-in attempts through
// /validate/check at concurrency conc and checks what the door answered.
func validateLoop(ctx context.Context, d *daemon, si *signins, conc int, dur time.Duration) (*loadResult, string, error) {
	var vd verdicts
	v := closedLoop(conc, dur, 1<<20, validateOp(ctx, d, si, &vd))
	si.release()
	if n := vd.wrongAccepted.Load(); n > 0 {
		return nil, "", fmt.Errorf("/validate/check answered ACCEPT to %d wrong codes", n)
	}
	if r := vd.right.Load(); r >= 3 && vd.accept.Load() == 0 {
		return nil, "", fmt.Errorf("/validate/check accepted none of %d correct codes for fresh time steps; statuses %v", r, v.status)
	}
	note := fmt.Sprintf("one request per sign-in; %d requests in %s; ACCEPT %d (of %d correct codes sent), REJECT %d; HTTP statuses %v",
		v.requests, v.elapsed.Round(time.Millisecond), vd.accept.Load(), vd.right.Load(), vd.reject.Load(), v.status)
	if v.stopped != "" {
		note += "; ended early: " + v.stopped
	}
	return v, note, nil
}

// signatureCost times pi.Signer.Sign with the key the daemon created, over
// an answer like /validate/check's: every answer of that door is signed,
// so this is CPU time each sign-in through it spends beyond the API's.
func signatureCost(run *Run, d *daemon) error {
	sg, created, err := pi.LoadOrCreateSigner(filepath.Join(d.dir, "privacyidea-response.pem"))
	if err != nil {
		return err
	}
	if created {
		return errors.New("the daemon did not create its response key")
	}
	body := `{"detail": {"message": "wrong otp value", "threadid": 1}, "id": 2, "jsonrpc": "2.0", "result": {"authentication": "REJECT", "status": true, "value": false}, "time": 1764800000.123, "version": "privacyIDEA 3.11 (mfagate)", "versionnumber": "3.11"}`
	const n = 200
	t0 := time.Now()
	for range n {
		sg.Sign(body)
	}
	per := time.Since(t0) / n
	run.add(Entry{Name: "pi_response_signature", Value: ms(per), Unit: "ms",
		Note: fmt.Sprintf("pi.Signer.Sign with the daemon's response key, one goroutine, mean of %d", n)})
	return nil
}
