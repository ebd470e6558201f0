package device

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mfagate/device/softkey"
)

// testTimeout bounds every wait in the tests; it guards against hangs and
// is never an assertion on how long something took.
const testTimeout = 20 * time.Second

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startKey starts a software key for one test and removes it at cleanup.
func startKey(t *testing.T, opts softkey.Options) *softkey.Key {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	k, err := softkey.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("softkey.Start: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// openKey opens the device package's Authenticator on a software key.
func openKey(t *testing.T, sk *softkey.Key, opts ...Option) *Key {
	t.Helper()
	return openPath(t, sk.Path(), opts...)
}

func openPath(t *testing.T, path string, opts ...Option) *Key {
	t.Helper()
	k, err := OpenKey(path, append([]Option{WithLogger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatalf("OpenKey: %v", err)
	}
	t.Cleanup(func() {
		closed := make(chan struct{})
		go func() {
			k.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(testTimeout):
			t.Errorf("Close on %s still waits for a libfido2 call", path)
		}
	})
	return k
}

// startLinkedKey starts a key reached through a symlink that disappears
// with it. Tests that remove a key use the link: the pty number is free
// for reuse by any process on the machine as soon as the key is gone.
func startLinkedKey(t *testing.T, opts softkey.Options) (*softkey.Key, string) {
	t.Helper()
	opts.Link = filepath.Join(t.TempDir(), "fido-key")
	return startKey(t, opts), opts.Link
}

func ctxTimeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func cdhOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestInfoAndPIN(t *testing.T) {
	sk := startKey(t, softkey.Options{MinPINLength: 6})
	k := openKey(t, sk)
	ctx := ctxTimeout(t)

	info, err := k.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.AAGUID != sk.AAGUID() {
		t.Errorf("AAGUID %x, want %x", info.AAGUID, sk.AAGUID())
	}
	if info.PINSet || info.PINRetries != -1 || !info.ResidentKey {
		t.Errorf("fresh key: PINSet %v, PINRetries %d, ResidentKey %v", info.PINSet, info.PINRetries, info.ResidentKey)
	}
	if info.Path != sk.Path() || info.Product != "FIDO2 key" || info.MinPINLength != 6 {
		t.Errorf("fresh key: path %q product %q min PIN %d", info.Path, info.Product, info.MinPINLength)
	}

	if err := k.SetPIN(ctx, "12345"); !errors.Is(err, ErrPINPolicy) || !strings.Contains(err.Error(), "at least 6 characters") {
		t.Fatalf("SetPIN below the key's minimum: %v, want ErrPINPolicy naming the minimum 6", err)
	}
	if err := k.SetPIN(ctx, "123"); !errors.Is(err, ErrPINPolicy) {
		t.Fatalf("SetPIN below the CTAP minimum: %v, want ErrPINPolicy", err)
	}
	if err := k.SetPIN(ctx, "246810"); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	info, err = k.Info(ctx)
	if err != nil {
		t.Fatalf("Info after SetPIN: %v", err)
	}
	if !info.PINSet || info.PINRetries != 8 {
		t.Fatalf("after SetPIN: PINSet %v, PINRetries %d", info.PINSet, info.PINRetries)
	}
	if err := k.SetPIN(ctx, "13579111"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("SetPIN on a key with a PIN: %v, want ErrNotAllowed", err)
	}

	// A wrong PIN costs one try and says how many are left.
	req := MakeCredentialRequest{ClientDataHash: cdhOf("enroll"), RPID: "idp.example.org",
		UserID: []byte("user-1"), UserName: "alice", PIN: "999999", UserVerification: true}
	_, err = k.MakeCredential(ctx, req)
	var pe *PINError
	if !errors.As(err, &pe) || pe.RetriesLeft != 7 || !errors.Is(err, ErrPINInvalid) {
		t.Fatalf("wrong PIN: %v, want PINError with 7 tries left", err)
	}
	if !strings.Contains(err.Error(), "wrong PIN: 7 tries left before the key locks") {
		t.Errorf("wrong PIN message %q", err)
	}
	if err := k.ChangePIN(ctx, "000000", "1357911"); !errors.As(err, &pe) || pe.RetriesLeft != 6 {
		t.Fatalf("ChangePIN with a wrong old PIN: %v, want PINError with 6 tries left", err)
	}
	req.PIN = "246810"
	if _, err := k.MakeCredential(ctx, req); err != nil {
		t.Fatalf("MakeCredential with the right PIN: %v", err)
	}
	if n, err := k.PINRetries(ctx); err != nil || n != 8 {
		t.Fatalf("retries after the right PIN: %d, %v", n, err)
	}
	if err := k.ChangePIN(ctx, "246810", "1357911"); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	if err := k.ChangePIN(ctx, "1357911", "12"); !errors.Is(err, ErrPINPolicy) {
		t.Fatalf("ChangePIN to a short PIN: %v, want ErrPINPolicy", err)
	}
	req.PIN = ""
	req.UserVerification = false
	if _, err := k.MakeCredential(ctx, req); !errors.Is(err, ErrPINRequired) {
		t.Fatalf("MakeCredential without the PIN: %v, want ErrPINRequired", err)
	}

	// Three wrong PINs in a row need a power cycle.
	req.PIN = "000000"
	for i := range 2 {
		if _, err := k.MakeCredential(ctx, req); !errors.Is(err, ErrPINInvalid) {
			t.Fatalf("wrong PIN %d: %v", i+1, err)
		}
	}
	if _, err := k.MakeCredential(ctx, req); !errors.Is(err, ErrPINAuthBlocked) {
		t.Fatalf("third wrong PIN: %v, want ErrPINAuthBlocked", err)
	}
	req.PIN = "1357911"
	if _, err := k.MakeCredential(ctx, req); !errors.Is(err, ErrPINAuthBlocked) {
		t.Fatalf("right PIN before reinsertion: %v, want ErrPINAuthBlocked", err)
	}
	if err := sk.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.MakeCredential(ctx, req); err != nil {
		t.Fatalf("right PIN after reinsertion: %v", err)
	}

	// A blocked PIN only goes away with a reset.
	if err := sk.BlockPIN(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.MakeCredential(ctx, req); !errors.Is(err, ErrPINBlocked) {
		t.Fatalf("MakeCredential with a blocked PIN: %v, want ErrPINBlocked", err)
	}
	if info, err := k.Info(ctx); err != nil || info.PINRetries != 0 {
		t.Fatalf("Info of a blocked key: retries %d, %v", info.PINRetries, err)
	}
}

func TestPINNotSet(t *testing.T) {
	k := openKey(t, startKey(t, softkey.Options{}))
	_, err := k.MakeCredential(ctxTimeout(t), MakeCredentialRequest{ClientDataHash: cdhOf("x"), RPID: "example.org",
		UserID: []byte("u"), UserName: "u", PIN: "1234"})
	if !errors.Is(err, ErrPINNotSet) {
		t.Fatalf("MakeCredential with a PIN on a key without one: %v, want ErrPINNotSet", err)
	}
}

func TestReset(t *testing.T) {
	ctx := ctxTimeout(t)
	sk := startKey(t, softkey.Options{ResetWindow: -1})
	k := openKey(t, sk)
	if err := k.SetPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.MakeCredential(ctx, MakeCredentialRequest{ClientDataHash: cdhOf("x"), RPID: "example.org",
		UserID: []byte("u"), UserName: "u", PIN: "1234", ResidentKey: true}); err != nil {
		t.Fatal(err)
	}
	if err := k.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	info, err := k.Info(ctx)
	if err != nil || info.PINSet {
		t.Fatalf("after Reset: PINSet %v, %v", info.PINSet, err)
	}
	if creds, _ := sk.Credentials(); len(creds) != 0 {
		t.Fatalf("%d credentials survived the reset", len(creds))
	}

	late := openKey(t, startKey(t, softkey.Options{ResetWindow: time.Nanosecond}))
	if err := late.Reset(ctx); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Reset long after power-up: %v, want ErrNotAllowed", err)
	}
}

func TestNotFIDO2(t *testing.T) {
	k := openKey(t, startKey(t, softkey.Options{U2F: softkey.U2FOnly}))
	if _, err := k.Info(ctxTimeout(t)); !errors.Is(err, ErrNotFIDO2) {
		t.Fatalf("Info of a U2F-only key: %v, want ErrNotFIDO2", err)
	}
}

// TestInputValidation uses a path with no device: a request that reached
// libfido2 would fail with ErrRemoved instead of ErrInvalidInput.
func TestInputValidation(t *testing.T) {
	k, err := OpenKey(filepath.Join(t.TempDir(), "no-such-key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t)
	good := MakeCredentialRequest{ClientDataHash: cdhOf("x"), RPID: "example.org", UserID: []byte("u"), UserName: "u"}
	for _, tc := range []struct {
		name string
		edit func(*MakeCredentialRequest)
		want error
		msg  string
	}{
		{"no client data hash", func(r *MakeCredentialRequest) { r.ClientDataHash = nil }, ErrInvalidInput, "client data hash is 0 bytes, want 32"},
		{"short client data hash", func(r *MakeCredentialRequest) { r.ClientDataHash = r.ClientDataHash[:31] }, ErrInvalidInput, "client data hash is 31 bytes"},
		{"long client data hash", func(r *MakeCredentialRequest) { r.ClientDataHash = append(r.ClientDataHash, 0) }, ErrInvalidInput, "client data hash is 33 bytes"},
		{"empty RP ID", func(r *MakeCredentialRequest) { r.RPID = "" }, ErrInvalidInput, "empty relying party ID"},
		{"empty user ID", func(r *MakeCredentialRequest) { r.UserID = nil }, ErrInvalidInput, "empty user ID"},
		{"long user ID", func(r *MakeCredentialRequest) { r.UserID = make([]byte, 65) }, ErrInvalidInput, "user ID is 65 bytes, at most 64"},
		{"empty user name", func(r *MakeCredentialRequest) { r.UserName = "" }, ErrInvalidInput, "empty user name"},
		{"empty excluded ID", func(r *MakeCredentialRequest) { r.ExcludeList = [][]byte{{1}, {}} }, ErrInvalidInput, "exclude list entry 1"},
		{"UV without PIN", func(r *MakeCredentialRequest) { r.UserVerification = true }, ErrPINRequired, "needs the key's PIN"},
	} {
		t.Run("make credential/"+tc.name, func(t *testing.T) {
			req := good
			req.ClientDataHash = slices.Clone(good.ClientDataHash)
			tc.edit(&req)
			_, err := k.MakeCredential(ctx, req)
			if !errors.Is(err, tc.want) || errors.Is(err, ErrRemoved) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
	goodAs := AssertionRequest{ClientDataHash: cdhOf("x"), RPID: "example.org"}
	for _, tc := range []struct {
		name string
		edit func(*AssertionRequest)
		want error
	}{
		{"short client data hash", func(r *AssertionRequest) { r.ClientDataHash = r.ClientDataHash[:16] }, ErrInvalidInput},
		{"empty RP ID", func(r *AssertionRequest) { r.RPID = "" }, ErrInvalidInput},
		{"empty allowed ID", func(r *AssertionRequest) { r.AllowList = [][]byte{nil} }, ErrInvalidInput},
		{"UV without PIN", func(r *AssertionRequest) { r.UserVerification = true }, ErrPINRequired},
	} {
		t.Run("get assertion/"+tc.name, func(t *testing.T) {
			req := goodAs
			tc.edit(&req)
			if _, err := k.GetAssertion(ctx, req); !errors.Is(err, tc.want) || errors.Is(err, ErrRemoved) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	for _, pin := range []string{"", "123", strings.Repeat("9", 64), "12\xff4"} {
		if err := k.SetPIN(ctx, pin); errors.Is(err, ErrRemoved) || err == nil {
			t.Errorf("SetPIN(%q): %v, want a validation error", pin, err)
		}
	}
	if err := k.ChangePIN(ctx, "", "5678"); !errors.Is(err, ErrPINRequired) {
		t.Errorf("ChangePIN without the old PIN: %v", err)
	}
	if _, err := k.ResidentCredentials(ctx, "", "1234"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ResidentCredentials without RP ID: %v", err)
	}
	if _, err := k.ResidentCredentials(ctx, "example.org", ""); !errors.Is(err, ErrPINRequired) {
		t.Errorf("ResidentCredentials without PIN: %v", err)
	}
	if err := k.DeleteResidentCredential(ctx, nil, "1234"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("DeleteResidentCredential without ID: %v", err)
	}
	if _, err := OpenKey(""); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("OpenKey(\"\"): %v", err)
	}
	// The same key path really is absent: an operation says so.
	if _, err := k.Info(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("Info on a missing path: %v, want ErrRemoved", err)
	}
}
