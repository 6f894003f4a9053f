package revocation

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

func TestIndexCheck(t *testing.T) {
	ix := newIndex()
	exp := time.Now().Add(time.Hour).Unix()
	for _, e := range []Entry{
		{Kind: KindJTI, Value: "revoked-jti", ExpiresAt: exp},
		{Kind: KindSID, Value: "revoked-sid", ExpiresAt: exp},
		{Kind: KindSub, Value: "cut-sub", Before: 1000, ExpiresAt: exp},
		// The same identifier under another kind must not leak across.
		{Kind: KindJTI, Value: "only-a-jti", ExpiresAt: exp},
	} {
		ix.add(e)
	}
	tests := map[string]struct {
		jti, sid, sub string
		iat           int64
		want          error
	}{
		"nothing to look up":      {want: nil},
		"unrelated token":         {jti: "j", sid: "s", sub: "u", iat: 1, want: nil},
		"revoked jti":             {jti: "revoked-jti", want: ErrRevoked},
		"revoked sid":             {jti: "fresh", sid: "revoked-sid", want: ErrRevoked},
		"sub issued before cut":   {sub: "cut-sub", iat: 999, want: ErrRevoked},
		"sub issued at cut":       {sub: "cut-sub", iat: 1000, want: ErrRevoked},
		"sub issued after cut":    {sub: "cut-sub", iat: 1001, want: nil},
		"sub without iat":         {sub: "cut-sub", iat: 0, want: ErrRevoked},
		"jti value used as sid":   {sid: "only-a-jti", want: nil},
		"jti value used as sub":   {sub: "only-a-jti", iat: 1, want: nil},
		"revoked sid, fresh rest": {jti: "a", sid: "revoked-sid", sub: "b", iat: 5, want: ErrRevoked},
		"prefix of a revoked jti": {jti: "revoked", want: nil},
		"revoked jti plus a byte": {jti: "revoked-jti!", want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ix.Check("", tc.jti, tc.sid, tc.sub, tc.iat); got != tc.want {
				t.Fatalf("Check(%q, %q, %q, %d) = %v, want %v", tc.jti, tc.sid, tc.sub, tc.iat, got, tc.want)
			}
		})
	}

	t.Run("unavailable fails closed", func(t *testing.T) {
		ix.setUnavailable(true)
		defer ix.setUnavailable(false)
		if got := ix.Check("", "unrelated", "", "", 0); got != ErrUnavailable {
			t.Fatalf("Check = %v, want ErrUnavailable", got)
		}
	})
	t.Run("nil index fails closed", func(t *testing.T) {
		var nilIndex *Index
		if got := nilIndex.Check("", "j", "", "", 0); got != ErrUnavailable {
			t.Fatalf("Check on nil = %v, want ErrUnavailable", got)
		}
	})
}

func TestIndexAddMerges(t *testing.T) {
	ix := newIndex()
	steps := []struct {
		e       Entry
		want    Entry
		changed bool
	}{
		{Entry{Kind: KindSub, Value: "u", Before: 10, ExpiresAt: 100}, Entry{Kind: KindSub, Value: "u", Before: 10, ExpiresAt: 100}, true},
		{Entry{Kind: KindSub, Value: "u", Before: 5, ExpiresAt: 200}, Entry{Kind: KindSub, Value: "u", Before: 10, ExpiresAt: 200}, true},
		{Entry{Kind: KindSub, Value: "u", Before: 20, ExpiresAt: 50}, Entry{Kind: KindSub, Value: "u", Before: 20, ExpiresAt: 200}, true},
		{Entry{Kind: KindSub, Value: "u", Before: 20, ExpiresAt: 200}, Entry{Kind: KindSub, Value: "u", Before: 20, ExpiresAt: 200}, false},
		{Entry{Kind: KindJTI, Value: "j", ExpiresAt: 100}, Entry{Kind: KindJTI, Value: "j", ExpiresAt: 100}, true},
		{Entry{Kind: KindJTI, Value: "j", ExpiresAt: 90}, Entry{Kind: KindJTI, Value: "j", ExpiresAt: 100}, false},
		{Entry{Kind: KindJTI, Value: "j", ExpiresAt: 110}, Entry{Kind: KindJTI, Value: "j", ExpiresAt: 110}, true},
	}
	for i, st := range steps {
		got, changed := ix.add(st.e)
		if got != st.want || changed != st.changed {
			t.Fatalf("step %d: add(%+v) = %+v, %v; want %+v, %v", i, st.e, got, changed, st.want, st.changed)
		}
		if !ix.current(st.want) {
			t.Fatalf("step %d: current(%+v) = false after add", i, st.want)
		}
	}
	if ix.Len(KindSub) != 1 || ix.Len(KindJTI) != 1 || ix.Len(KindSID) != 0 {
		t.Fatalf("Len = %d/%d/%d, want 1/1/0", ix.Len(KindJTI), ix.Len(KindSID), ix.Len(KindSub))
	}
}

func TestIndexSweep(t *testing.T) {
	ix := newIndex()
	base := time.Unix(1_000_000, 0)
	ix.add(Entry{Kind: KindJTI, Value: "old", ExpiresAt: base.Unix()})
	ix.add(Entry{Kind: KindSID, Value: "old", ExpiresAt: base.Unix() - 1})
	ix.add(Entry{Kind: KindSub, Value: "old", Before: 1, ExpiresAt: base.Unix()})
	ix.add(Entry{Kind: KindJTI, Value: "new", ExpiresAt: base.Unix() + 1})
	if n := ix.sweep(base); n != 3 {
		t.Fatalf("sweep removed %d, want 3", n)
	}
	tests := map[string]struct {
		jti, sid, sub string
		want          error
	}{
		"expired jti gone": {jti: "old", want: nil},
		"expired sid gone": {sid: "old", want: nil},
		"expired sub gone": {sub: "old", want: nil},
		"live jti stays":   {jti: "new", want: ErrRevoked},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ix.Check("", tc.jti, tc.sid, tc.sub, 0); got != tc.want {
				t.Fatalf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIndexCheckDoesNotAllocate(t *testing.T) {
	ix := newIndex()
	exp := time.Now().Add(time.Hour).Unix()
	ix.add(Entry{Kind: KindJTI, Value: "revoked", ExpiresAt: exp})
	ix.add(Entry{Kind: KindSID, Value: "sid", ExpiresAt: exp})
	ix.add(Entry{Kind: KindSub, Value: "sub", Before: 10, ExpiresAt: exp})
	tests := map[string][3]string{
		"miss": {"fresh", "other", "someone"},
		"hit":  {"revoked", "", ""},
	}
	check := func(t *testing.T) {
		for name, args := range tests {
			t.Run(name, func(t *testing.T) {
				if n := testing.AllocsPerRun(1000, func() { _ = ix.Check("corp", args[0], args[1], args[2], 5) }); n != 0 {
					t.Fatalf("Check allocates %.1f times per call, want 0", n)
				}
			})
		}
	}
	t.Run("unscoped only", check)
	ix.add(Entry{Kind: KindSID, Provider: "corp", Value: "sid", ExpiresAt: exp})
	ix.add(Entry{Kind: KindSub, Provider: "corp", Value: "sub", Before: 1, ExpiresAt: exp})
	ix.add(Entry{Kind: KindProvider, Value: "corp", Before: 1, ExpiresAt: exp})
	t.Run("with scoped entries", check)
}

func TestIndexCheckScoped(t *testing.T) {
	ix := newIndex()
	exp := time.Now().Add(time.Hour).Unix()
	for _, e := range []Entry{
		{Kind: KindSID, Provider: "idp-a", Value: "s1", ExpiresAt: exp},
		{Kind: KindSub, Provider: "idp-a", Value: "u1", Before: 1000, ExpiresAt: exp},
		{Kind: KindSub, Value: "u2", Before: 500, ExpiresAt: exp},
		{Kind: KindProvider, Value: "idp-b", Before: 2000, ExpiresAt: exp},
		// A scoped pair must not collide with another split of the same
		// bytes.
		{Kind: KindSID, Provider: "ab", Value: "c", ExpiresAt: exp},
	} {
		if _, ok := ix.add(e); !ok {
			t.Fatalf("add(%+v): not added", e)
		}
	}
	tests := map[string]struct {
		provider, jti, sid, sub string
		iat                     int64
		want                    error
	}{
		"scoped sid":                   {provider: "idp-a", sid: "s1", want: ErrRevoked},
		"scoped sid, other provider":   {provider: "idp-c", sid: "s1", want: nil},
		"scoped sid, no provider":      {sid: "s1", want: nil},
		"scoped sid as sub":            {provider: "idp-a", sub: "s1", want: nil},
		"scoped sub before cut":        {provider: "idp-a", sub: "u1", iat: 1000, want: ErrRevoked},
		"scoped sub after cut":         {provider: "idp-a", sub: "u1", iat: 1001, want: nil},
		"scoped sub, other provider":   {provider: "idp-b2", sub: "u1", iat: 1, want: nil},
		"unscoped sub, any provider":   {provider: "idp-c", sub: "u2", iat: 500, want: ErrRevoked},
		"provider cut, at":             {provider: "idp-b", jti: "j", iat: 2000, want: ErrRevoked},
		"provider cut, after":          {provider: "idp-b", jti: "j", iat: 2001, want: nil},
		"provider cut, no iat":         {provider: "idp-b", want: ErrRevoked},
		"provider cut, other provider": {provider: "idp-a", iat: 1, want: nil},
		"provider name as sub":         {provider: "idp-a", sub: "idp-b", iat: 1, want: nil},
		"other split of scoped bytes":  {provider: "a", sid: "bc", want: nil},
		"scoped pair itself":           {provider: "ab", sid: "c", want: ErrRevoked},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ix.Check(tc.provider, tc.jti, tc.sid, tc.sub, tc.iat); got != tc.want {
				t.Fatalf("Check(%q, %q, %q, %q, %d) = %v, want %v", tc.provider, tc.jti, tc.sid, tc.sub, tc.iat, got, tc.want)
			}
		})
	}
	if ix.Len(KindSID) != 2 || ix.Len(KindSub) != 2 || ix.Len(KindProvider) != 1 {
		t.Fatalf("Len sid/sub/provider = %d/%d/%d, want 2/2/1", ix.Len(KindSID), ix.Len(KindSub), ix.Len(KindProvider))
	}
	if n := ix.sweep(time.Unix(exp, 0)); n != 5 {
		t.Fatalf("sweep removed %d, want 5", n)
	}
	if got := ix.Check("idp-b", "", "", "", 0); got != nil {
		t.Fatalf("Check after sweep = %v, want nil", got)
	}
}

// TestTableNoFalseNegatives hammers one table with writers, readers, sweeps
// and filter rebuilds at once: a key whose put returned must always be
// found until it is swept, whichever filter the reader sees.
func TestTableNoFalseNegatives(t *testing.T) {
	var tb table[expiry]
	tb.init()
	const writers, perWriter = 4, 6000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, writers)
	rebuilds := 0
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				if tb.maintain() {
					rebuilds++
				}
				runtime.Gosched()
			}
		}
	})
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 99))
			mine := make([]uint64, 0, perWriter)
			for i := range perWriter {
				h := r.Uint64()
				// Half the keys expire at once, so sweeps shrink the table
				// and trigger shrinking rebuilds too.
				exp := expiry(2)
				if i%2 == 0 {
					exp = 1
				}
				tb.put(h, exp)
				// Keys expiring at 1 may be swept by another writer at any
				// moment; the others must be found.
				if _, ok := tb.get(h); !ok && exp == 2 {
					errs <- errors.New("key not found right after put")
					return
				}
				mine = append(mine, h)
				if i%500 == 0 {
					tb.sweep(1)
				}
			}
			for i, h := range mine {
				if i%2 == 1 {
					if _, ok := tb.get(h); !ok {
						errs <- errors.New("unexpired key lost")
						return
					}
				}
			}
		})
	}
	writersWG.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if rebuilds == 0 {
		t.Fatal("the filter was never rebuilt; the test did not exercise the race it is about")
	}
	t.Logf("%d filter rebuilds during the run", rebuilds)
}

func TestFilterFalsePositiveRate(t *testing.T) {
	const n = 100_000
	f := newFilter(n)
	r := rand.New(rand.NewPCG(7, 8))
	for range n {
		f.add(r.Uint64())
	}
	fp := 0
	const probes = 200_000
	for range probes {
		if f.mayContain(r.Uint64()) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("filter at capacity (%d bits/entry): %.3f%% false positives", filterBits, rate*100)
	if rate > 0.02 {
		t.Fatalf("false-positive rate %.3f%% at capacity, want under 2%%", rate*100)
	}
}

// TestIndexHeapPerEntry measures the heap a million revoked jtis take: in
// the index alone (every store) and with the write-back ledger that a
// replica of a shared store keeps as well.
func TestIndexHeapPerEntry(t *testing.T) {
	if testkit.RaceEnabled || testing.Short() {
		t.Skip("memory figures need a normal build (no -race, no -short)")
	}
	const n = 1_000_000
	const budget = 100.0 // bytes per entry
	jtis := uuidLike(rand.New(rand.NewPCG(1, 2)), n)
	exp := time.Now().Add(time.Hour).Unix()
	created := time.Now().UnixMilli()

	before := heapInUse()
	ix := newIndex()
	for _, j := range jtis {
		ix.add(Entry{Kind: KindJTI, Value: j, ExpiresAt: exp})
	}
	ix.maintain()
	afterIndex := heapInUse()
	l := &ledger{}
	for _, j := range jtis {
		l.add(Entry{Kind: KindJTI, Value: j, ExpiresAt: exp, CreatedAt: created})
	}
	afterLedger := heapInUse()
	runtime.KeepAlive(ix)
	runtime.KeepAlive(l)
	runtime.KeepAlive(jtis)

	perIndex := float64(afterIndex-before) / n
	perShared := float64(afterLedger-before) / n
	t.Logf("heap per revoked jti at %d entries: index %.1f B, index + write-back ledger (shared store) %.1f B",
		n, perIndex, perShared)
	if perIndex > budget || perShared > budget {
		t.Fatalf("heap per entry %.1f B (index) / %.1f B (shared), budget %.0f B", perIndex, perShared, budget)
	}
}
