package replay

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// benchIDs are precomputed so that the benchmarks measure Claim, not
// strconv.
func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "jti-" + strconv.Itoa(i) + "-0123456789abcdef"
	}
	return ids
}

// BenchmarkMemoryClaim claims fresh ids from every P, as under a DPoP
// load where each proof carries a new jti.
func BenchmarkMemoryClaim(b *testing.B) {
	ids := benchIDs(1 << 20)
	m := NewMemory(len(ids))
	until := time.Now().Add(time.Hour)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % len(ids)
			_, _ = m.Claim(b.Context(), "dpop:corp", ids[i], until)
		}
	})
}

// BenchmarkMemoryReplay presents the same id again and again: the refused
// path.
func BenchmarkMemoryReplay(b *testing.B) {
	m := NewMemory(1 << 16)
	until := time.Now().Add(time.Hour)
	_, _ = m.Claim(b.Context(), "dpop:corp", "replayed", until)
	b.ReportAllocs()
	for b.Loop() {
		if first, _ := m.Claim(b.Context(), "dpop:corp", "replayed", until); first {
			b.Fatal("replay accepted")
		}
	}
}

// BenchmarkRedisClaim is one round trip to a loopback Redis per claim.
func BenchmarkRedisClaim(b *testing.B) {
	addr := redisserver.Shared(b)
	r := NewRedis(newRedisClient(b, addr), uniquePrefix(b))
	ids := benchIDs(1 << 16)
	until := time.Now().Add(time.Minute)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			if _, err := r.Claim(b.Context(), "dpop:corp", ids[i%len(ids)]+strconv.Itoa(i/len(ids)), until); err != nil {
				b.Fatal(err)
			}
		}
	})
}
