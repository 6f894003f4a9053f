package jwks

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestStartFetchesAtOnceAndOnSchedule(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	// Real time, tiny intervals: the loop must keep fetching by itself.
	env := newTestSource(t, Options{
		JWKSURI:            srv.URL,
		MinRefreshInterval: time.Millisecond,
		RefreshInterval:    2 * time.Millisecond,
		MaxStale:           time.Hour,
		Clock:              time.Now,
	})
	env.src.Start(t.Context())
	eventually(t, "the first fetch", env.src.Ready)
	eventually(t, "scheduled refetches", func() bool { return srv.requests.Load() >= 4 })

	// Failures are retried too.
	srv.fail(http.StatusInternalServerError)
	n := srv.requests.Load()
	eventually(t, "retries", func() bool { return srv.requests.Load() >= n+3 })
	if env.src.Status().LastError == "" {
		t.Fatal("no error recorded")
	}
	mustKey(t, env.src, "a")
}

func TestStopEndsEverything(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Millisecond, RefreshInterval: time.Millisecond, Clock: time.Now})
	env.src.Start(t.Context())
	eventually(t, "the first fetch", env.src.Ready)

	// A fetch held at the server is cancelled by Stop, which then returns.
	release := srv.hold()
	defer release()
	n := srv.requests.Load()
	eventually(t, "a held fetch", func() bool { return srv.requests.Load() > n })
	env.src.Stop()
	env.src.Stop() // idempotent
	if got := env.logs.Count("jwks fetch failed"); got != 0 {
		t.Fatalf("the fetch aborted by Stop was logged as a failure:\n%s", env.logs)
	}

	if err := env.src.Refresh(t.Context()); !errors.Is(err, errStopped) {
		t.Fatalf("Refresh after Stop: %v", err)
	}
	if !env.src.Status().NextRefresh.IsZero() {
		t.Fatal("a stopped source reports a next refresh")
	}
	// The last set still serves, and nothing fetches any more.
	mustKey(t, env.src, "a")
	n = srv.requests.Load()
	if _, err := env.src.Key(t.Context(), "unknown"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Key(unknown) after Stop: %v", err)
	}
	env.src.Start(t.Context()) // no effect once stopped
	if srv.requests.Load() != n {
		t.Fatal("a stopped source fetched")
	}
}

func TestStartContextStopsTheSource(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL})
	ctx, cancel := context.WithCancel(t.Context())
	env.src.Start(ctx)
	env.src.Start(ctx) // a second Start does nothing
	eventually(t, "the first fetch", env.src.Ready)
	cancel()
	eventually(t, "the source to stop", func() bool {
		env.src.mu.Lock()
		defer env.src.mu.Unlock()
		return env.src.stopped
	})
	if err := env.src.Refresh(t.Context()); !errors.Is(err, errStopped) {
		t.Fatalf("Refresh after the context ended: %v", err)
	}
	env.src.Stop()
	if got := srv.requests.Load(); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
}

func TestRefreshWaitsForAFetchInFlight(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL})
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	release := srv.hold()
	env.clock.Advance(DefaultMinRefreshInterval)
	missDone := make(chan struct{})
	go func() {
		defer close(missDone)
		_, _ = env.src.Key(t.Context(), "b")
	}()
	eventually(t, "the refetch to reach the server", func() bool { return srv.requests.Load() == 2 })
	srv.set(setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "b", "b")))

	refreshed := make(chan error, 1)
	go func() { refreshed <- env.src.Refresh(t.Context()) }()
	release()
	if err := <-refreshed; err != nil {
		t.Fatal(err)
	}
	<-missDone
	// The held fetch and a fetch of Refresh's own.
	if got := srv.requests.Load(); got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}
	mustKey(t, env.src, "b")
}

func TestRefreshBoundedByContext(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL})
	release := srv.hold()
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- env.src.Refresh(ctx) }()
	eventually(t, "the fetch to reach the server", func() bool { return srv.requests.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
