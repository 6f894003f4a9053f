package replay

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// runContract checks what every Cache promises. newCache returns caches
// that share their claims (one for Memory; two clients of one server for
// Redis), so that "exactly once" is checked across them.
func runContract(t *testing.T, newCache func(t *testing.T) (a, b Cache)) {
	t.Run("first then replay", func(t *testing.T) {
		a, b := newCache(t)
		until := time.Now().Add(time.Minute)
		wantClaim(t, a, "s", "id-1", until, true)
		wantClaim(t, a, "s", "id-1", until, false)
		wantClaim(t, b, "s", "id-1", until, false)
	})
	t.Run("scopes are apart", func(t *testing.T) {
		a, _ := newCache(t)
		until := time.Now().Add(time.Minute)
		wantClaim(t, a, "dpop:corp", "x", until, true)
		wantClaim(t, a, "logout:corp", "x", until, true)
		wantClaim(t, a, "dpop:other", "x", until, true)
		// No separator ambiguity between scope and id.
		wantClaim(t, a, "ab", "c", until, true)
		wantClaim(t, a, "a", "bc", until, true)
	})
	t.Run("empty and long ids", func(t *testing.T) {
		a, _ := newCache(t)
		until := time.Now().Add(time.Minute)
		long := string(make([]byte, 64<<10))
		wantClaim(t, a, "s", "", until, true)
		wantClaim(t, a, "s", "", until, false)
		wantClaim(t, a, "s", long, until, true)
		wantClaim(t, a, "s", long, until, false)
	})
	t.Run("until in the past is an error", func(t *testing.T) {
		a, _ := newCache(t)
		first, err := a.Claim(t.Context(), "s", "old", time.Now().Add(-time.Second))
		if !errors.Is(err, ErrPast) || first {
			t.Fatalf("Claim = %v, %v; want false, ErrPast", first, err)
		}
	})
	t.Run("cancelled context is an error", func(t *testing.T) {
		a, _ := newCache(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		first, err := a.Claim(ctx, "s", "c", time.Now().Add(time.Minute))
		if err == nil || first {
			t.Fatalf("Claim = %v, %v; want an error", first, err)
		}
	})
	t.Run("racing claims: exactly one wins", func(t *testing.T) {
		a, b := newCache(t)
		until := time.Now().Add(time.Minute)
		for round := range 20 {
			id := "race-" + strconv.Itoa(round)
			const each = 8
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				wins  int
				fails []error
				start = make(chan struct{})
			)
			for i := range 2 * each {
				c := a
				if i%2 == 1 {
					c = b
				}
				wg.Go(func() {
					<-start
					first, err := c.Claim(context.Background(), "race", id, until)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						fails = append(fails, err)
					}
					if first {
						wins++
					}
				})
			}
			close(start)
			wg.Wait()
			if len(fails) > 0 || wins != 1 {
				t.Fatalf("round %d: %d winners, errors %v; want exactly one winner", round, wins, fails)
			}
		}
	})
}

func wantClaim(t *testing.T, c Cache, scope, id string, until time.Time, want bool) {
	t.Helper()
	first, err := c.Claim(t.Context(), scope, id, until)
	if err != nil {
		t.Fatalf("Claim(%q, %.20q): %v", scope, id, err)
	}
	if first != want {
		t.Fatalf("Claim(%q, %.20q) first = %v, want %v", scope, id, first, want)
	}
}
