package api_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"mfagate/mfa"
)

// A security key's method shows its model's name when FIDO metadata
// knows the AAGUID, and only the AAGUID otherwise.
func TestMethodShowsModel(t *testing.T) {
	h := newHarness(t)
	known := [16]byte{0xee, 0x88, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	h.models = func(a [16]byte) string {
		if a == known {
			return "Test Key 5 NFC"
		}
		return ""
	}
	h.restart()
	admin := mfa.Actor{Name: "ops", Admin: true}
	for i, aaguid := range [][16]byte{known, {1}} {
		_, err := h.svc.RegisterFIDO(t.Context(), admin, "0123456789", mfa.FIDORegistration{Label: "key", Credential: mfa.FIDOCredential{
			ID: bytes.Repeat([]byte{byte(i + 1)}, 32), PublicKey: []byte{0xa5, 1, 2}, AAGUID: aaguid[:], AttestationFormat: "none"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	r := h.do("GET", "/v1/users/0123456789", tokAdmin, "")
	h.want(r, 200, "")
	var u struct{ Methods []map[string]any }
	if err := json.Unmarshal(r.raw, &u); err != nil {
		t.Fatal(err)
	}
	byAAGUID := map[string]map[string]any{}
	for _, m := range u.Methods {
		byAAGUID[m["aaguid"].(string)] = m
	}
	if m := byAAGUID["ee880102-0304-0506-0708-090a0b0c0d0e"]; len(u.Methods) != 2 || m == nil || m["model"] != "Test Key 5 NFC" {
		t.Fatalf("known model: %v", u.Methods)
	}
	if m := byAAGUID["01000000-0000-0000-0000-000000000000"]; m == nil || m["model"] != nil {
		t.Fatalf("unknown model: %v", u.Methods)
	}
}
