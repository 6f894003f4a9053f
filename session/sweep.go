package session

import (
	"context"
	"log/slog"
	"time"
)

// SweepEvery calls s.Sweep every interval until ctx is done. Errors are
// logged and the next tick retries. A nil clock means time.Now. It blocks;
// run it in its own goroutine.
func SweepEvery(ctx context.Context, s Sweeper, interval time.Duration, clock func() time.Time, logger *slog.Logger) {
	if interval <= 0 {
		return
	}
	if clock == nil {
		clock = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.Sweep(ctx, clock())
			if err != nil {
				logger.Warn("sweep expired sessions", "err", err)
				continue
			}
			if n > 0 {
				logger.Debug("swept expired sessions", "removed", n)
			}
		}
	}
}
