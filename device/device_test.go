package device

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
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
	k, err := OpenKey(sk.Path(), append([]Option{WithLogger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatalf("OpenKey: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k
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

	if err := k.SetPIN(ctx, "12345"); !errors.Is(err, ErrPINPolicy) {
		t.Fatalf("SetPIN below the key's minimum: %v, want ErrPINPolicy", err)
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
}
