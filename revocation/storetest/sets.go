package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// sidSet returns an entry of kind KindSIDSet holding n sessions named
// prefix-0 ... prefix-(n-1), scoped to provider ("" for every provider).
func sidSet(provider, prefix string, n int, exp int64) revocation.Entry {
	sids := make([]string, n)
	for i := range sids {
		sids[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return revocation.Entry{Kind: revocation.KindSIDSet, Provider: provider, Value: revocation.NewSetID(),
		Set: revocation.NewSIDSet(sids), ExpiresAt: exp, CreatedAt: 1_767_225_600_123}
}

// sameEntry reports whether got is want, comparing a set's content
// rather than its pointer.
func sameEntry(got, want revocation.Entry) bool {
	gs, ws := got.Set, want.Set
	got.Set, want.Set = nil, nil
	return got == want && gs.Equal(ws) && (gs == nil) == (ws == nil)
}

// testSessionSets records session sets (KindSIDSet), scoped and not, and
// reads them back with their content: Get, a merge that keeps the later
// expiry and the content, List, and DeleteExpired.
func testSessionSets(t *testing.T, s revocation.Store) {
	base := time.Now().Add(time.Hour).Truncate(time.Second).Unix()
	all := sidSet("", "all", 3, base+10)
	scoped := sidSet("idp-a", "scoped", 20_000, base+100)
	mustPut(t, s, all)
	mustPut(t, s, scoped)
	for _, want := range []revocation.Entry{all, scoped} {
		got, ok := mustGetIn(t, s, want.Kind, want.Provider, want.Value)
		if !ok || !sameEntry(got, want) {
			t.Fatalf("Get(%s %q %q) = %+v (%d sessions, found %v), want %d sessions", want.Kind, want.Provider, want.Value, got, got.Set.Len(), ok, want.Set.Len())
		}
	}
	if _, ok := mustGetIn(t, s, revocation.KindSIDSet, "idp-b", scoped.Value); ok {
		t.Fatal("Get of a scoped set under another provider found it")
	}

	// Recording the set again with a later expiry extends it; with an
	// earlier one changes nothing. Either way the content stays.
	later := all
	later.ExpiresAt, later.CreatedAt = base+20, 2
	mustPut(t, s, later)
	earlier := all
	earlier.ExpiresAt, earlier.CreatedAt = base+5, 3
	mustPut(t, s, earlier)
	if got, _ := mustGet(t, s, revocation.KindSIDSet, all.Value); !sameEntry(got, later) {
		t.Fatalf("after merges Get = %+v, want %+v", got, later)
	}

	got := listAll(t, s, time.Unix(base, 0))
	if len(got) != 2 || !sameEntry(got[0], scoped) && !sameEntry(got[1], scoped) {
		t.Fatalf("List = %d entries, want both sets with their content", len(got))
	}
	for _, e := range got {
		if e.Set.Len() == 0 {
			t.Fatalf("List gave %s %q without its content", e.Kind, e.Value)
		}
	}

	if n, err := s.DeleteExpired(t.Context(), time.Unix(base+50, 0)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if _, ok := mustGet(t, s, revocation.KindSIDSet, all.Value); ok {
		t.Fatal("expired set still found")
	}
	if got, ok := mustGetIn(t, s, revocation.KindSIDSet, "idp-a", scoped.Value); !ok || !sameEntry(got, scoped) {
		t.Fatal("unexpired set lost by DeleteExpired")
	}
}

// testSessionSetsThroughService loads session sets through a Service:
// Check denies a token whose sid is in a set that applies to its
// provider, and only those.
func testSessionSetsThroughService(t *testing.T, s revocation.Store) {
	exp := future(time.Hour)
	mustPut(t, s, sidSet("", "all", 100, exp))
	mustPut(t, s, sidSet("idp-a", "a", 1000, exp))
	svc, err := revocation.NewService(s, revocation.Options{})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	ix := svc.Index()
	if n := ix.Len(revocation.KindSIDSet); n != 2 {
		t.Fatalf("Len(sid_set) = %d, want 2", n)
	}
	if n := ix.SetSessions(); n != 1100 {
		t.Fatalf("SetSessions = %d, want 1100", n)
	}
	for _, tc := range []struct {
		name          string
		provider, sid string
		want          error
	}{
		{"unscoped set, any provider", "idp-z", "all-42", revocation.ErrRevoked},
		{"unscoped set, no provider", "", "all-99", revocation.ErrRevoked},
		{"scoped set, its provider", "idp-a", "a-999", revocation.ErrRevoked},
		{"scoped set, other provider", "idp-b", "a-999", nil},
		{"scoped set, no provider", "", "a-0", nil},
		{"not in any set", "idp-a", "a-1000", nil},
		{"no sid", "idp-a", "", nil},
	} {
		if got := ix.Check(tc.provider, "j", tc.sid, "u", 1); got != tc.want {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.want)
		}
	}
}
