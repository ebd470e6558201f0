package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
)

// loadKeys reads the server key and the keys being rotated out.
func loadKeys(cfg *config.Config) (*mfa.Keys, error) {
	return mfa.LoadKeyRing(cfg.Secrets.KeyFile, cfg.Secrets.PreviousKeyFiles)
}

// Re-seal batches: small, so that sign-ins keep the writer between them.
const (
	resealBatch = 100
	resealPause = 20 * time.Millisecond
)

// resealer runs the re-seal after a key rotation once at start and keeps
// its progress for the API and the metrics.
type resealer struct {
	mu sync.Mutex
	p  mfa.ResealProgress
}

func (r *resealer) progress() mfa.ResealProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p
}

func (r *resealer) run(ctx context.Context, svc *mfa.Service, keys *mfa.Keys, m *metrics.Metrics, log *slog.Logger) {
	r.mu.Lock()
	r.p = mfa.ResealProgress{PreviousKeys: keys.Previous(), Done: keys.Previous() == 0}
	r.mu.Unlock()
	m.SetReseal(r.progress(), 0)
	if keys.Previous() == 0 {
		return
	}
	log.Info("re-sealing values sealed with a previous key", "previous_keys", keys.Previous())
	p, err := svc.Reseal(ctx, resealBatch, resealPause, func(p mfa.ResealProgress) {
		r.mu.Lock()
		n := p.Resealed - r.p.Resealed
		r.p = p
		r.mu.Unlock()
		m.SetReseal(p, n)
	})
	switch {
	case err != nil && ctx.Err() == nil:
		log.Error("the re-seal stopped; it runs again at the next start", "err", err, "resealed", p.Resealed)
	case err != nil:
	case p.Unreadable > 0:
		log.Warn("the re-seal is done, but some values open with no configured key: a key file is missing from secrets.previous_key_files",
			"resealed", p.Resealed, "unreadable", p.Unreadable)
	default:
		log.Info("the re-seal is done: the previous keys may be removed once the passes and codes issued before have expired", "resealed", p.Resealed)
	}
	if err != nil {
		r.mu.Lock()
		r.p.Running = false
		r.mu.Unlock()
	}
}
