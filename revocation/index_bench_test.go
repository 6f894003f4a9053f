package revocation

import (
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// probeSet returns n random 36-byte identifiers cut from one contiguous
// string, so that reading them in order costs what reading a jti just
// parsed from a token costs (it is in cache), and the benchmark measures
// the index rather than the test's memory layout.
func probeSet(seed uint64, n int) []string {
	ids := uuidLike(rand.New(rand.NewPCG(seed, seed+1)), n)
	all := strings.Join(ids, "")
	for i := range ids {
		ids[i] = all[i*36 : (i+1)*36]
	}
	return ids
}

// uuidLike returns n distinct 36-byte identifiers, the usual shape of a jti.
func uuidLike(r *rand.Rand, n int) []string {
	out := make([]string, n)
	var b [16]byte
	for i := range out {
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		h := hex.EncodeToString(b[:])
		out[i] = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}
	return out
}

// fillJTIs adds n random jtis to ix and returns them.
func fillJTIs(tb testing.TB, ix *Index, n int, exp int64) []string {
	tb.Helper()
	jtis := uuidLike(rand.New(rand.NewPCG(1, 2)), n)
	for _, j := range jtis {
		if _, ok := ix.add(Entry{Kind: KindJTI, Value: j, ExpiresAt: exp}); !ok {
			tb.Fatalf("add %s: not added", j)
		}
	}
	ix.maintain()
	return jtis
}

// BenchmarkIndexCheckMiss1M measures the common case on the Check path: a
// token that is not revoked, looked up among a million revoked jtis. The
// probe identifiers are random, so most lookups miss the CPU caches like
// real traffic does.
func BenchmarkIndexCheckMiss1M(b *testing.B) {
	ix := newIndex()
	fillJTIs(b, ix, 1_000_000, time.Now().Add(time.Hour).Unix())
	benchMisses(b, func(p string) error { return ix.Check("corp", p, "", "", 0) })
}

// BenchmarkIndexCheckMissAllKinds1M is the miss path with a jti, a sid and
// a sub to look up, each unscoped kind holding entries and no entry scoped
// to a provider: the provider costs nothing then.
func BenchmarkIndexCheckMissAllKinds1M(b *testing.B) {
	ix := newIndex()
	exp := time.Now().Add(time.Hour).Unix()
	fillJTIs(b, ix, 1_000_000, exp)
	for i, v := range uuidLike(rand.New(rand.NewPCG(5, 6)), 10_000) {
		ix.add(Entry{Kind: KindSID, Value: v, ExpiresAt: exp})
		if i%10 == 0 {
			ix.add(Entry{Kind: KindSub, Value: v, Before: 100, ExpiresAt: exp})
		}
	}
	ix.maintain()
	benchMisses(b, func(p string) error { return ix.Check("corp", p, p, p, 200) })
}

// BenchmarkIndexCheckMissScoped1M is BenchmarkIndexCheckMissAllKinds1M
// with sid and sub entries scoped to providers and a provider cut-off
// before the token's iat, so every lookup also hashes provider and
// identifier.
func BenchmarkIndexCheckMissScoped1M(b *testing.B) {
	ix := newIndex()
	exp := time.Now().Add(time.Hour).Unix()
	fillJTIs(b, ix, 1_000_000, exp)
	for i, v := range uuidLike(rand.New(rand.NewPCG(5, 6)), 10_000) {
		ix.add(Entry{Kind: KindSID, Value: v, ExpiresAt: exp})
		ix.add(Entry{Kind: KindSID, Provider: "corp", Value: v, ExpiresAt: exp})
		if i%10 == 0 {
			ix.add(Entry{Kind: KindSub, Value: v, Before: 100, ExpiresAt: exp})
			ix.add(Entry{Kind: KindSub, Provider: "corp", Value: v, Before: 100, ExpiresAt: exp})
		}
	}
	ix.add(Entry{Kind: KindProvider, Value: "corp", Before: 100, ExpiresAt: exp})
	ix.maintain()
	benchMisses(b, func(p string) error { return ix.Check("corp", p, p, p, 200) })
}

// benchMisses runs check over random identifiers that are not revoked
// (most lookups miss the CPU caches, as real traffic does), with
// allocations and CPU time reported; check must answer nil.
func benchMisses(b *testing.B, check func(p string) error) {
	probes := probeSet(3, 1<<18)
	mask := len(probes) - 1
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	defer cpu.stop()
	i := 0
	for b.Loop() {
		if err := check(probes[i&mask]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkIndexCheckHit measures a revoked jti being found.
func BenchmarkIndexCheckHit(b *testing.B) {
	ix := newIndex()
	jtis := fillJTIs(b, ix, 1<<16, time.Now().Add(time.Hour).Unix())
	mask := len(jtis) - 1
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	defer cpu.stop()
	i := 0
	for b.Loop() {
		if err := ix.Check("", jtis[i&mask], "", "", 0); err != ErrRevoked {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkIndexCheckParallel1M is the miss path from every core at once,
// the way the gRPC server calls it.
func BenchmarkIndexCheckParallel1M(b *testing.B) {
	ix := newIndex()
	fillJTIs(b, ix, 1_000_000, time.Now().Add(time.Hour).Unix())
	probes := probeSet(3, 1<<18)
	mask := len(probes) - 1
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(probes))
		for pb.Next() {
			if err := ix.Check("", probes[i&mask], "", "", 0); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// cpuTimer reports CPU nanoseconds per operation of a single-goroutine
// benchmark loop as the metric "cpu-ns/op".
type cpuTimer struct {
	b     *testing.B
	start int64
}

func startCPU(b *testing.B) *cpuTimer {
	runtime.LockOSThread()
	return &cpuTimer{b: b, start: threadCPU()}
}

func (c *cpuTimer) stop() {
	end := threadCPU()
	runtime.UnlockOSThread()
	if c.start >= 0 && end >= 0 && c.b.N > 0 {
		c.b.ReportMetric(float64(end-c.start)/float64(c.b.N), "cpu-ns/op")
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
