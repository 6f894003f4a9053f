package jwks

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchSource returns a loaded Source of n EC keys with kids k0..k(n-1).
func benchSource(b *testing.B, n int) *Source {
	b.Helper()
	keys := make([]map[string]any, n)
	for i := range keys {
		keys[i] = ecJWK(b, fmt.Sprint("bench", i%4), fmt.Sprint("k", i))
	}
	srv := newJWKSServer(b, setJSON(b, keys...))
	env := newTestSource(b, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Hour, RefreshInterval: time.Hour, Clock: time.Now})
	if err := env.src.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return env.src
}

// BenchmarkKeyHit is the request hot path: a kid in the current set.
func BenchmarkKeyHit(b *testing.B) {
	src := benchSource(b, 8)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Key(ctx, "k5"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyHitParallel(b *testing.B) {
	src := benchSource(b, 8)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Key(ctx, "k5"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkKeyUnknownWithinInterval is a flood of made-up kids after the
// one permitted refetch: each must be refused at once.
func BenchmarkKeyUnknownWithinInterval(b *testing.B) {
	src := benchSource(b, 8)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Key(ctx, "made-up"); err != ErrUnknownKey {
			b.Fatal(err)
		}
	}
}

func BenchmarkStaticKeyHit(b *testing.B) {
	k, err := FromPublicKey("self", "EdDSA", edKey().Public())
	if err != nil {
		b.Fatal(err)
	}
	s := NewStatic("self", []*Key{k})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Key(ctx, "self"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSet is the cost of applying a changed document.
func BenchmarkParseSet(b *testing.B) {
	doc := setJSON(b,
		jwkMap(b, &testRSAKey().PublicKey, "r1", "RS256", nil),
		jwkMap(b, &testRSAKey2().PublicKey, "r2", "RS256", nil),
		ecJWK(b, "parse", "e1"),
		jwkMap(b, edKey().Public(), "d1", "EdDSA", nil),
	)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSet(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKeyHitDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "b", "b")))
	env := newTestSource(t, Options{JWKSURI: srv.URL, Clock: time.Now})
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := map[string]string{"hit": "a", "unknown within the interval": "zz"}
	for name, kid := range tests {
		t.Run(name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { _, _ = env.src.Key(ctx, kid) }); n != 0 {
				t.Fatalf("%v allocations per Key", n)
			}
		})
	}
}
