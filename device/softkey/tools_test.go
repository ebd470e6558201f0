package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// These tests drive the key with the fido2-tools binaries (Debian package
// fido2-tools, built on libfido2): an outside client that knows nothing of
// this package.

func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"fido2-token", "fido2-cred", "fido2-assert"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian package fido2-tools; run make deps): %v", tool, err)
		}
	}
}

// runTool runs a fido2-tools command. Its controlling terminal is a fresh
// pty on which every PIN prompt is answered with pin: the tools read PINs
// from /dev/tty, and this keeps them off the terminal of whoever runs the
// tests. It returns stdout and stderr.
func runTool(t *testing.T, pin string, args ...string) (string, string, error) {
	t.Helper()
	return runToolPINs(t, []string{pin}, args...)
}

// runToolPINs answers the i-th PIN prompt with pins[i], and later prompts
// with the last entry.
func runToolPINs(t *testing.T, pins []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctxTimeout(t), args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	tty, err := pty.StartWithAttrs(cmd, nil, &syscall.SysProcAttr{Setsid: true, Setctty: true})
	if err != nil {
		t.Fatalf("start %s: %v", args[0], err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		// Reads end with EIO once the tool exits and its side closes.
		var seen strings.Builder
		answered := 0
		buf := make([]byte, 256)
		for {
			n, err := tty.Read(buf)
			if err != nil {
				return
			}
			seen.Write(buf[:n])
			for ; answered < strings.Count(seen.String(), "PIN"); answered++ {
				pin := pins[min(answered, len(pins)-1)]
				if _, err := tty.Write([]byte(pin + "\n")); err != nil {
					return
				}
			}
		}
	})
	err = cmd.Wait()
	wg.Wait()
	tty.Close()
	return stdout.String(), stderr.String(), err
}

func mustRunTool(t *testing.T, pin string, args ...string) string {
	t.Helper()
	out, stderr, err := runTool(t, pin, args...)
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

func writeLines(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func TestFido2Tools(t *testing.T) {
	needTools(t)
	k := startKey(t, Options{})
	dev := k.Path()
	aaguid := k.AAGUID()

	out := mustRunTool(t, "", "fido2-token", "-I", dev)
	for _, want := range []string{
		"aaguid: " + hex.EncodeToString(aaguid[:]),
		"version strings: FIDO_2_0, FIDO_2_1",
		"options: rk, up, noplat, credMgmt, authnrCfg, noclientPin, pinUvAuthToken, setMinPINLength",
		"pin protocols: 2, 1",
		"minpinlen: 4",
		"pin retries: 8",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("fido2-token -I lacks %q:\n%s", want, out)
		}
	}

	if _, _, err := runTool(t, "12", "fido2-token", "-S", dev); err == nil {
		t.Fatal("fido2-token -S accepted a 2-digit PIN")
	}
	mustRunTool(t, "1234", "fido2-token", "-S", dev)
	if s, _ := k.Snapshot(); !s.PINSet {
		t.Fatal("PIN not set after fido2-token -S")
	}
	if out := mustRunTool(t, "", "fido2-token", "-I", dev); !strings.Contains(out, ", clientPin,") {
		t.Fatalf("clientPin not reported after setting a PIN:\n%s", out)
	}

	// Make a resident credential, PIN-verified, and check the output both
	// with fido2-cred -V and independently in Go (fido2-cred -V does not
	// check the certificate chain).
	const rpID = "kiosk.example.ac.jp"
	cdh := cdhOf("tools enroll")
	in := writeLines(t, "cred.in", base64.StdEncoding.EncodeToString(cdh), rpID, "alice", base64.StdEncoding.EncodeToString([]byte("user-42")))
	credOut := mustRunTool(t, "1234", "fido2-cred", "-M", "-r", "-h", "-v", "-i", in, dev, "es256")
	lines := strings.Split(strings.TrimSpace(credOut), "\n")
	if len(lines) != 7 || lines[2] != "packed" {
		t.Fatalf("fido2-cred -M output:\n%s", credOut)
	}
	credPath := writeLines(t, "cred.out", lines...)
	pem := filepath.Join(t.TempDir(), "pub.pem")
	mustRunTool(t, "", "fido2-cred", "-V", "-h", "-v", "-i", credPath, "-o", pem, "es256")

	raw := unwrapAuthData(t, b64(t, lines[3]))
	ad := parseAuthData(t, raw)
	if ad.flags&flagUV == 0 || !bytes.Equal(ad.credID, b64(t, lines[4])) {
		t.Fatalf("authData flags %#x / credential ID mismatch", ad.flags)
	}
	cert := checkPackedCert(t, b64(t, lines[6]), k.AttestationCA(), ad.aaguid)
	verifySig(t, cert.PublicKey.(*ecdsa.PublicKey), raw, cdh, b64(t, lines[5]))

	// A flipped signature bit must make fido2-cred -V fail.
	bad := append([]string(nil), lines...)
	sig := b64(t, bad[5])
	sig[len(sig)-1] ^= 1
	bad[5] = base64.StdEncoding.EncodeToString(sig)
	if _, _, err := runTool(t, "", "fido2-cred", "-V", "-i", writeLines(t, "bad.out", bad...), "es256"); err == nil {
		t.Fatal("fido2-cred -V accepted a corrupted attestation signature")
	}

	// Assertion with the PIN, verified by fido2-assert -V with the key from -V above.
	acdh := cdhOf("tools sign in")
	ain := writeLines(t, "assert.in", base64.StdEncoding.EncodeToString(acdh), rpID, lines[4])
	assertOut := mustRunTool(t, "1234", "fido2-assert", "-G", "-v", "-i", ain, dev)
	alines := strings.Split(strings.TrimSpace(assertOut), "\n")
	if len(alines) < 4 {
		t.Fatalf("fido2-assert -G output:\n%s", assertOut)
	}
	mustRunTool(t, "", "fido2-assert", "-V", "-p", "-v", "-i", writeLines(t, "assert.out", alines...), pem, "es256")
	if got := parseAuthData(t, unwrapAuthData(t, b64(t, alines[2]))); got.count <= ad.count || got.flags != flagUP|flagUV {
		t.Fatalf("assertion counter %d after %d, flags %#x", got.count, ad.count, got.flags)
	}
	// hmac-secret: the same salt gives the same secret, another salt not.
	hmacSecret := func(salt byte) string {
		t.Helper()
		in := writeLines(t, "hmac.in", base64.StdEncoding.EncodeToString(acdh), rpID, lines[4],
			base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{salt}, 32)))
		out := strings.Split(strings.TrimSpace(mustRunTool(t, "1234", "fido2-assert", "-G", "-h", "-v", "-i", in, dev)), "\n")
		if len(out) != 5 || len(b64(t, out[4])) != 32 {
			t.Fatalf("fido2-assert -G -h output:\n%s", strings.Join(out, "\n"))
		}
		mustRunTool(t, "", "fido2-assert", "-V", "-h", "-p", "-v", "-i", writeLines(t, "hmac.out", out[:4]...), pem, "es256")
		return out[4]
	}
	if s1 := hmacSecret(1); s1 != hmacSecret(1) || s1 == hmacSecret(2) {
		t.Fatal("hmac-secret is not a stable function of the salt")
	}
	// Discoverable assertion (-r): no credential ID given.
	rin := writeLines(t, "assert-rk.in", base64.StdEncoding.EncodeToString(acdh), rpID)
	if out := mustRunTool(t, "1234", "fido2-assert", "-G", "-r", "-v", "-i", rin, dev); !strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("user-42"))) {
		t.Fatalf("fido2-assert -G -r does not name the user:\n%s", out)
	}

	// Credential management.
	if out := mustRunTool(t, "1234", "fido2-token", "-L", "-r", dev); !strings.Contains(out, rpID) {
		t.Fatalf("fido2-token -L -r:\n%s", out)
	}
	if out := mustRunTool(t, "1234", "fido2-token", "-L", "-k", rpID, dev); !strings.Contains(out, lines[4]) {
		t.Fatalf("fido2-token -L -k:\n%s", out)
	}
	if out := mustRunTool(t, "1234", "fido2-token", "-I", "-c", dev); !strings.Contains(out, "existing rk(s): 1") {
		t.Fatalf("fido2-token -I -c:\n%s", out)
	}
	mustRunTool(t, "1234", "fido2-token", "-S", "-c", "-i", lines[4], "-k", base64.StdEncoding.EncodeToString([]byte("user-42")),
		"-n", "alice.renamed", "-p", "Alice R.", dev)
	if creds, _ := k.Credentials(); len(creds) != 1 || creds[0].UserName != "alice.renamed" || creds[0].DisplayName != "Alice R." {
		t.Fatalf("after fido2-token -S -c: %+v", creds)
	}
	mustRunTool(t, "1234", "fido2-token", "-D", "-i", lines[4], dev)
	if creds, _ := k.Credentials(); len(creds) != 0 {
		t.Fatalf("%d credentials after fido2-token -D", len(creds))
	}
	// PIN policy through authenticatorConfig: a longer minimum forces the
	// 4-digit PIN to be changed before it works again.
	mustRunTool(t, "1234", "fido2-token", "-S", "-l", "6", dev)
	if out := mustRunTool(t, "", "fido2-token", "-I", dev); !strings.Contains(out, "minpinlen: 6") || !strings.Contains(out, "pin change required: true") {
		t.Fatalf("fido2-token -I after -S -l 6:\n%s", out)
	}
	if _, _, err := runTool(t, "1234", "fido2-token", "-L", "-r", dev); err == nil {
		t.Fatal("old PIN still usable while a change is forced")
	}
	changePIN(t, dev, "1234", "123456")
	if out := mustRunTool(t, "", "fido2-token", "-I", dev); !strings.Contains(out, "pin change required: false") {
		t.Fatalf("fido2-token -I after the PIN change:\n%s", out)
	}
	mustRunTool(t, "123456", "fido2-token", "-S", "-f", dev)
	if out := mustRunTool(t, "", "fido2-token", "-I", dev); !strings.Contains(out, "pin change required: true") {
		t.Fatalf("fido2-token -I after -S -f:\n%s", out)
	}
	changePIN(t, dev, "123456", "24681357")

	// A wrong PIN is refused and costs a retry.
	if _, _, err := runTool(t, "000000", "fido2-token", "-L", "-r", dev); err == nil {
		t.Fatal("fido2-token accepted a wrong PIN")
	}
	if s, _ := k.Snapshot(); s.PINRetries != maxPINRetries-1 {
		t.Fatalf("retries after a wrong PIN: %d", s.PINRetries)
	}
}

// changePIN runs fido2-token -C, which asks for the current PIN first and
// then twice for the new one.
func changePIN(t *testing.T, dev, oldPIN, newPIN string) {
	t.Helper()
	if out, stderr, err := runToolPINs(t, []string{oldPIN, newPIN}, "fido2-token", "-C", dev); err != nil {
		t.Fatalf("fido2-token -C: %v\n%s%s", err, out, stderr)
	}
}

// TestFido2ToolsU2F: fido2-cred and fido2-assert against a U2F-only key
// make and verify a fido-u2f credential.
func TestFido2ToolsU2F(t *testing.T) {
	needTools(t)
	k := startKey(t, Options{U2F: U2FOnly, TouchDelay: 100 * time.Millisecond})
	dev := k.Path()
	if out := mustRunTool(t, "", "fido2-token", "-I", dev); !strings.Contains(out, "caps: 0x01 (wink, nocbor, msg)") {
		t.Fatalf("fido2-token -I on a U2F-only key:\n%s", out)
	}
	const rpID = "legacy.example"
	cdh := cdhOf("tools u2f")
	in := writeLines(t, "cred.in", base64.StdEncoding.EncodeToString(cdh), rpID, "bob", base64.StdEncoding.EncodeToString([]byte("user-7")))
	credOut := mustRunTool(t, "", "fido2-cred", "-M", "-i", in, dev, "es256")
	lines := strings.Split(strings.TrimSpace(credOut), "\n")
	if len(lines) != 7 || lines[2] != "fido-u2f" {
		t.Fatalf("fido2-cred -M output:\n%s", credOut)
	}
	pem := filepath.Join(t.TempDir(), "pub.pem")
	mustRunTool(t, "", "fido2-cred", "-V", "-i", writeLines(t, "cred.out", lines...), "-o", pem, "es256")
	checkChain(t, b64(t, lines[6]), k.AttestationCA())

	ain := writeLines(t, "assert.in", base64.StdEncoding.EncodeToString(cdhOf("tools u2f sign in")), rpID, lines[4])
	alines := strings.Split(strings.TrimSpace(mustRunTool(t, "", "fido2-assert", "-G", "-i", ain, dev)), "\n")
	mustRunTool(t, "", "fido2-assert", "-V", "-p", "-i", writeLines(t, "assert.out", alines...), pem, "es256")
}
