package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// NewStore returns a fresh, empty store for one subtest. It registers its
// own cleanup.
type NewStore func(t *testing.T) revocation.Store

// Run runs the Store contract tests against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s revocation.Store)
	}{
		{"PutGet", testPutGet},
		{"GetMissing", testGetMissing},
		{"Merge", testMerge},
		{"OddValues", testOddValues},
		{"ListUnexpired", testListUnexpired},
		{"ListStopsOnError", testListStopsOnError},
		{"DeleteExpired", testDeleteExpired},
		{"ConcurrentPuts", testConcurrentPuts},
		{"CanceledContext", testCanceledContext},
		{"SubCutOffInclusive", testSubCutOffInclusive},
		{"ScopedEntries", testScopedEntries},
		{"ScopedMerge", testScopedMerge},
		{"ScopedThroughService", testScopedThroughService},
		{"SessionSets", testSessionSets},
		{"SessionSetsThroughService", testSessionSetsThroughService},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// future returns a unix time d from now; stores with real TTLs (Redis)
// need expiries that have not passed yet.
func future(d time.Duration) int64 { return time.Now().Add(d).Unix() }

func mustPut(t *testing.T, s revocation.Store, e revocation.Entry) {
	t.Helper()
	if err := s.Put(t.Context(), e); err != nil {
		t.Fatalf("Put(%s %q): %v", e.Kind, e.Value, err)
	}
}

func mustGet(t *testing.T, s revocation.Store, kind revocation.Kind, value string) (revocation.Entry, bool) {
	t.Helper()
	return mustGetIn(t, s, kind, "", value)
}

// mustGetIn is mustGet for an entry scoped to provider.
func mustGetIn(t *testing.T, s revocation.Store, kind revocation.Kind, provider, value string) (revocation.Entry, bool) {
	t.Helper()
	e, ok, err := s.Get(t.Context(), kind, provider, value)
	if err != nil {
		t.Fatalf("Get(%s %q %q): %v", kind, provider, value, err)
	}
	return e, ok
}

func listAll(t *testing.T, s revocation.Store, now time.Time) []revocation.Entry {
	t.Helper()
	var out []revocation.Entry
	if err := s.List(t.Context(), now, func(e revocation.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	sortEntries(out)
	return out
}

func sortEntries(es []revocation.Entry) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Kind != es[j].Kind {
			return es[i].Kind < es[j].Kind
		}
		if es[i].Provider != es[j].Provider {
			return es[i].Provider < es[j].Provider
		}
		return es[i].Value < es[j].Value
	})
}

func testPutGet(t *testing.T, s revocation.Store) {
	exp := future(time.Hour)
	tests := map[string]revocation.Entry{
		"jti":        {Kind: revocation.KindJTI, Value: "7f1c2a9e-5d1b-4c8e-9a6f-0b3e2d1c4a5b", ExpiresAt: exp, CreatedAt: 1_767_225_600_123},
		"sid":        {Kind: revocation.KindSID, Value: "session-42", ExpiresAt: exp + 10, CreatedAt: 1_767_225_600_456},
		"sub":        {Kind: revocation.KindSub, Value: "user@example.com", Before: 1_767_225_000, ExpiresAt: exp + 20, CreatedAt: 1_767_225_600_789},
		"scoped sid": {Kind: revocation.KindSID, Provider: "corp", Value: "session-42", ExpiresAt: exp + 30, CreatedAt: 1_767_225_600_901},
		"scoped sub": {Kind: revocation.KindSub, Provider: "self", Value: "user@example.com", Before: 1_767_225_001, ExpiresAt: exp + 40, CreatedAt: 1_767_225_600_902},
		"provider":   {Kind: revocation.KindProvider, Value: "corp", Before: 1_767_225_002, ExpiresAt: exp + 50, CreatedAt: 1_767_225_600_903},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			mustPut(t, s, want)
			got, ok := mustGetIn(t, s, want.Kind, want.Provider, want.Value)
			if !ok {
				t.Fatal("Get after Put: not found")
			}
			if got != want {
				t.Fatalf("Get = %+v, want %+v", got, want)
			}
		})
	}
}

func testGetMissing(t *testing.T, s revocation.Store) {
	mustPut(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: "shared-value", ExpiresAt: future(time.Hour)})
	tests := map[string]struct {
		kind  revocation.Kind
		value string
	}{
		"never stored":           {revocation.KindJTI, "absent"},
		"same value, other kind": {revocation.KindSID, "shared-value"},
		"prefix of stored value": {revocation.KindJTI, "shared"},
		"stored value plus more": {revocation.KindJTI, "shared-value-2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if e, ok := mustGet(t, s, tc.kind, tc.value); ok {
				t.Fatalf("Get(%s %q) = %+v, want not found", tc.kind, tc.value, e)
			}
		})
	}
}

func testMerge(t *testing.T, s revocation.Store) {
	exp := future(time.Hour)
	tests := map[string]struct {
		puts []revocation.Entry
		want revocation.Entry
	}{
		"same entry twice is a no-op": {
			puts: []revocation.Entry{
				{Kind: revocation.KindJTI, Value: "a", ExpiresAt: exp, CreatedAt: 1},
				{Kind: revocation.KindJTI, Value: "a", ExpiresAt: exp, CreatedAt: 2},
			},
			want: revocation.Entry{Kind: revocation.KindJTI, Value: "a", ExpiresAt: exp, CreatedAt: 1},
		},
		"later expiry wins": {
			puts: []revocation.Entry{
				{Kind: revocation.KindSID, Value: "b", ExpiresAt: exp, CreatedAt: 1},
				{Kind: revocation.KindSID, Value: "b", ExpiresAt: exp + 60, CreatedAt: 2},
			},
			want: revocation.Entry{Kind: revocation.KindSID, Value: "b", ExpiresAt: exp + 60, CreatedAt: 2},
		},
		"earlier expiry does not shorten": {
			puts: []revocation.Entry{
				{Kind: revocation.KindJTI, Value: "c", ExpiresAt: exp + 60, CreatedAt: 1},
				{Kind: revocation.KindJTI, Value: "c", ExpiresAt: exp, CreatedAt: 2},
			},
			want: revocation.Entry{Kind: revocation.KindJTI, Value: "c", ExpiresAt: exp + 60, CreatedAt: 1},
		},
		"later cut-off wins, expiry kept": {
			puts: []revocation.Entry{
				{Kind: revocation.KindSub, Value: "d", Before: 100, ExpiresAt: exp + 60, CreatedAt: 1},
				{Kind: revocation.KindSub, Value: "d", Before: 200, ExpiresAt: exp, CreatedAt: 2},
			},
			want: revocation.Entry{Kind: revocation.KindSub, Value: "d", Before: 200, ExpiresAt: exp + 60, CreatedAt: 2},
		},
		"earlier cut-off does not narrow": {
			puts: []revocation.Entry{
				{Kind: revocation.KindSub, Value: "e", Before: 200, ExpiresAt: exp, CreatedAt: 1},
				{Kind: revocation.KindSub, Value: "e", Before: 100, ExpiresAt: exp, CreatedAt: 2},
			},
			want: revocation.Entry{Kind: revocation.KindSub, Value: "e", Before: 200, ExpiresAt: exp, CreatedAt: 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, e := range tc.puts {
				mustPut(t, s, e)
			}
			got, ok := mustGet(t, s, tc.want.Kind, tc.want.Value)
			if !ok || got != tc.want {
				t.Fatalf("Get = %+v (found %v), want %+v", got, ok, tc.want)
			}
		})
	}
}

func testOddValues(t *testing.T, s revocation.Store) {
	exp := future(time.Hour)
	tests := map[string]string{
		"colons":         "a:b:c:1:2:3",
		"newline":        "line1\nline2",
		"nul byte":       "a\x00b",
		"glob chars":     "*?[]{}\\",
		"unicode":        "Łódź-東京-🔑",
		"spaces":         " padded ",
		"longest":        strings.Repeat("x", revocation.MaxValueBytes),
		"looks numeric":  "12345",
		"kind-like text": "sub:jti",
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			for _, want := range oddEntries(v, exp) {
				mustPut(t, s, want)
				if got, ok := mustGetIn(t, s, want.Kind, want.Provider, want.Value); !ok || got != want {
					t.Fatalf("Get(%s %q %q) = %+v (found %v), want %+v", want.Kind, want.Provider, v, got, ok, want)
				}
			}
		})
	}
	got := listAll(t, s, time.Now())
	if want := len(tests) * len(oddEntries("x", exp)); len(got) != want {
		t.Fatalf("List returned %d entries, want %d", len(got), want)
	}
}

// oddEntries are the entries of every kind, scoped and not, that can hold
// identifier v (a provider entry's value is a provider name, which is
// never odd).
func oddEntries(v string, exp int64) []revocation.Entry {
	return []revocation.Entry{
		{Kind: revocation.KindJTI, Value: v, ExpiresAt: exp, CreatedAt: 7},
		{Kind: revocation.KindSID, Value: v, ExpiresAt: exp, CreatedAt: 7},
		{Kind: revocation.KindSub, Value: v, Before: 99, ExpiresAt: exp, CreatedAt: 7},
		{Kind: revocation.KindSID, Provider: "p-1", Value: v, ExpiresAt: exp, CreatedAt: 7},
		{Kind: revocation.KindSub, Provider: "p-1", Value: v, Before: 98, ExpiresAt: exp, CreatedAt: 7},
	}
}

func testListUnexpired(t *testing.T, s revocation.Store) {
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	entries := []revocation.Entry{
		{Kind: revocation.KindJTI, Value: "exp-10", ExpiresAt: base.Unix() + 10},
		{Kind: revocation.KindJTI, Value: "exp-20", ExpiresAt: base.Unix() + 20},
		{Kind: revocation.KindSID, Value: "exp-30", ExpiresAt: base.Unix() + 30},
		{Kind: revocation.KindSub, Value: "exp-40", Before: 5, ExpiresAt: base.Unix() + 40},
	}
	for _, e := range entries {
		mustPut(t, s, e)
	}
	tests := map[string]struct {
		now  time.Time
		want []revocation.Entry
	}{
		"before all expire": {base, entries},
		"at an expiry":      {base.Add(10 * time.Second), entries[1:]},
		"between expiries":  {base.Add(25 * time.Second), entries[2:]},
		"after all expire":  {base.Add(time.Minute), nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			want := append([]revocation.Entry(nil), tc.want...)
			sortEntries(want)
			got := listAll(t, s, tc.now)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("List(now=%d) = %+v, want %+v", tc.now.Unix(), got, want)
			}
		})
	}
}

func testListStopsOnError(t *testing.T, s revocation.Store) {
	for i := range 5 {
		mustPut(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprint("j", i), ExpiresAt: future(time.Hour)})
	}
	stop := errors.New("stop here")
	calls := 0
	err := s.List(t.Context(), time.Now(), func(revocation.Entry) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List error = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Fatalf("callback called %d times after returning an error, want 1", calls)
	}
}

func testDeleteExpired(t *testing.T, s revocation.Store) {
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	mustPut(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: "old", ExpiresAt: base.Unix() + 10})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSub, Value: "old", Before: 1, ExpiresAt: base.Unix() + 10})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: "extended", ExpiresAt: base.Unix() + 10})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: "extended", ExpiresAt: base.Unix() + 100})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSID, Value: "young", ExpiresAt: base.Unix() + 100})

	n, err := s.DeleteExpired(t.Context(), base.Add(50*time.Second))
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != 2 {
		t.Fatalf("DeleteExpired removed %d, want 2", n)
	}
	tests := map[string]struct {
		kind  revocation.Kind
		value string
		found bool
	}{
		"expired jti":        {revocation.KindJTI, "old", false},
		"expired sub":        {revocation.KindSub, "old", false},
		"extended by re-put": {revocation.KindJTI, "extended", true},
		"not yet expired":    {revocation.KindSID, "young", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, ok := mustGet(t, s, tc.kind, tc.value); ok != tc.found {
				t.Fatalf("Get(%s %q) found = %v, want %v", tc.kind, tc.value, ok, tc.found)
			}
		})
	}
	if got := listAll(t, s, base); len(got) != 2 {
		t.Fatalf("List after DeleteExpired = %+v, want the 2 unexpired entries", got)
	}
	if n, err := s.DeleteExpired(t.Context(), base.Add(50*time.Second)); err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func testConcurrentPuts(t *testing.T, s revocation.Store) {
	const workers, each = 8, 25
	exp := future(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("w%d-%d", w, i), ExpiresAt: exp}
				if err := s.Put(t.Context(), e); err != nil {
					errs <- err
				}
				// Everyone also writes the same key, to exercise merging under contention.
				shared := revocation.Entry{Kind: revocation.KindSID, Value: "contended", ExpiresAt: exp + int64(w)}
				if err := s.Put(t.Context(), shared); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	if got := listAll(t, s, time.Now()); len(got) != workers*each+1 {
		t.Fatalf("List returned %d entries, want %d", len(got), workers*each+1)
	}
	if e, ok := mustGet(t, s, revocation.KindSID, "contended"); !ok || e.ExpiresAt != exp+workers-1 {
		t.Fatalf("contended entry = %+v (found %v), want expiry %d", e, ok, exp+workers-1)
	}
}

func testCanceledContext(t *testing.T, s revocation.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := revocation.Entry{Kind: revocation.KindJTI, Value: "never", ExpiresAt: future(time.Hour)}
	if err := s.Put(ctx, e); err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	if _, ok := mustGet(t, s, e.Kind, e.Value); ok {
		t.Fatal("Put with a canceled context stored the entry")
	}
}

// testSubCutOffInclusive stores a subject cut-off and loads it back
// through a Service: the cut-off second itself is revoked (iat <= before),
// the next second is not, whatever the store's encoding.
func testSubCutOffInclusive(t *testing.T, s revocation.Store) {
	before := time.Now().Unix()
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSub, Value: "same-second", Before: before, ExpiresAt: future(time.Hour), CreatedAt: 1})
	svc, err := revocation.NewService(s, revocation.Options{})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	for _, tc := range []struct {
		iat  int64
		want error
	}{
		{before - 1, revocation.ErrRevoked},
		{before, revocation.ErrRevoked},
		{before + 1, nil},
	} {
		if got := svc.Index().Check("", "", "", "same-second", tc.iat); got != tc.want {
			t.Errorf("Check(iat = before%+d) = %v, want %v", tc.iat-before, got, tc.want)
		}
	}
}

// testScopedEntries stores the same identifier unscoped and scoped to two
// providers: each is its own entry, found only under its own provider, and
// a provider entry is not a sid or sub of that name.
func testScopedEntries(t *testing.T, s revocation.Store) {
	exp := future(time.Hour)
	entries := []revocation.Entry{
		{Kind: revocation.KindSID, Value: "s1", ExpiresAt: exp + 1, CreatedAt: 1},
		{Kind: revocation.KindSID, Provider: "idp-a", Value: "s1", ExpiresAt: exp + 2, CreatedAt: 2},
		{Kind: revocation.KindSID, Provider: "idp-b", Value: "s1", ExpiresAt: exp + 3, CreatedAt: 3},
		{Kind: revocation.KindSub, Provider: "idp-a", Value: "idp-b", Before: 10, ExpiresAt: exp + 4, CreatedAt: 4},
		{Kind: revocation.KindProvider, Value: "idp-a", Before: 20, ExpiresAt: exp + 5, CreatedAt: 5},
	}
	for _, e := range entries {
		mustPut(t, s, e)
	}
	for _, want := range entries {
		if got, ok := mustGetIn(t, s, want.Kind, want.Provider, want.Value); !ok || got != want {
			t.Errorf("Get(%s %q %q) = %+v (found %v), want %+v", want.Kind, want.Provider, want.Value, got, ok, want)
		}
	}
	for name, q := range map[string]struct {
		kind            revocation.Kind
		provider, value string
	}{
		"other provider":          {revocation.KindSID, "idp-c", "s1"},
		"scoped sub, unscoped":    {revocation.KindSub, "", "idp-b"},
		"provider name as sid":    {revocation.KindSID, "", "idp-a"},
		"provider name as sub":    {revocation.KindSub, "idp-a", "idp-a"},
		"provider and value swap": {revocation.KindSub, "idp-b", "idp-a"},
	} {
		if e, ok := mustGetIn(t, s, q.kind, q.provider, q.value); ok {
			t.Errorf("%s: Get(%s %q %q) = %+v, want not found", name, q.kind, q.provider, q.value, e)
		}
	}
	want := append([]revocation.Entry(nil), entries...)
	sortEntries(want)
	got := listAll(t, s, time.Now())
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List = %+v, want %+v", got, want)
	}
}

// testScopedMerge merges scoped and provider entries like unscoped ones,
// and never across providers.
func testScopedMerge(t *testing.T, s revocation.Store) {
	exp := future(time.Hour)
	mustPut(t, s, revocation.Entry{Kind: revocation.KindProvider, Value: "idp-a", Before: 200, ExpiresAt: exp, CreatedAt: 1})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindProvider, Value: "idp-a", Before: 100, ExpiresAt: exp + 60, CreatedAt: 2})
	if got, _ := mustGetIn(t, s, revocation.KindProvider, "", "idp-a"); got.Before != 200 || got.ExpiresAt != exp+60 {
		t.Errorf("merged provider entry = %+v, want before 200 and expiry +60", got)
	}
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSub, Provider: "idp-a", Value: "u", Before: 100, ExpiresAt: exp, CreatedAt: 1})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSub, Provider: "idp-b", Value: "u", Before: 300, ExpiresAt: exp, CreatedAt: 2})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSub, Provider: "idp-a", Value: "u", Before: 150, ExpiresAt: exp, CreatedAt: 3})
	if got, _ := mustGetIn(t, s, revocation.KindSub, "idp-a", "u"); got.Before != 150 || got.CreatedAt != 3 {
		t.Errorf("merged scoped sub = %+v, want before 150 from the third put", got)
	}
	if got, _ := mustGetIn(t, s, revocation.KindSub, "idp-b", "u"); got.Before != 300 {
		t.Errorf("other provider's sub = %+v, want before 300, untouched", got)
	}
}

// testScopedThroughService loads scoped and provider entries through a
// Service: each revokes its provider's tokens only, and a provider cut-off
// is inclusive.
func testScopedThroughService(t *testing.T, s revocation.Store) {
	before := time.Now().Unix()
	exp := future(time.Hour)
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSID, Provider: "idp-a", Value: "s1", ExpiresAt: exp, CreatedAt: 1})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindSub, Provider: "idp-a", Value: "u1", Before: before, ExpiresAt: exp, CreatedAt: 1})
	mustPut(t, s, revocation.Entry{Kind: revocation.KindProvider, Value: "idp-b", Before: before, ExpiresAt: exp, CreatedAt: 1})
	svc, err := revocation.NewService(s, revocation.Options{})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	ix := svc.Index()
	for _, tc := range []struct {
		name                    string
		provider, jti, sid, sub string
		iat                     int64
		want                    error
	}{
		{"scoped sid, its provider", "idp-a", "j", "s1", "", before + 5, revocation.ErrRevoked},
		{"scoped sid, other provider", "idp-c", "j", "s1", "", before + 5, nil},
		{"scoped sid, no provider", "", "j", "s1", "", before + 5, nil},
		{"scoped sub at cut-off", "idp-a", "j", "", "u1", before, revocation.ErrRevoked},
		{"scoped sub after cut-off", "idp-a", "j", "", "u1", before + 1, nil},
		{"scoped sub, other provider", "idp-b2", "j", "", "u1", before, nil},
		{"provider at cut-off", "idp-b", "j", "x", "y", before, revocation.ErrRevoked},
		{"provider after cut-off", "idp-b", "j", "x", "y", before + 1, nil},
		{"provider without iat", "idp-b", "", "", "", 0, revocation.ErrRevoked},
		{"other provider", "idp-a", "j", "x", "y", 0, nil},
	} {
		if got := ix.Check(tc.provider, tc.jti, tc.sid, tc.sub, tc.iat); got != tc.want {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.want)
		}
	}
}
