package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the tests run this binary's main as a child process.
func TestMain(m *testing.M) {
	if os.Getenv("SOFTKEY_TEST_MAIN") == "1" {
		os.Args = append([]string{"softkey"}, strings.Fields(os.Getenv("SOFTKEY_TEST_ARGS"))...)
		os.Exit(run())
	}
	os.Exit(m.Run())
}

func command(ctx context.Context, args string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SOFTKEY_TEST_MAIN=1", "SOFTKEY_TEST_ARGS="+args)
	return cmd
}

func TestServesUntilSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := command(ctx, "-presence never -attestation self")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	path, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no device path on stdout: %v\n%s", err, stderr.String())
	}
	path = strings.TrimSpace(path)
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%q is not a character device: %v", path, err)
	}
	if _, err := exec.LookPath("fido2-token"); err == nil {
		out, err := exec.CommandContext(ctx, "fido2-token", "-I", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "FIDO_2_1") {
			t.Fatalf("fido2-token -I %s: %v\n%s", path, err, out)
		}
	}
	// A host holding the device open sees it go away when the runner exits.
	host, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	if err := host.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Read(make([]byte, 64)); !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
		t.Fatalf("read from the device after exit: %v, want EOF or EIO", err)
	}
}

func TestRejectsBadFlags(t *testing.T) {
	for _, args := range []string{"-attestation basic", "-presence sometimes", "-aaguid 1234", "-u2f maybe"} {
		out, err := command(t.Context(), args).CombinedOutput()
		var ee *exec.ExitError
		if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%s: exit %v, want status 2\n%s", args, err, out)
		}
		if !strings.Contains(string(out), strings.Fields(args)[0]) {
			t.Errorf("%s: message does not name the flag:\n%s", args, out)
		}
	}
}
