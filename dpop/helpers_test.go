package dpop

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// seenOnce is a replay cache for unit tests of the checks around it; the
// real caches (memory and Redis) are tested in package replay and through
// the server.
type seenOnce struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error
}

func newSeenOnce() *seenOnce { return &seenOnce{seen: map[string]time.Time{}} }

func (s *seenOnce) Claim(_ context.Context, scope, id string, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	k := scope + "\x00" + id
	if _, ok := s.seen[k]; ok {
		return false, nil
	}
	s.seen[k] = until
	return true, nil
}

func newChecker(t testing.TB, cfg Config) *Checker {
	t.Helper()
	if cfg.Replay == nil {
		cfg.Replay = newSeenOnce()
	}
	if cfg.Provider == "" {
		cfg.Provider = "corp"
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var errDown = errors.New("replay store down")
