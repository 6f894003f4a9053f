package memory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("memory: store closed")

type key struct {
	kind     revocation.Kind
	provider string
	value    string
}

// Store is an in-memory revocation.Store.
type Store struct {
	mu      sync.RWMutex
	entries map[key]revocation.Entry
	closed  bool
}

var _ revocation.Store = (*Store)(nil)

// New returns an empty Store and logs, on logger (nil: none), that
// revocations will not survive a restart.
func New(logger *slog.Logger) *Store {
	if logger != nil {
		logger.Warn("revocation store is in memory: revocations are lost on restart and not shared between replicas; use bolt or redis in production",
			"backend", "memory")
	}
	return &Store{entries: make(map[key]revocation.Entry)}
}

// Put implements revocation.Store.
func (s *Store) Put(ctx context.Context, e revocation.Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put revocation: %w", err)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	k := key{e.Kind, e.Provider, e.Value}
	if cur, ok := s.entries[k]; ok {
		e, _ = cur.Merge(e)
	}
	s.entries[k] = e
	return nil
}

// Get implements revocation.Store.
func (s *Store) Get(ctx context.Context, kind revocation.Kind, provider, value string) (revocation.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return revocation.Entry{}, false, fmt.Errorf("get revocation: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return revocation.Entry{}, false, ErrClosed
	}
	e, ok := s.entries[key{kind, provider, value}]
	return e, ok, nil
}

// List implements revocation.Store.
func (s *Store) List(ctx context.Context, now time.Time, fn func(revocation.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list revocations: %w", err)
	}
	// Copy first so fn runs without the lock.
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	live := make([]revocation.Entry, 0, len(s.entries))
	for _, e := range s.entries {
		if e.ExpiresAt > now.Unix() {
			live = append(live, e)
		}
	}
	s.mu.RUnlock()
	for _, e := range live {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// DeleteExpired implements revocation.Store.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	n := 0
	for k, e := range s.entries {
		if e.ExpiresAt <= now.Unix() {
			delete(s.entries, k)
			n++
		}
	}
	return n, nil
}

// Close implements revocation.Store. The entries are dropped.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.entries = nil
	return nil
}
