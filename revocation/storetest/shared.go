package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// NewShared returns a fresh, empty shared store for one subtest. It
// registers its own cleanup.
type NewShared func(t *testing.T) revocation.Shared

// RunShared runs the Shared contract tests (pull, restore, subscribe)
// against stores made by newShared. Run covers the Store methods.
func RunShared(t *testing.T, newShared NewShared) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s revocation.Shared)
	}{
		{"PullPositions", testPullPositions},
		{"PullDetectsLostData", testPullDetectsLostData},
		{"RestoreMergesQuietly", testRestoreMergesQuietly},
		{"SubscribeDeliversPuts", testSubscribeDeliversPuts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newShared(t))
		})
	}
}

func pull(t *testing.T, s revocation.Shared, from revocation.Cursor) ([]revocation.Entry, revocation.Cursor, bool) {
	t.Helper()
	var got []revocation.Entry
	next, reset, err := s.Pull(t.Context(), from, func(e revocation.Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Pull(%+v): %v", from, err)
	}
	return got, next, reset
}

func jtis(n int, prefix string, exp int64) []revocation.Entry {
	out := make([]revocation.Entry, n)
	for i := range out {
		out[i] = revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("%s-%d", prefix, i), ExpiresAt: exp, CreatedAt: int64(i + 1)}
	}
	return out
}

func testPullPositions(t *testing.T, s revocation.Shared) {
	exp := future(time.Hour)
	first := jtis(3, "first", exp)
	for _, e := range first {
		mustPut(t, s, e)
	}
	got, c1, reset := pull(t, s, revocation.Cursor{})
	if !reset {
		t.Error("Pull from the zero cursor: reset = false, want true")
	}
	if fmt.Sprint(got) != fmt.Sprint(first) {
		t.Fatalf("Pull from zero = %+v, want %+v in write order", got, first)
	}
	if c1.Generation == "" || c1.Seq == 0 {
		t.Fatalf("cursor after a pull = %+v, want a generation and a sequence", c1)
	}

	second := jtis(2, "second", exp)
	for _, e := range second {
		mustPut(t, s, e)
	}
	// Re-putting an unchanged entry is not a write.
	mustPut(t, s, first[0])

	tests := []struct {
		name      string
		from      *revocation.Cursor
		want      []revocation.Entry
		wantReset bool
	}{
		{"since the first pull", &c1, second, false},
		{"full listing in the same generation", &revocation.Cursor{Generation: c1.Generation}, append(append([]revocation.Entry(nil), first...), second...), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, reset := pull(t, s, *tc.from)
			if reset != tc.wantReset {
				t.Errorf("reset = %v, want %v", reset, tc.wantReset)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Pull = %+v, want %+v", got, tc.want)
			}
			if next.Generation != c1.Generation || next.Seq <= c1.Seq {
				t.Fatalf("next cursor = %+v, want generation %q and sequence > %d", next, c1.Generation, c1.Seq)
			}
			if again, same, _ := pull(t, s, next); len(again) != 0 || same != next {
				t.Fatalf("Pull at the end = %+v, cursor %+v; want nothing new and cursor %+v", again, same, next)
			}
		})
	}
}

func testPullDetectsLostData(t *testing.T, s revocation.Shared) {
	all := jtis(2, "kept", future(time.Hour))
	for _, e := range all {
		mustPut(t, s, e)
	}
	_, c, _ := pull(t, s, revocation.Cursor{})
	tests := map[string]revocation.Cursor{
		"other generation":        {Generation: "another-dataset", Seq: c.Seq},
		"sequence ahead of store": {Generation: c.Generation, Seq: c.Seq + 1000},
	}
	for name, from := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, reset := pull(t, s, from)
			if !reset {
				t.Error("reset = false, want true")
			}
			if fmt.Sprint(got) != fmt.Sprint(all) {
				t.Fatalf("Pull = %+v, want everything: %+v", got, all)
			}
		})
	}
}

func testRestoreMergesQuietly(t *testing.T, s revocation.Shared) {
	exp := future(time.Hour)
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSub, Value: "u", Before: 100, ExpiresAt: exp, CreatedAt: 1})

	got := make(chan revocation.Entry, 16)
	subscribed := make(chan struct{}, 16)
	ctx := t.Context()
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, func(e revocation.Entry) { got <- e }, nil, func() { subscribed <- struct{}{} })
	}()
	t.Cleanup(func() { waitDone(t, done) })
	waitFor(t, subscribed, "subscription")

	restored := []revocation.Entry{
		{Kind: revocation.KindSub, Value: "u", Before: 50, ExpiresAt: exp + 10, CreatedAt: 2},
		{Kind: revocation.KindJTI, Value: "r1", ExpiresAt: exp, CreatedAt: 3},
		{Kind: revocation.KindSID, Value: "r2", ExpiresAt: exp, CreatedAt: 4},
	}
	if err := s.Restore(t.Context(), restored); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	want := map[string]revocation.Entry{
		"merged with the stored entry": {Kind: revocation.KindSub, Value: "u", Before: 100, ExpiresAt: exp + 10, CreatedAt: 2},
		"new jti":                      restored[1],
		"new sid":                      restored[2],
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			if e, ok := mustGet(t, s, w.Kind, w.Value); !ok || e != w {
				t.Fatalf("Get = %+v (found %v), want %+v", e, ok, w)
			}
		})
	}

	// Restored entries are not announced: the first announcement the
	// subscriber sees is the Put that follows them.
	marker := revocation.Entry{Kind: revocation.KindJTI, Value: "after-restore", ExpiresAt: exp, CreatedAt: 5}
	mustPut(t, s, marker)
	if e := waitFor(t, got, "announcement"); e != marker {
		t.Fatalf("first announcement = %+v, want %+v (restored entries must not be announced)", e, marker)
	}
}

func testSubscribeDeliversPuts(t *testing.T, s revocation.Shared) {
	got := make(chan revocation.Entry, 16)
	subscribed := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(t.Context(), func(e revocation.Entry) { got <- e }, nil, func() { subscribed <- struct{}{} })
	}()
	t.Cleanup(func() { waitDone(t, done) })
	waitFor(t, subscribed, "subscription")

	exp := future(time.Hour)
	tests := map[string]revocation.Entry{
		"jti":           {Kind: revocation.KindJTI, Value: "j:with:colons", ExpiresAt: exp, CreatedAt: 11},
		"sid":           {Kind: revocation.KindSID, Value: "s\nwith newline", ExpiresAt: exp, CreatedAt: 12},
		"sub":           {Kind: revocation.KindSub, Value: "u", Before: 77, ExpiresAt: exp, CreatedAt: 13},
		"sub, extended": {Kind: revocation.KindSub, Value: "u", Before: 78, ExpiresAt: exp, CreatedAt: 14},
		"scoped sid":    {Kind: revocation.KindSID, Provider: "idp-a", Value: "s:1@x", ExpiresAt: exp, CreatedAt: 15},
		"scoped sub":    {Kind: revocation.KindSub, Provider: "self", Value: "u", Before: 79, ExpiresAt: exp, CreatedAt: 16},
		"provider":      {Kind: revocation.KindProvider, Value: "idp-a", Before: 80, ExpiresAt: exp, CreatedAt: 17},
	}
	for _, name := range []string{"jti", "sid", "sub", "sub, extended", "scoped sid", "scoped sub", "provider"} {
		want := tests[name]
		t.Run(name, func(t *testing.T) {
			mustPut(t, s, want)
			if e := waitFor(t, got, "announcement"); e != want {
				t.Fatalf("announced %+v, want %+v", e, want)
			}
		})
	}
}

// waitFor returns the next value from ch, failing the test if none comes
// within a generous bound (this is a liveness check, not a timing one).
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		var zero T
		return zero
	}
}

// waitDone waits for Subscribe to return after the test's context ended,
// and checks that it returned nil as the contract says.
func waitDone(t *testing.T, done <-chan error) {
	t.Helper()
	if err := waitFor(t, done, "return from Subscribe after cancel"); err != nil {
		t.Errorf("Subscribe returned %v after its context ended, want nil", err)
	}
}
