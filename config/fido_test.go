package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Origins a browser may send for a relying party: its own host or a
// subdomain, any port, and plain http only on localhost.
func TestFIDOOriginsAccepted(t *testing.T) {
	tests := []struct{ rpID, origin string }{
		{"login.example.ac.jp", "https://login.example.ac.jp"},
		{"login.example.ac.jp", "https://idp.login.example.ac.jp"},
		{"example.ac.jp", "https://login.example.ac.jp"},
		{"login.example.ac.jp", "https://login.example.ac.jp:8443"},
		{"xn--eckwd4c7c.example.jp", "https://xn--eckwd4c7c.example.jp"},
		{"localhost", "https://localhost"},
		{"localhost", "http://localhost"},
		{"localhost", "http://localhost:8080"},
	}
	for _, tt := range tests {
		src := "[fido]\nrp_id = \"" + tt.rpID + "\"\norigin = \"" + tt.origin + "\"\n"
		c, err := Parse([]byte(src), "")
		if err != nil {
			t.Errorf("rp_id %q, origin %q refused: %v", tt.rpID, tt.origin, err)
			continue
		}
		if c.FIDO.RPID != tt.rpID || c.FIDO.Origin != tt.origin {
			t.Errorf("decoded rp_id %q, origin %q; want %q, %q", c.FIDO.RPID, c.FIDO.Origin, tt.rpID, tt.origin)
		}
	}
}

// A wrong rp_id is reported alone: the origin is not also blamed for not
// matching it.
func TestFIDOBadRPIDDoesNotBlameOrigin(t *testing.T) {
	_, err := Parse([]byte("[fido]\nrp_id = \"https://login.example.ac.jp\"\norigin = \"https://login.example.ac.jp\"\n"), "")
	ps := Problems(err)
	if len(ps) != 1 || ps[0].Key != "fido.rp_id" {
		t.Errorf("got %v, want one problem, about fido.rp_id", err)
	}
}

func TestFIDOUserVerificationRequired(t *testing.T) {
	for uv, want := range map[string]bool{UVRequired: true, UVPreferred: false, UVDiscouraged: false} {
		if got := (FIDO{UserVerification: uv}).UserVerificationRequired(); got != want {
			t.Errorf("UserVerificationRequired() with %q = %v, want %v", uv, got, want)
		}
	}
	c, err := Parse([]byte("[fido]\nuser_verification = \"preferred\"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.FIDO.UserVerificationRequired() {
		t.Error(`user_verification = "preferred" is reported as required`)
	}
}

// aaguid_allow is parsed into AAGUIDs in order, whatever the case of its
// hex digits; an empty list leaves AAGUIDs nil (any model).
func TestFIDOAAGUIDs(t *testing.T) {
	src := "[fido]\naaguid_allow = [\"CB69481E-8FF7-4039-93EC-0A2729A154A8\", \"00000000-0000-0000-0000-0000000000ff\"]\n"
	c, err := Parse([]byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	want := [][16]byte{
		{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8},
		{15: 0xff},
	}
	if !reflect.DeepEqual(c.FIDO.AAGUIDs, want) {
		t.Errorf("AAGUIDs = %x, want %x", c.FIDO.AAGUIDs, want)
	}
	if c.FIDO.AAGUIDAllow[0] != "CB69481E-8FF7-4039-93EC-0A2729A154A8" {
		t.Errorf("aaguid_allow was rewritten: %q", c.FIDO.AAGUIDAllow)
	}

	// Validate in Go fills them too, and drops those of an earlier list.
	c.FIDO.AAGUIDAllow = []string{"2fc0579f-8113-47ea-b116-bb5a8db9202a"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.FIDO.AAGUIDs) != 1 || c.FIDO.AAGUIDs[0][0] != 0x2f {
		t.Errorf("after Validate with a new list, AAGUIDs = %x", c.FIDO.AAGUIDs)
	}
	c.FIDO.AAGUIDAllow = nil
	if err := c.Validate(); err != nil || c.FIDO.AAGUIDs != nil {
		t.Errorf("after Validate with no list: AAGUIDs = %x, err %v; want nil (any model)", c.FIDO.AAGUIDs, err)
	}
}

func TestParseUUID(t *testing.T) {
	for _, s := range []string{"", "cb69481e-8ff7-4039-93ec-0a2729a154a", "cb69481e-8ff7-4039-93ec-0a2729a154a8a",
		"cb69481e_8ff7_4039_93ec_0a2729a154a8", "{cb69481e-8ff7-4039-93ec-0a2729a154a8}", "cb69481e-8ff7-4039-93ec-0a2729a154 8",
		"cb69481e-8ff-74039-93ec-0a2729a154a8", "+b69481e-8ff7-4039-93ec-0a2729a154a8"} {
		if _, ok := parseUUID(s); ok {
			t.Errorf("parseUUID(%q) accepted", s)
		}
	}
}

// A relative trusted_ca_file is found next to the configuration file, not in
// the working directory; an absolute one is kept.
func TestLoadResolvesTrustedCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca", "fido-roots.pem")
	writeCA(t, ca, "Example FIDO Root")
	path := filepath.Join(dir, "mfagate.toml")
	src := "[fido]\nattestation = \"required\"\ntrusted_ca_file = \"ca/fido-roots.pem\"\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.FIDO.TrustedCAFile != ca {
		t.Errorf("trusted_ca_file = %q, want %q", c.FIDO.TrustedCAFile, ca)
	}

	// The same file name given to Parse with another base is looked for
	// there, and the problem names the resolved path.
	other := t.TempDir()
	_, err = Parse([]byte(src), other)
	ps := Problems(err)
	want := filepath.Join(other, "ca", "fido-roots.pem") + " does not exist"
	if len(ps) != 1 || ps[0].Key != "fido.trusted_ca_file" || ps[0].Line != 3 || !strings.Contains(ps[0].Msg, want) {
		t.Errorf("got %v, want fido.trusted_ca_file on line 3, saying %q", err, want)
	}

	c, err = Parse([]byte("[fido]\ntrusted_ca_file = \""+ca+"\"\n"), other)
	if err != nil {
		t.Fatal(err)
	}
	if c.FIDO.TrustedCAFile != ca {
		t.Errorf("absolute trusted_ca_file = %q, want %q", c.FIDO.TrustedCAFile, ca)
	}
}

func TestTrustedCAFileProblems(t *testing.T) {
	dir := t.TempDir()
	writeCA(t, filepath.Join(dir, "two.pem"), "Root A", "Root B")
	one := writeCA(t, filepath.Join(dir, "one.pem"), "Root A")
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("empty.pem", nil)
	write("text.pem", []byte("# Yubico attestation root: see https://developers.yubico.com/\n"))
	block, _ := pem.Decode(one)
	write("root.der", block.Bytes)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	write("with-key.pem", append(append([]byte{}, one...), keyPEM...))
	write("broken.pem", append(append([]byte{}, one...), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})...))
	if err := os.Mkdir(filepath.Join(dir, "roots.d"), 0o700); err != nil {
		t.Fatal(err)
	}

	for _, ok := range []string{"one.pem", "two.pem"} {
		if _, err := Parse([]byte("[fido]\ntrusted_ca_file = \""+ok+"\"\n"), dir); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	tests := []struct {
		file string
		want string
	}{
		{"missing.pem", "CA file " + filepath.Join(dir, "missing.pem") + " does not exist"},
		{"roots.d", "CA file " + filepath.Join(dir, "roots.d") + " is not a regular file"},
		{"empty.pem", "CA file " + filepath.Join(dir, "empty.pem") + ` holds no certificate; it must hold PEM certificates ("-----BEGIN CERTIFICATE-----")`},
		{"text.pem", "text.pem holds no certificate"},
		{"root.der", "root.der holds no certificate"},
		{"with-key.pem", `with-key.pem holds a "EC PRIVATE KEY" block; it must hold only certificates`},
		{"broken.pem", "certificate 2 in CA file " + filepath.Join(dir, "broken.pem") + " does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := "[fido]\nattestation = \"required\"\n\ntrusted_ca_file = \"" + tt.file + "\"\n"
			_, err := Parse([]byte(src), dir)
			ps := Problems(err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(ps), err)
			}
			p := ps[0]
			if p.Key != "fido.trusted_ca_file" || p.Line != 4 || !strings.Contains(p.Msg, tt.want) {
				t.Errorf("problem = %q (key %s, line %d), want key fido.trusted_ca_file, line 4, containing %q", p, p.Key, p.Line, tt.want)
			}
		})
	}
}

// writeCA writes self-signed root certificates, one per name, as PEM to path
// and returns the file's contents.
func writeCA(t *testing.T, path string, names ...string) []byte {
	t.Helper()
	var out []byte
	for i, name := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(int64(i + 1)),
			Subject:               pkix.Name{CommonName: name},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
