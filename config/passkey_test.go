package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPasskeyPolicyDefaults: synced passkeys are accepted, attestation is
// required nowhere, and no metadata is read, unless configured.
func TestPasskeyPolicyDefaults(t *testing.T) {
	c, err := Parse([]byte("[fido]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	f := c.FIDO
	if !f.AllowSynced || f.AttestationRequiredFor(PlaceKiosk) || f.AttestationRequiredFor(PlaceBrowser) ||
		f.MDSFile != "" || f.MDSRefresh.Duration != 24*time.Hour || len(f.AAGUIDsDenied) != 0 {
		t.Errorf("defaults: %+v", f)
	}
}

// TestRequireAttestationFor: the list names the places; attestation =
// "required" means both.
func TestRequireAttestationFor(t *testing.T) {
	for _, tc := range []struct {
		src            string
		kiosk, browser bool
	}{
		{`require_attestation_for = ["kiosk"]`, true, false},
		{`require_attestation_for = ["browser"]`, false, true},
		{`require_attestation_for = ["kiosk", "browser"]`, true, true},
		{`attestation = "required"`, true, true},
		{`attestation = "optional"`, false, false},
	} {
		c, err := Parse([]byte("[fido]\n"+tc.src+"\n"), "")
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if k, b := c.FIDO.AttestationRequiredFor(PlaceKiosk), c.FIDO.AttestationRequiredFor(PlaceBrowser); k != tc.kiosk || b != tc.browser {
			t.Errorf("%s: kiosk %v browser %v, want %v %v", tc.src, k, b, tc.kiosk, tc.browser)
		}
	}
}

func TestPasskeyPolicyParsed(t *testing.T) {
	dir := t.TempDir()
	blob := filepath.Join(dir, "mds3.jwt")
	os.WriteFile(blob, []byte("eyJ.e30.sig"), 0o644)
	writeCA(t, filepath.Join(dir, "root.pem"), "Test MDS3 Root")
	src := `[fido]
allow_synced = false
aaguid_deny = ["EE882879-721C-4913-9775-3DFCCE97072A"]
mds_file = "mds3.jwt"
mds_root_file = "root.pem"
mds_refresh = "6h"
`
	os.WriteFile(filepath.Join(dir, "mfagate.toml"), []byte(src), 0o644)
	c, err := Load(filepath.Join(dir, "mfagate.toml"))
	if err != nil {
		t.Fatal(err)
	}
	f := c.FIDO
	want := [16]byte{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a}
	if f.AllowSynced || !slices.Equal(f.AAGUIDsDenied, [][16]byte{want}) || f.MDSFile != blob ||
		f.MDSRootFile != filepath.Join(dir, "root.pem") || f.MDSRefresh.Duration != 6*time.Hour {
		t.Errorf("parsed %+v", f)
	}
}

// TestPasskeyPolicyProblems: each bad value is named with what to do.
func TestPasskeyPolicyProblems(t *testing.T) {
	dir := t.TempDir()
	blob := filepath.Join(dir, "mds3.jwt")
	os.WriteFile(blob, []byte("eyJ.e30.sig"), 0o644)
	two := filepath.Join(dir, "two.pem")
	writeCA(t, two, "Root A", "Root B")
	one := filepath.Join(dir, "one.pem")
	writeCA(t, one, "Root A")
	const y5 = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	tests := []struct {
		name, src, key, msg string
	}{
		{"deny not a UUID", `aaguid_deny = ["YubiKey 5"]`, "fido.aaguid_deny[0]", "must be an AAGUID"},
		{"deny repeated", `aaguid_deny = ["` + y5 + `", "` + strings.ToUpper(y5) + `"]`, "fido.aaguid_deny[1]", "already listed as fido.aaguid_deny[0]"},
		{"allowed and denied", `aaguid_allow = ["` + y5 + `"]` + "\n" + `aaguid_deny = ["` + y5 + `"]`, "fido.aaguid_deny[0]", "both allowed and denied"},
		{"unknown place", `require_attestation_for = ["desk"]`, "fido.require_attestation_for[0]", `must be "kiosk"`},
		{"place repeated", `require_attestation_for = ["kiosk", "kiosk"]`, "fido.require_attestation_for[1]", "already listed"},
		{"attestation misspelt", `attestation = "yes"`, "fido.attestation", `require_attestation_for = ["kiosk", "browser"]`},
		{"missing BLOB", `mds_file = "` + filepath.Join(dir, "none.jwt") + `"`, "fido.mds_file", "does not exist"},
		{"BLOB is a directory", `mds_file = "` + dir + `"`, "fido.mds_file", "not a regular file"},
		{"root without BLOB", `mds_root_file = "` + one + `"`, "fido.mds_root_file", "fido.mds_file is not"},
		{"root file with two roots", `mds_file = "` + blob + `"` + "\n" + `mds_root_file = "` + two + `"`, "fido.mds_root_file", "holds 2 certificates"},
		{"root file missing", `mds_file = "` + blob + `"` + "\n" + `mds_root_file = "` + filepath.Join(dir, "no.pem") + `"`, "fido.mds_root_file", "does not exist"},
		{"refresh too short", `mds_refresh = "10s"`, "fido.mds_refresh", "at least 1m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("[fido]\n"+tc.src+"\n"), dir)
			ps := Problems(err)
			if len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Msg, tc.msg) {
				t.Fatalf("got %v, want one problem at %s saying %q", err, tc.key, tc.msg)
			}
		})
	}
	if _, err := Parse([]byte("[fido]\nmds_file = \""+blob+"\"\nmds_root_file = \""+one+"\"\n"), dir); err != nil {
		t.Errorf("good metadata files refused: %v", err)
	}
}
