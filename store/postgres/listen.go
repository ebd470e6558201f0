package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Notification channels the schema's triggers send on, at commit.
const (
	// TopicOutbox: a job entered the queue (payload: its channel).
	TopicOutbox = "mfagate_outbox"
	// TopicChallenge: a challenge changed (payload: its ID).
	TopicChallenge = "mfagate_challenge"
	// TopicResync is not a database channel: Listen calls fn with it after
	// every (re)connection, because notifications sent while no connection
	// listened are lost. The caller re-reads whatever it waits for.
	TopicResync = ""
)

// Listen holds one connection that listens to the trigger notifications
// and calls fn for each (topic, payload), until ctx ends. When the
// connection breaks (a database restart or failover) it reconnects with a
// backoff of up to 5 s and then calls fn(TopicResync, ""). fn must not block.
func (db *DB) Listen(ctx context.Context, log *slog.Logger, fn func(topic, payload string)) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, fn, func() { wait = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		log.Warn("lost the database notification connection; reconnecting", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (db *DB) listenOnce(ctx context.Context, fn func(topic, payload string), connected func()) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A listening connection is not returned to the pool: another user
	// would inherit its LISTEN state.
	defer hijackAndClose(conn)
	for _, topic := range []string{TopicOutbox, TopicChallenge} {
		if _, err := conn.Exec(ctx, "LISTEN "+topic); err != nil {
			return err
		}
	}
	connected()
	fn(TopicResync, "")
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Channel, n.Payload)
	}
}

func hijackAndClose(c *pgxpool.Conn) {
	pc := c.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pc.Close(ctx)
}
