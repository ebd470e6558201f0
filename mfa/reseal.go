package mfa

import (
	"context"
	"fmt"
	"time"
)

// SealedValue is one value sealed at rest with the server key, where it
// lives and what Seal bound it to.
type SealedValue struct {
	Table   string // one of SealedTables
	ID      string // the row's key
	Context string // the context it was sealed with
	Sealed  []byte
}

// SealedTables lists where the store keeps sealed values: TOTP seeds,
// queued codes and numbers to match, and the OpenID provider's signing
// keys.
var SealedTables = []string{"methods", "outbox", "oidc_signing_keys"}

// SealedTx is what a store's transaction offers for re-sealing after a key
// rotation. A Tx that lacks it cannot be re-sealed.
type SealedTx interface {
	// SealedValues lists up to limit sealed values of table whose ID sorts
	// after after, by ID.
	SealedValues(table, after string, limit int) ([]SealedValue, error)
	// ReplaceSealed stores sealed in place of v.Sealed if v's row still
	// holds v.Sealed, and reports whether it did.
	ReplaceSealed(v SealedValue, sealed []byte) (bool, error)
}

// ResealProgress is where a re-seal stands.
type ResealProgress struct {
	PreviousKeys int  // keys being rotated out
	Pending      int  // values sealed with a previous key, not yet re-sealed
	Resealed     int  // values re-sealed to the current key by this daemon
	Unreadable   int  // values no configured key opens
	Running      bool // a pass is under way
	Done         bool // the last pass re-sealed everything it could
}

// Reseal re-seals every value sealed with a previous key to the current
// key, batch values per transaction with pause between transactions, so
// that sign-ins keep the writer. progress is called after every batch.
// With no previous key it only counts what no key opens. A value changed
// meanwhile is left alone: it was sealed again, with the current key.
func (s *Service) Reseal(ctx context.Context, batch int, pause time.Duration, progress func(ResealProgress)) (ResealProgress, error) {
	p := ResealProgress{PreviousKeys: s.keys.Previous(), Running: true}
	report := func() {
		if progress != nil {
			progress(p)
		}
	}
	if err := s.countSealed(ctx, batch, &p); err != nil {
		return p, err
	}
	report()
	for _, table := range SealedTables {
		if p.Pending == 0 {
			break
		}
		after := ""
		for {
			var n, seen int
			var last string
			err := s.store.Update(ctx, func(tx Tx) error {
				n, seen, last = 0, 0, ""
				st, ok := tx.(SealedTx)
				if !ok {
					return fmt.Errorf("this store cannot list its sealed values")
				}
				vs, err := st.SealedValues(table, after, batch)
				if err != nil {
					return err
				}
				seen = len(vs)
				for _, v := range vs {
					last = v.ID
					plain, current, err := s.keys.OpenCurrent(v.Sealed, v.Context)
					if err != nil || current {
						continue
					}
					done, err := st.ReplaceSealed(v, s.keys.Seal(plain, v.Context))
					if err != nil {
						return err
					}
					if done {
						n++
					}
				}
				return nil
			})
			if err != nil {
				return p, fmt.Errorf("re-seal %s after %q: %w", table, after, err)
			}
			p.Resealed += n
			p.Pending = max(0, p.Pending-n)
			if n > 0 {
				report()
			}
			if seen < batch {
				break
			}
			after = last
			select {
			case <-ctx.Done():
				return p, ctx.Err()
			case <-time.After(pause):
			}
		}
	}
	// Count again: what is left is what the pass could not move.
	if err := s.countSealed(ctx, batch, &p); err != nil {
		return p, err
	}
	p.Running, p.Done = false, p.Pending == 0
	report()
	return p, nil
}

// countSealed sets p.Pending and p.Unreadable from a read of every sealed
// value.
func (s *Service) countSealed(ctx context.Context, batch int, p *ResealProgress) error {
	p.Pending, p.Unreadable = 0, 0
	for _, table := range SealedTables {
		after := ""
		for {
			var vs []SealedValue
			err := s.store.View(ctx, func(tx Tx) error {
				st, ok := tx.(SealedTx)
				if !ok {
					return fmt.Errorf("this store cannot list its sealed values")
				}
				var err error
				vs, err = st.SealedValues(table, after, batch)
				return err
			})
			if err != nil {
				return fmt.Errorf("count sealed values in %s: %w", table, err)
			}
			for _, v := range vs {
				switch _, current, err := s.keys.OpenCurrent(v.Sealed, v.Context); {
				case err != nil:
					p.Unreadable++
				case !current:
					p.Pending++
				}
			}
			if len(vs) < batch {
				break
			}
			after = vs[len(vs)-1].ID
		}
	}
	return nil
}
