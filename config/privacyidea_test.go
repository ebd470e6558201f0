package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestPrivacyIDEAOffUnlessPresent(t *testing.T) {
	c, err := Parse([]byte(""), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.PrivacyIDEA != nil {
		t.Fatalf("privacyIDEA API on without a section: %+v", c.PrivacyIDEA)
	}
	c, err = Parse([]byte("[privacyidea]\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := c.PrivacyIDEA
	if p == nil || p.MFAOff != MFAOffReject || len(p.Networks) != 2 || p.ResponseSignature != SignatureRSAPSS ||
		p.ResponseKeyFile != DefaultPrivacyIDEAResponseKey ||
		!p.Networks[0].Contains(netip.MustParseAddr("127.0.0.1")) || p.Networks[0].Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Fatalf("empty section: %+v", p)
	}
}

func TestPrivacyIDEAServiceAccount(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pi.pw")
	os.WriteFile(pw, []byte("correct-horse-battery\n"), 0o600)
	c, err := Parse([]byte("[privacyidea]\nallow = [\"10.1.2.0/24\"]\nrealm = \"example\"\nservice_account = \"keycloak\"\npassword_file = \"pi.pw\"\ntrigger = \"push\"\nmfa_off = \"accept\"\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	p := c.PrivacyIDEA
	if p.PasswordFile != pw || p.PasswordHash == [32]byte{} || p.MFAOff != MFAOffAccept || p.Realm != "example" ||
		len(p.Networks) != 1 || p.Networks[0].String() != "10.1.2.0/24" {
		t.Fatalf("section: %+v", p)
	}
}

func TestPrivacyIDEAProblems(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.pw")
	os.WriteFile(open, []byte("correct-horse-battery\n"), 0o644)
	for _, tt := range []struct {
		name, body, key string
		line            int
		msg             string
	}{
		{"allow not cidr", "allow = [\"10.1.2.3\"]\n", "privacyidea.allow[0]", 2, "CIDR notation"},
		{"allow host bits", "allow = [\"10.1.2.3/24\"]\n", "privacyidea.allow[0]", 2, `"10.1.2.0/24"`},
		{"realm", "realm = \"a b\"\n", "privacyidea.realm", 2, "letters, digits"},
		{"account without file", "service_account = \"kc\"\n", "privacyidea.password_file", 0, "is required with privacyidea.service_account"},
		{"file without account", "password_file = \"x\"\n", "privacyidea.service_account", 0, "is required with privacyidea.password_file"},
		{"password file missing", "service_account = \"kc\"\npassword_file = \"absent\"\n", "privacyidea.password_file", 3, "does not exist"},
		{"password file open", "service_account = \"kc\"\npassword_file = \"open.pw\"\n", "privacyidea.password_file", 3, "chmod o-rwx"},
		{"trigger digits", "trigger = \"123456\"\n", "privacyidea.trigger", 2, "not all digits"},
		{"mfa_off", "mfa_off = \"passthru\"\n", "privacyidea.mfa_off", 2, `must be "reject"`},
		{"response_signature", "response_signature = \"rsa\"\n", "privacyidea.response_signature", 2, `"rsa_sha256_pss"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantOneProblem(t, "[privacyidea]\n"+tt.body, dir, tt.key, tt.line, tt.msg)
		})
	}
}
