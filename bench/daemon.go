package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// build compiles mfagated and modemsim into dir.
func build(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/mfagated", "./cmd/modemsim")
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

const benchToken = "bench-token-0123456789abcdef"

// daemon is mfagated in its own process, configured by a file in a
// temporary directory.
type daemon struct {
	dir     string
	addr    string
	cmd     *exec.Cmd
	client  *http.Client
	startup time.Duration // exec to the first 200 from /readyz
	logTail *bytes.Buffer
}

// startDaemon writes a configuration (extra is appended to it) and runs
// bin/mfagated with args until /readyz answers 200.
func startDaemon(bin, extra string, conc int, args ...string) (*daemon, error) {
	return startDaemonWith(bin, extra, conc, nil, args...)
}

// startDaemonWith is startDaemon with prepare run on the state directory
// before the daemon starts (to fill its database).
func startDaemonWith(bin, extra string, conc int, prepare func(dir string) error, args ...string) (*daemon, error) {
	dir, err := os.MkdirTemp("", "mfagate-bench-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	d := &daemon{dir: dir, addr: addr, logTail: &bytes.Buffer{}}
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte(strings.Repeat("5a", 32)), 0o600)
	os.WriteFile(filepath.Join(dir, "bench.token"), []byte(benchToken), 0o600)
	if err := d.configure(extra); err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(dir); err != nil {
			return nil, err
		}
	}
	d.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conc + 8, MaxIdleConnsPerHost: conc + 8, IdleConnTimeout: time.Minute}}
	if err := d.launch(bin, args...); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return d, nil
}

// configure writes the daemon's configuration file with extra appended;
// an extra that starts with [store] is keys of that table only.
func (d *daemon) configure(extra string) error {
	// An extra that starts with [store] is keys of that table only.
	store := ""
	if keys, ok := strings.CutPrefix(extra, "[store]\n"); ok {
		store, extra = keys, ""
	}
	conf := fmt.Sprintf(`[server]
listen = %q
[store]
path = "mfagate.db"
%s[secrets]
key_file = "secret.key"
[[api.client]]
name = "bench"
token_file = "bench.token"
roles = ["idp", "enroll", "admin"]
%s`, d.addr, store, extra)
	return os.WriteFile(filepath.Join(d.dir, "mfagate.toml"), []byte(conf), 0o600)
}

// launch starts mfagated on d's directory and waits until it is ready.
func (d *daemon) launch(bin string, args ...string) error {
	d.cmd = exec.Command(filepath.Join(bin, "mfagated"), append([]string{"-config", filepath.Join(d.dir, "mfagate.toml"), "-log-level", "warn"}, args...)...)
	stderr, _ := d.cmd.StderrPipe()
	t0 := time.Now()
	if err := d.cmd.Start(); err != nil {
		return err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if d.logTail.Len() < 64<<10 {
				d.logTail.WriteString(sc.Text() + "\n")
			}
		}
	}()
	deadline := t0.Add(30 * time.Second)
	probe := &http.Client{Timeout: time.Second}
	for {
		res, err := probe.Get("http://" + d.addr + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				d.startup = time.Since(t0)
				return nil
			}
		}
		if time.Now().After(deadline) {
			d.halt()
			return fmt.Errorf("mfagated not ready after 30 s:\n%s", d.logTail)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// restart stops the daemon, keeping its directory and database, and
// starts it again with another configuration.
func (d *daemon) restart(bin, extra string, args ...string) error {
	d.halt()
	if err := d.configure(extra); err != nil {
		return err
	}
	return d.launch(bin, args...)
}

func (d *daemon) stop() {
	d.halt()
	os.RemoveAll(d.dir)
}

// halt stops the daemon's process and leaves its directory.
func (d *daemon) halt() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
		d.cmd = nil
	}
}

// call sends a JSON request with the bench token; out, if not nil,
// receives the decoded body.
func (d *daemon) call(ctx context.Context, method, path, body string, out any) (int, error) {
	return doJSON(ctx, d.client, "http://"+d.addr+path, method, body, out)
}

func doJSON(ctx context.Context, c *http.Client, url, method, body string, out any) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, err
		}
	} else {
		io.Copy(io.Discard, res.Body)
	}
	return res.StatusCode, nil
}

// memory reads VmRSS and VmHWM (kB) of pid from /proc.
func memory(pid int) (rss, hwm float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm
}

// metric returns the sum of the samples of a Prometheus metric whose
// name and labels start with prefix.
func (d *daemon) metric(ctx context.Context, prefix string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+d.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+benchToken)
	res, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var sum float64
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, prefix) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum, sc.Err()
}
