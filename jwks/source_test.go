package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRotation(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "b", "b")))
	env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Minute})
	ctx := t.Context()

	if err := env.src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := mustKey(t, env.src, "a"), mustKey(t, env.src, "b")

	// The IdP rotates: a leaves, c arrives, b stays.
	srv.set(setJSON(t, ecJWK(t, "b", "b"), ecJWK(t, "c", "c")))
	env.clock.Advance(5 * time.Minute)
	if err := env.src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	if got := mustKey(t, env.src, "b"); got != b {
		t.Error("b got a new *Key although kid and thumbprint are unchanged")
	}
	if b.Removed() {
		t.Error("b is marked removed")
	}
	if !a.Removed() {
		t.Error("a is not marked removed")
	}
	if _, err := env.src.Key(ctx, "a"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Key(a) err = %v, want ErrUnknownKey", err)
	}
	mustKey(t, env.src, "c")
	if got := env.src.Status().KeyIDs; !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("KeyIDs = %v", got)
	}
	if got := len(env.src.Keys()); got != 2 {
		t.Errorf("Keys() has %d keys", got)
	}
	if got := env.logs.Count("jwks keys updated"); got != 2 {
		t.Errorf("%d update logs, want 2:\n%s", got, env.logs)
	}
}

func TestUnknownKidRefetch(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Minute})
	ctx := t.Context()
	if err := env.src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv.set(setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "new", "new")))

	steps := []struct {
		advance      time.Duration
		kid          string
		wantErr      error
		wantRequests int64
	}{
		// Within the interval of the last fetch: no fetch, an immediate miss.
		{advance: 30 * time.Second, kid: "new", wantErr: ErrUnknownKey, wantRequests: 1},
		// Past it: one refetch, which brings the key.
		{advance: 30 * time.Second, kid: "new", wantRequests: 2},
		// A kid the refetch did not bring: no further fetch.
		{advance: 59 * time.Second, kid: "other", wantErr: ErrUnknownKey, wantRequests: 2},
		{advance: time.Second, kid: "other", wantErr: ErrUnknownKey, wantRequests: 3},
		// The miss itself counted as an attempt.
		{advance: 10 * time.Second, kid: "other", wantErr: ErrUnknownKey, wantRequests: 3},
		// Known keys never fetch.
		{advance: time.Hour, kid: "a", wantRequests: 3},
		// No kid with several keys: no fetch, which could not help.
		{kid: "", wantErr: ErrUnknownKey, wantRequests: 3},
	}
	prev := srv.requests.Load()
	for i, st := range steps {
		env.clock.Advance(st.advance)
		may := env.src.MayHave(st.kid)
		_, err := env.src.Key(ctx, st.kid)
		if !errIs(err, st.wantErr) {
			t.Fatalf("step %d: Key(%q) err = %v, want %v", i, st.kid, err, st.wantErr)
		}
		got := srv.requests.Load()
		if got != st.wantRequests {
			t.Fatalf("step %d: %d requests, want %d", i, got, st.wantRequests)
		}
		// MayHave is false exactly when Key answered ErrUnknownKey without
		// a fetch.
		if want := st.wantErr == nil || got > prev; may != want {
			t.Fatalf("step %d: MayHave(%q) = %v, want %v", i, st.kid, may, want)
		}
		prev = got
	}
}

// A burst of requests with unknown kids causes one fetch, and every request
// that arrives while it runs waits for it and sees its outcome.
func TestUnknownKidBurst(t *testing.T) {
	const callers = 1000
	tests := map[string]struct {
		kid     func(i int) string
		wantErr error
	}{
		"new kid appears":  {kid: func(int) string { return "new" }},
		"random kids miss": {kid: func(i int) string { return fmt.Sprintf("made-up-%d", i) }, wantErr: ErrUnknownKey},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
			env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Minute})
			if err := env.src.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			srv.set(setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "new", "new")))
			env.clock.Advance(time.Minute)
			release := srv.hold()

			var wg sync.WaitGroup
			errs := make([]error, callers)
			for i := range callers {
				wg.Go(func() {
					_, errs[i] = env.src.Key(t.Context(), tt.kid(i))
				})
			}
			eventually(t, "the refetch to reach the server", func() bool { return srv.requests.Load() == 2 })
			release()
			wg.Wait()

			if got := srv.requests.Load(); got != 2 {
				t.Fatalf("%d requests, want the initial one and one refetch", got)
			}
			for i, err := range errs {
				if !errIs(err, tt.wantErr) {
					t.Fatalf("caller %d: err = %v, want %v", i, err, tt.wantErr)
				}
			}

			// A second burst within the interval fetches nothing.
			for i := range callers {
				wg.Go(func() {
					_, errs[i] = env.src.Key(t.Context(), fmt.Sprintf("second-%d", i))
				})
			}
			wg.Wait()
			if got := srv.requests.Load(); got != 2 {
				t.Fatalf("%d requests after the second burst, want 2", got)
			}
			for i, err := range errs {
				if !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("second burst, caller %d: err = %v", i, err)
				}
			}
		})
	}
}

func TestUnknownKidWaitBoundedByContext(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Minute})
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(time.Minute)
	release := srv.hold()
	defer release()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := env.src.Key(ctx, "new")
		done <- err
	}()
	eventually(t, "the refetch to reach the server", func() bool { return srv.requests.Load() == 2 })
	cancel()
	err := <-done
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrUnknownKey and context.Canceled", err)
	}
	// Known keys are served while the refetch is still held.
	mustKey(t, env.src, "a")
}

func TestStaleKeysServeUntilMaxStale(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{
		JWKSURI:            srv.URL,
		MinRefreshInterval: time.Second,
		RefreshInterval:    time.Minute,
		MaxStale:           time.Hour,
	})
	ctx := t.Context()
	if err := env.src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	loaded := env.clock.Now()
	srv.fail(http.StatusInternalServerError)

	steps := []struct {
		at        time.Duration // since the last success
		wantErr   error
		wantReady bool
	}{
		{at: time.Minute, wantReady: true},
		{at: 30 * time.Minute, wantReady: true},
		{at: time.Hour, wantReady: true},
		{at: time.Hour + time.Second, wantErr: ErrUnavailable},
	}
	for i, st := range steps {
		env.clock.Advance(loaded.Add(st.at).Sub(env.clock.Now()))
		if err := env.src.Refresh(ctx); err == nil {
			t.Fatalf("step %d: Refresh succeeded against a 500", i)
		}
		// Both a known and an unknown kid: staleness wins over everything.
		for _, kid := range []string{"a", "zz"} {
			_, err := env.src.Key(ctx, kid)
			want := st.wantErr
			if want == nil && kid == "zz" {
				want = ErrUnknownKey
			}
			if !errIs(err, want) {
				t.Fatalf("step %d: Key(%q) err = %v, want %v", i, kid, err, want)
			}
		}
		st2 := env.src.Status()
		if env.src.Ready() != st.wantReady || st2.Ready != st.wantReady {
			t.Fatalf("step %d: Ready = %v, want %v", i, env.src.Ready(), st.wantReady)
		}
		if st2.LastError == "" || !st2.LastSuccess.Equal(loaded) {
			t.Fatalf("step %d: status %+v", i, st2)
		}
	}
	if got := env.logs.Count("serving the last good keys"); got != 3 {
		t.Errorf("%d stale warnings, want 3:\n%s", got, env.logs)
	}
	if got := env.logs.Count("no usable keys"); got < 1 {
		t.Errorf("no error logged past max stale:\n%s", env.logs)
	}

	// The endpoint recovers: the next request past the rate limit starts a
	// fetch by itself, without waiting for the retry schedule.
	srv.set(setJSON(t, ecJWK(t, "a", "a")))
	env.clock.Advance(time.Second)
	if _, err := env.src.Key(ctx, "a"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Key err = %v, want ErrUnavailable until the fetch lands", err)
	}
	eventually(t, "recovery", env.src.Ready)
	mustKey(t, env.src, "a")
}

func TestNeverLoaded(t *testing.T) {
	srv := newJWKSServer(t, nil)
	srv.fail(http.StatusServiceUnavailable)
	env := newTestSource(t, Options{JWKSURI: srv.URL})
	if env.src.Ready() {
		t.Fatal("ready before any fetch")
	}
	if err := env.src.Refresh(t.Context()); err == nil {
		t.Fatal("Refresh succeeded against a 503")
	}
	for _, kid := range []string{"", "a"} {
		if _, err := env.src.Key(t.Context(), kid); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Key(%q) err = %v, want ErrUnavailable", kid, err)
		}
	}
	st := env.src.Status()
	if st.Ready || st.KeyIDs != nil || !st.LastSuccess.IsZero() || st.LastFetch.IsZero() || st.LastError == "" {
		t.Fatalf("status = %+v", st)
	}
	if env.src.Keys() != nil {
		t.Fatal("Keys() before any load")
	}
	if got := env.logs.Count("no usable keys"); got != 1 {
		t.Fatalf("%d error logs, want 1:\n%s", got, env.logs)
	}
}

func TestKeyWithoutKid(t *testing.T) {
	tests := map[string]struct {
		keys    []map[string]any
		kid     string
		wantErr error
	}{
		"one key with kid, token without":      {keys: []map[string]any{ecJWK(t, "a", "a")}, kid: ""},
		"one key without kid, token without":   {keys: []map[string]any{ecJWK(t, "a", "")}, kid: ""},
		"one key without kid, token with kid":  {keys: []map[string]any{ecJWK(t, "a", "")}, kid: "a", wantErr: ErrUnknownKey},
		"two keys, token without":              {keys: []map[string]any{ecJWK(t, "a", "a"), ecJWK(t, "b", "b")}, kid: "", wantErr: ErrUnknownKey},
		"two keys without kid, token without":  {keys: []map[string]any{ecJWK(t, "a", ""), ecJWK(t, "b", "")}, kid: "", wantErr: ErrUnknownKey},
		"key with and key without kid, by kid": {keys: []map[string]any{ecJWK(t, "a", ""), ecJWK(t, "b", "b")}, kid: "b"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, setJSON(t, tt.keys...))
			env := newTestSource(t, Options{JWKSURI: srv.URL})
			if err := env.src.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			k, err := env.src.Key(t.Context(), tt.kid)
			if !errIs(err, tt.wantErr) {
				t.Fatalf("Key(%q) err = %v, want %v", tt.kid, err, tt.wantErr)
			}
			if err == nil && k == nil {
				t.Fatal("nil key without error")
			}
		})
	}
}

func TestBadDocumentKeepsPreviousSet(t *testing.T) {
	tests := map[string]func(*jwksServer){
		"only skipped keys": func(s *jwksServer) {
			s.set(setJSON(t, map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}))
		},
		"empty set":      func(s *jwksServer) { s.set(setJSON(t)) },
		"not JSON":       func(s *jwksServer) { s.set([]byte("<html>")) },
		"over 1 MiB":     func(s *jwksServer) { s.set(make([]byte, maxDocumentBytes+1)) },
		"404":            func(s *jwksServer) { s.fail(http.StatusNotFound) },
		"500":            func(s *jwksServer) { s.fail(http.StatusInternalServerError) },
		"unexpected 304": func(s *jwksServer) { s.fail(http.StatusNotModified) },
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
			env := newTestSource(t, Options{JWKSURI: srv.URL})
			if err := env.src.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			a := mustKey(t, env.src, "a")
			breakIt(srv)
			if err := env.src.Refresh(t.Context()); err == nil {
				t.Fatal("Refresh succeeded")
			}
			if got := mustKey(t, env.src, "a"); got != a || a.Removed() {
				t.Fatal("the previous set was not kept")
			}
			if got := testutil.ToFloat64(env.metrics.fetches.WithLabelValues("test", resultError)); got != 1 {
				t.Fatalf("error fetches = %v, want 1", got)
			}
		})
	}
}

func TestRejectedDocumentNotesAreLoggedOnce(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL})
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.set(setJSON(t, map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}))
	for range 3 {
		if err := env.src.Refresh(t.Context()); err == nil {
			t.Fatal("a set of only skipped keys was accepted")
		}
	}
	if got := env.logs.Count("jwks key skipped"); got != 1 {
		t.Fatalf("skipped key logged %d times:\n%s", got, env.logs)
	}
	if got := env.logs.Count("jwks fetch failed"); got != 3 {
		t.Fatalf("%d failure logs, want one per failed fetch", got)
	}
}

func TestSameDocumentIsNotReparsed(t *testing.T) {
	doc := setJSON(t, ecJWK(t, "a", "a"), map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0"})
	srv := newJWKSServer(t, doc)
	env := newTestSource(t, Options{JWKSURI: srv.URL})
	for range 3 {
		if err := env.src.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := env.logs.Count("jwks key skipped"); got != 1 {
		t.Fatalf("skipped key logged %d times, want once per change:\n%s", got, env.logs)
	}
	if got := testutil.ToFloat64(env.metrics.fetches.WithLabelValues("test", resultSuccess)); got != 3 {
		t.Fatalf("success fetches = %v, want 3", got)
	}
}

// Keys are read while the set keeps changing; run with -race.
func TestConcurrentReadsDuringRotation(t *testing.T) {
	docs := [][]byte{
		setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "b", "b")),
		setJSON(t, ecJWK(t, "b", "b"), ecJWK(t, "c", "c")),
	}
	srv := newJWKSServer(t, docs[0])
	env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Hour, RefreshInterval: time.Hour})
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				k, err := env.src.Key(ctx, "b")
				if err != nil || k.ID != "b" || k.Removed() {
					t.Errorf("Key(b) = %v, %v during rotation", k, err)
					return
				}
				_, _ = env.src.Key(ctx, "a")
				_ = env.src.Status()
				_ = env.src.Keys()
			}
		})
	}
	for i := range 20 {
		srv.set(docs[i%2])
		if err := env.src.Refresh(t.Context()); err != nil {
			t.Error(err)
		}
	}
	cancel()
	wg.Wait()
}
