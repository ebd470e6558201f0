package fido

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mfagate/fido/mdstest"
)

const (
	testAAGUIDText  = "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73"
	otherAAGUIDText = "ee882879-721c-4913-9775-3dfcce97072a"
)

func testSigner(t *testing.T) *mdstest.Signer {
	t.Helper()
	s, err := mdstest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testBLOB(t *testing.T, s *mdstest.Signer, no int, next time.Time) []byte {
	t.Helper()
	b, err := s.BLOB(no, next,
		mdstest.Entry{AAGUID: testAAGUIDText, Description: "Test Key 5 NFC", Statuses: []string{"FIDO_CERTIFIED_L1"}},
		mdstest.Entry{AAGUID: otherAAGUIDText, Description: "Leaky Key", Statuses: []string{"FIDO_CERTIFIED", "REVOKED"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMetadataRegistration: a BLOB signed under the test's own root names
// one model, whose key registers and is named, and revokes another, whose
// key is refused with the model's name and status.
func TestMetadataRegistration(t *testing.T) {
	s := testSigner(t)
	md := &Metadata{}
	b, err := md.Update(testBLOB(t, s, 7, time.Now().AddDate(0, 1, 0)), s.Root)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if b.Number != 7 || b.Models() != 2 {
		t.Errorf("BLOB no %d with %d models, want 7 with 2", b.Number, b.Models())
	}

	ca := newTestCA(t, testAAGUID)
	p := testPolicy(ca)
	p.Metadata = md
	k := newTestKey(t, ca)
	r := k.register(t, "packed", flagUP|flagUV|flagAT)
	cred, err := VerifyRegistration(p, r.challenge, r.clientDataJSON, r.attestationObject)
	if err != nil {
		t.Fatalf("registration of the certified model refused: %v", err)
	}
	if got := md.Describe(cred.AAGUID); got != "Test Key 5 NFC" {
		t.Errorf("Describe = %q, want the metadata's description", got)
	}

	revoked := newTestKey(t, nil)
	revoked.aaguid = otherAAGUID
	r = revoked.register(t, "none", flagUP|flagUV|flagAT)
	p.AttestationRequired = false
	_, err = VerifyRegistration(p, r.challenge, r.clientDataJSON, r.attestationObject)
	if !errors.Is(err, ErrAuthenticatorStatus) {
		t.Fatalf("revoked model: err = %v, want ErrAuthenticatorStatus", err)
	}
	for _, want := range []string{`"Leaky Key"`, otherAAGUIDText, "REVOKED"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}

	// Without metadata the same key registers: the refusal came from it.
	p.Metadata = nil
	if _, err := VerifyRegistration(p, r.challenge, r.clientDataJSON, r.attestationObject); err != nil {
		t.Errorf("without metadata: %v", err)
	}
}

// TestMetadataRefusedBLOBs: BLOBs that do not verify are refused and the
// BLOB in use stays.
func TestMetadataRefusedBLOBs(t *testing.T) {
	s, other := testSigner(t), testSigner(t)
	md := &Metadata{}
	if _, err := md.Update(testBLOB(t, s, 1, time.Now().AddDate(0, 1, 0)), s.Root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		blob []byte
		want string
	}{
		{"bad signature", mdstest.Tamper(testBLOB(t, s, 2, time.Now().AddDate(0, 1, 0))), "does not verify"},
		{"signed under another root", testBLOB(t, other, 2, time.Now().AddDate(0, 1, 0)), "does not verify"},
		{"not a JWT", []byte("<html>503 Service Unavailable</html>"), "does not verify"},
		{"empty", nil, "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := md.Update(tc.blob, s.Root)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if b := md.Current(); b == nil || b.Number != 1 {
				t.Fatalf("BLOB in use after a refused one: %+v, want no 1", b)
			}
			if md.Describe(testAAGUID) != "Test Key 5 NFC" {
				t.Error("the names of the BLOB in use were lost")
			}
		})
	}
}

// TestMetadataExpiredNextUpdate: a BLOB past its nextUpdate still verifies
// (its statuses are the latest known); the caller sees the date and warns.
func TestMetadataExpiredNextUpdate(t *testing.T) {
	s := testSigner(t)
	past := time.Now().AddDate(0, 0, -3)
	b, err := VerifyMetadata(testBLOB(t, s, 3, past), s.Root)
	if err != nil {
		t.Fatalf("expired BLOB: %v", err)
	}
	if want := past.UTC().Format(time.DateOnly); b.NextUpdate.Format(time.DateOnly) != want {
		t.Errorf("NextUpdate %s, want %s", b.NextUpdate, want)
	}
}

// TestPolicySyncedAndDeny covers allow_synced = false and aaguid_deny.
func TestPolicySyncedAndDeny(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	const good = flagUP | flagUV | flagAT
	for _, tc := range []struct {
		name    string
		format  string
		flags   byte
		policy  func(*Policy)
		wantErr error
		wantMsg string
	}{
		{name: "none accepted when synced passkeys are allowed", format: "none", flags: good | flagBE | flagBS},
		{name: "none refused", format: "none", flags: good, policy: func(p *Policy) { p.RefuseSynced = true },
			wantErr: ErrSyncedNotAllowed, wantMsg: `no attestation (format "none")`},
		{name: "backup eligible refused", format: "packed", flags: good | flagBE, policy: func(p *Policy) { p.RefuseSynced = true },
			wantErr: ErrSyncedNotAllowed, wantMsg: "backup eligible"},
		{name: "device-bound packed accepted", format: "packed", flags: good, policy: func(p *Policy) { p.RefuseSynced = true }},
		{name: "denied AAGUID", format: "packed", flags: good, policy: func(p *Policy) { p.AAGUIDDeny = [][16]byte{otherAAGUID, testAAGUID} },
			wantErr: ErrAAGUIDNotAllowed, wantMsg: testAAGUIDText + " is on the deny list"},
		{name: "deny wins over allow", format: "packed", flags: good, policy: func(p *Policy) {
			p.AAGUIDAllow, p.AAGUIDDeny = [][16]byte{testAAGUID}, [][16]byte{testAAGUID}
		}, wantErr: ErrAAGUIDNotAllowed, wantMsg: "deny list"},
		{name: "another AAGUID denied", format: "packed", flags: good, policy: func(p *Policy) { p.AAGUIDDeny = [][16]byte{otherAAGUID} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy(ca)
			p.AttestationRequired = false
			if tc.policy != nil {
				tc.policy(&p)
			}
			r := newTestKey(t, ca).register(t, tc.format, tc.flags)
			cred, err := VerifyRegistration(p, r.challenge, r.clientDataJSON, r.attestationObject)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
			}
			if cred.ID != nil {
				t.Error("a refused registration returned a credential")
			}
		})
	}
}
