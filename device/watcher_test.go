package device

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"mfagate/device/softkey"
)

// waitDevices waits for Changes until the watcher lists exactly paths.
func waitDevices(t *testing.T, w *Watcher, paths ...string) []Info {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		devs := w.Devices()
		got := make([]string, len(devs))
		for i, d := range devs {
			got[i] = d.Path
		}
		slices.Sort(paths)
		if slices.Equal(got, paths) {
			return devs
		}
		select {
		case <-w.Changes():
		case <-deadline:
			t.Fatalf("watcher lists %v, want %v", got, paths)
		}
	}
}

// runWatcher runs w until the test ends, then checks that Run returns.
func runWatcher(t *testing.T, w *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(testTimeout):
			t.Error("Run did not return after its context ended")
		}
	})
}

func TestWatcher(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "not-a-key")
	if err := os.WriteFile(plain, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, aPath := startLinkedKey(t, softkey.Options{})
	w := NewWatcher([]string{"/dev/null", plain, filepath.Join(t.TempDir(), "missing"), aPath},
		20*time.Millisecond, WithLogger(testLogger()))
	runWatcher(t, w)

	select {
	case <-w.Changes():
	case <-time.After(testTimeout):
		t.Fatal("Changes did not fire for the key")
	}
	devs := waitDevices(t, w, aPath)
	if devs[0].AAGUID != a.AAGUID() || devs[0].PINSet || devs[0].Product != "FIDO2 key" ||
		!slices.Contains(devs[0].Versions, "FIDO_2_0") {
		t.Fatalf("watcher Info %+v", devs[0])
	}

	// A second key configured later appears next to the first.
	b, bPath := startLinkedKey(t, softkey.Options{AAGUID: [16]byte{1, 2, 3}})
	// The second key's node next to its link is the same key, listed once.
	w.SetExtraPaths([]string{aPath, bPath, "/dev/null", b.Path()})
	devs = waitDevices(t, w, aPath, bPath)
	for _, d := range devs {
		if d.Path == bPath && d.AAGUID != b.AAGUID() {
			t.Fatalf("second key AAGUID %x", d.AAGUID)
		}
	}

	// Pulled keys disappear.
	a.Remove()
	waitDevices(t, w, bPath)
	b.Close()
	waitDevices(t, w)
}

func TestWatcherU2FOnly(t *testing.T) {
	_, path := startLinkedKey(t, softkey.Options{U2F: softkey.U2FOnly})
	w := NewWatcher([]string{path}, 20*time.Millisecond, WithLogger(testLogger()))
	runWatcher(t, w)
	devs := waitDevices(t, w, path)
	if !slices.Equal(devs[0].Versions, []string{"U2F_V2"}) || devs[0].PINSet || devs[0].PINRetries != -1 {
		t.Fatalf("U2F-only key listed as %+v", devs[0])
	}
}
