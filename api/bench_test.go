package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkTOTPSignin measures one sign-in through the HTTP API on a real
// SQLite file: create a TOTP challenge, verify the code (two requests, two
// write transactions). Run: go test -run '^$' -bench TOTPSignin ./api
func BenchmarkTOTPSignin(b *testing.B) {
	h := newHarness(b)
	_, secret := h.addTOTP()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.clock.Advance(30 * time.Second) // a fresh time step: each code is accepted once
		r := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`)
		if r.status != 201 {
			b.Fatalf("create: %d %s", r.status, r.raw)
		}
		r = h.do("POST", "/v1/challenges/"+r.str("id")+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
		if r.status != 200 {
			b.Fatalf("verify: %d %s", r.status, r.raw)
		}
	}
}

// BenchmarkOneRequestSignin measures the same sign-in in one request,
// POST /v1/users/{user}/verify with the right code (one write
// transaction). Run: go test -run '^$' -bench OneRequestSignin ./api
func BenchmarkOneRequestSignin(b *testing.B) {
	h := newHarness(b)
	_, secret := h.addTOTP()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.clock.Advance(30 * time.Second)
		r := h.do("POST", "/v1/users/"+user+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
		if r.status != 200 {
			b.Fatalf("verify: %d %s", r.status, r.raw)
		}
	}
}

// BenchmarkTOTPSigninParallel is the load of the harness's figure 1 in one
// process: many clients at once, each creating a TOTP challenge and
// verifying a wrong code (two write transactions), over real HTTP on
// loopback. Each client owns a user and has it unlocked before the
// consecutive-failure lock. Run with -cpu to change the client count per
// CPU: go test -run '^$' -bench TOTPSigninParallel -benchmem ./api
func BenchmarkTOTPSigninParallel(b *testing.B) {
	h := newHarness(b)
	const users = 64
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("%010d", 1000000000+i)
		r := h.do("POST", "/v1/users/"+ids[i]+"/methods", tokEnroll, `{"kind":"totp","label":"app"}`)
		h.want(r, 201, "")
		id := r.body["method"].(map[string]any)["id"].(string)
		secret := r.body["totp"].(map[string]any)["secret"].(string)
		r = h.do("POST", "/v1/users/"+ids[i]+"/methods/"+id+"/confirm", tokEnroll, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
		h.want(r, 200, "")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: users}}
	defer client.CloseIdleConnections()
	post := func(path, token, body string) (int, []byte, error) {
		req, err := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		return res.StatusCode, raw, err
	}
	var next atomic.Int32
	b.SetParallelism(8) // 16 clients on 2 CPUs, as figure 1's middle row
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		u := ids[int(next.Add(1)-1)%users]
		failures := 0
		for pb.Next() {
			status, raw, err := post("/v1/users/"+u+"/challenges", tokIDP, `{}`)
			if err != nil || status != 201 {
				b.Errorf("create: %d %v %s", status, err, raw)
				return
			}
			var c struct{ ID string }
			if err := json.Unmarshal(raw, &c); err != nil {
				b.Error(err)
				return
			}
			status, raw, err = post("/v1/challenges/"+c.ID+"/verify", tokIDP, `{"code":"000000"}`)
			if err != nil || (status != 422 && status != 200) {
				b.Errorf("verify: %d %v %s", status, err, raw)
				return
			}
			if failures++; failures == 99 {
				if status, raw, err := post("/v1/users/"+u+"/unlock", tokAdmin, ``); err != nil || status != 200 {
					b.Errorf("unlock: %d %v %s", status, err, raw)
					return
				}
				failures = 0
			}
		}
	})
}

// reportCPU reports the process's CPU time (user and system, server and
// client together) per operation from now until the returned function
// runs: unlike ns/op, it does not depend on what else the machine runs.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGetUserParallel is figure 1's read-only comparison in one
// process: 16 clients reading a user (GET /v1/users/{user}: a read
// transaction of two queries) over real HTTP on loopback.
func BenchmarkGetUserParallel(b *testing.B) {
	h := newHarness(b)
	h.addTOTP()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.SetParallelism(8)
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest("GET", h.srv.URL+"/v1/users/"+user, nil)
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+tokIDP)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 {
				b.Errorf("get user: %d %v", res.StatusCode, err)
				return
			}
		}
	})
}
