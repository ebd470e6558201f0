package mfa

import (
	"context"
	"fmt"
	"time"
)

// PruneBatch is how many rows one pruning transaction deletes at most.
// Each batch is its own write transaction, so the writer is held for one
// batch only and sign-ins queue behind it for no longer. Figure 7 of
// docs/performance.md measures it on a million rows: on SQLite a batch of
// 100 challenges with their five index entries each holds the writer about
// 3 ms (median) on the benchmark machine, 500 rows about 9 ms; batches of
// 100 still delete some 29 000 rows a second, so the 2 s a round the
// daemon gives pruning keep up with any sign-in rate a gateway sees.
const PruneBatch = 100

// Pruned counts the rows one pruning round deleted, by table.
type Pruned struct {
	Challenges, Outbox, Audit int
}

// Prune deletes finished records older than r keeps them, a batch per
// transaction, until nothing is left to delete or budget has passed (the
// rest waits for the next round). Of several nodes sharing a store, one
// prunes at a time: the others' batches find the pruning lock taken and
// stop. What was deleted is counted even when a later batch fails.
func (s *Service) Prune(ctx context.Context, r Retention, budget time.Duration) (Pruned, error) {
	var p Pruned
	start := s.now()
	deadline := time.Now().Add(budget)
	tables := []struct {
		keep  time.Duration
		n     *int
		prune func(Tx, time.Time, int) (int, error)
	}{
		{r.Challenges, &p.Challenges, Tx.PruneChallenges},
		{r.Outbox, &p.Outbox, Tx.PruneJobs},
		{r.Audit, &p.Audit, Tx.PruneEvents},
	}
	for _, t := range tables {
		if t.keep <= 0 {
			continue
		}
		cutoff := start.Add(-t.keep)
		for {
			n, locked := 0, false
			err := s.store.Update(ctx, func(tx Tx) error {
				n = 0
				var err error
				if locked, err = tx.PruneLock(); err != nil || !locked {
					return err
				}
				n, err = t.prune(tx, cutoff, PruneBatch)
				return err
			})
			if err != nil {
				return p, fmt.Errorf("prune: %w", err)
			}
			if !locked {
				return p, nil // another node prunes
			}
			*t.n += n
			if n < PruneBatch {
				break
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return p, ctx.Err()
			}
		}
	}
	return p, nil
}
