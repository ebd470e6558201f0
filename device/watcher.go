package device

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	libfido2 "github.com/keys-pub/go-libfido2"
)

// probeTimeout bounds reading the Info of a newly seen key.
const probeTimeout = 5 * time.Second

// Watcher discovers keys: libfido2's enumeration (hidraw nodes) plus extra
// paths (ptys of software keys, or configured nodes), polled. A path whose
// Info cannot be read is absent, not an error; it is tried again on the
// next poll. A U2F-only key is listed with Versions ["U2F_V2"] so that the
// kiosk can tell the user it cannot be enrolled as a FIDO2 key.
type Watcher struct {
	log      *slog.Logger
	opts     []Option
	interval time.Duration
	changes  chan struct{}

	// retired holds the Keys of paths that went away, closed but with
	// libfido2 calls still running: the path is not probed again while its
	// old Key is busy, and Run waits for them. Touched only by Run's
	// goroutine.
	retired []*Key

	mu      sync.Mutex
	extra   []string
	devices map[string]Info // keys present, by path
	// keys holds one Key per candidate path, listed or still being
	// probed. The watcher owns them: it reads Info through them, lends the
	// listed ones out (Key), and closes them when their path goes away or
	// Run ends. Added and removed by Run's goroutine.
	keys map[string]*Key
}

// NewWatcher returns a Watcher polling every interval (1 s if not
// positive). opts are passed to the Authenticators it uses to read Info.
func NewWatcher(extraPaths []string, interval time.Duration, opts ...Option) *Watcher {
	if interval <= 0 {
		interval = time.Second
	}
	o := buildOptions(opts)
	return &Watcher{
		log:      o.log,
		opts:     opts,
		interval: interval,
		changes:  make(chan struct{}, 1),
		extra:    slices.Clone(extraPaths),
		devices:  make(map[string]Info),
		keys:     make(map[string]*Key),
	}
}

// Key returns the key listed at path, for the caller to use until it is
// removed; the watcher closes it then, or when Run ends, cancelling the
// calls in flight and waiting for them. Callers never close it.
func (w *Watcher) Key(path string) (*Key, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.devices[path]; !ok {
		return nil, false
	}
	k, ok := w.keys[path]
	return k, ok
}

// SetExtraPaths replaces the extra paths; the next poll applies it.
func (w *Watcher) SetExtraPaths(paths []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.extra = slices.Clone(paths)
}

// Changes is signalled (non-blocking, coalesced) when the set of keys
// changes.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// Devices returns the keys present now, sorted by path. Info is read when a
// key arrives, and replaced by Update.
func (w *Watcher) Devices() []Info {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Info, 0, len(w.devices))
	for _, in := range w.devices {
		in.Versions = slices.Clone(in.Versions)
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Info) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return out
}

// Update records Info a caller read from a key that is listed (after it set
// a PIN, say), so that Devices does not show what the key said on arrival.
// Info for a path that is not listed is ignored.
func (w *Watcher) Update(info Info) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.devices[info.Path]; ok {
		if info.Product == "" || info.Product == defaultProduct {
			info.Product = old.Product
		}
		w.devices[info.Path] = info
	}
}

// Run polls until ctx ends. It then closes every Key, its own and those
// lent out by Key, and returns once no libfido2 call on them is running.
// Call it once per Watcher.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	defer w.closeAll()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll compares the candidate paths with the known keys.
func (w *Watcher) poll(ctx context.Context) {
	candidates := map[string]string{} // path → product name if enumerated
	locs, err := libfido2.DeviceLocations()
	if err != nil {
		w.log.Debug("device enumeration failed", "err", err)
	}
	for _, l := range locs {
		candidates[l.Path] = productOf(l)
	}
	w.mu.Lock()
	extra := slices.Clone(w.extra)
	known := make(map[string]bool, len(w.devices))
	for p := range w.devices {
		known[p] = true
	}
	w.mu.Unlock()
	if err != nil {
		// Keep the keys listed rather than report them all removed
		// because enumeration failed once.
		for p := range known {
			if _, ok := candidates[p]; !ok && present(p) {
				candidates[p] = ""
			}
		}
	}
	// An extra path that is a link to an enumerated node, or to another
	// extra path's device, would list one key twice.
	seen := make(map[string]bool, len(candidates)+len(extra))
	for p := range candidates {
		seen[resolve(p)] = true
	}
	for _, p := range extra {
		if r := resolve(p); !seen[r] && present(p) {
			seen[r] = true
			candidates[p] = ""
		}
	}

	w.retired = slices.DeleteFunc(w.retired, (*Key).idle)
	changed := false
	w.mu.Lock()
	var gone []*Key
	for p, k := range w.keys {
		if _, ok := candidates[p]; !ok {
			delete(w.keys, p)
			gone = append(gone, k)
		}
	}
	for p := range known {
		if _, ok := candidates[p]; !ok {
			delete(w.devices, p)
			w.log.Info("key removed", "device", p)
			changed = true
		}
	}
	w.mu.Unlock()
	// A removed key's calls in flight end now (ErrRemoved); it is kept
	// until they have returned.
	for _, k := range gone {
		k.shut()
		if !k.idle() {
			w.retired = append(w.retired, k)
		}
	}
	for p, product := range candidates {
		if known[p] || ctx.Err() != nil {
			continue
		}
		info, ok := w.probe(ctx, p)
		if !ok {
			continue
		}
		if product != "" {
			info.Product = product
		}
		w.mu.Lock()
		w.devices[p] = info
		w.mu.Unlock()
		w.log.Info("key arrived", "device", p, "product", info.Product)
		changed = true
	}
	if changed {
		select {
		case w.changes <- struct{}{}:
		default:
		}
	}
}

// probe reads the Info of a newly seen path, once: a key that is not ready
// yet is tried again on the next poll.
func (w *Watcher) probe(ctx context.Context, path string) (Info, bool) {
	for _, old := range w.retired {
		if old.path == path {
			return Info{}, false // the key that was here is still busy
		}
	}
	w.mu.Lock()
	k := w.keys[path]
	w.mu.Unlock()
	if k == nil {
		var err error
		if k, err = OpenKey(path, w.opts...); err != nil {
			return Info{}, false
		}
		w.mu.Lock()
		w.keys[path] = k
		w.mu.Unlock()
	}
	if !k.idle() {
		return Info{}, false // still busy from an earlier probe
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	info, err := k.info(ctx, 1)
	if errors.Is(err, ErrNotFIDO2) {
		// A garbled GetInfo from a key just plugged in also looks like
		// this: make sure before listing the key as U2F-only.
		info, err = k.info(ctx, infoAttempts)
		if errors.Is(err, ErrNotFIDO2) {
			return Info{
				Path:         path,
				Product:      k.productName(),
				Versions:     []string{"U2F_V2"},
				MinPINLength: minPINLength,
				PINRetries:   -1,
			}, true
		}
	}
	if err != nil {
		w.log.Debug("not a usable key", "device", path, "err", err)
		return Info{}, false
	}
	return info, true
}

// closeAll closes every Key and waits for their calls.
func (w *Watcher) closeAll() {
	w.mu.Lock()
	keys := slices.Collect(maps.Values(w.keys))
	clear(w.keys)
	w.mu.Unlock()
	for _, k := range keys {
		k.shut() // cancel them all first, then wait
	}
	for _, k := range append(keys, w.retired...) {
		k.Close()
	}
	w.retired = nil
}

// resolve returns path with symlinks resolved, or path itself.
func resolve(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

// present reports whether an extra path is still a character device; a
// pty disappears when its software key goes away.
func present(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
