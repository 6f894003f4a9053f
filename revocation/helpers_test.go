package revocation_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

// clockStart is where the tests' fake clocks start.
var clockStart = time.Unix(1_767_225_600, 0)

var errInjected = errors.New("injected store failure")

// flakyStore is a memory store whose operations can be made to fail.
type flakyStore struct {
	*memory.Store
	mu      sync.Mutex
	failing bool
}

func newFlakyStore() *flakyStore { return &flakyStore{Store: memory.New(nil)} }

func (s *flakyStore) setFailing(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = v
}

func (s *flakyStore) fail() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errInjected
	}
	return nil
}

func (s *flakyStore) Put(ctx context.Context, e revocation.Entry) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.Put(ctx, e)
}

func (s *flakyStore) Get(ctx context.Context, k revocation.Kind, p, v string) (revocation.Entry, bool, error) {
	if err := s.fail(); err != nil {
		return revocation.Entry{}, false, err
	}
	return s.Store.Get(ctx, k, p, v)
}

func (s *flakyStore) List(ctx context.Context, now time.Time, fn func(revocation.Entry) error) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.List(ctx, now, fn)
}

// eventually polls cond until it holds, failing the test after a generous
// bound. It checks liveness, not speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, 2*time.Millisecond, what, cond)
}

// runService runs s in the background until the test ends.
func runService(t *testing.T, s *revocation.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
