package ratelimit

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_767_225_600, 0)} }

func TestBurstThenRefill(t *testing.T) {
	clock := newClock()
	l := New(Options{RequestsPerSecond: 2, Burst: 3, MaxClients: 10, Now: clock.now})
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 3 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow(a)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok=%v wait=%v, want refused for 500ms", ok, wait)
	}
	// A refused request takes no token: the wait does not grow.
	if ok, wait := l.Allow(a); ok || wait != 500*time.Millisecond {
		t.Fatalf("second refusal: ok=%v wait=%v", ok, wait)
	}
	clock.add(500 * time.Millisecond)
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("refused after the refill")
	}
	if ok, _ := l.Allow(a); ok {
		t.Fatal("allowed with an empty bucket")
	}
}

func TestClientsAreSeparate(t *testing.T) {
	clock := newClock()
	l := New(Options{RequestsPerSecond: 1, Burst: 1, MaxClients: 100, Now: clock.now})
	tests := []struct {
		first, second string
		shared        bool
	}{
		{"192.0.2.1", "192.0.2.2", false},
		{"192.0.2.3", "::ffff:192.0.2.3", true},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:3::1", "2001:db8:1:4::1", false},
		{"fe80::1%eth0", "fe80::1%eth1", true},
	}
	for _, tc := range tests {
		if ok, _ := l.Allow(netip.MustParseAddr(tc.first)); !ok {
			t.Fatalf("%s: first request refused", tc.first)
		}
		ok, _ := l.Allow(netip.MustParseAddr(tc.second))
		if ok == tc.shared {
			t.Errorf("%s after %s: allowed=%v, want shared bucket=%v", tc.second, tc.first, ok, tc.shared)
		}
	}
}

func TestClientsAreBounded(t *testing.T) {
	clock := newClock()
	l := New(Options{RequestsPerSecond: 1, Burst: 1, MaxClients: 50, Now: clock.now})
	for i := range 1000 {
		l.Allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	if n := l.Len(); n != 50 {
		t.Fatalf("%d buckets, want 50", n)
	}
}

func TestNoLimit(t *testing.T) {
	for _, rps := range []float64{0, -1} {
		l := New(Options{RequestsPerSecond: rps, Burst: 1, MaxClients: 1})
		if l != nil {
			t.Fatalf("New with %v requests per second = %v, want nil", rps, l)
		}
		for range 100 {
			if ok, _ := l.Allow(netip.MustParseAddr("192.0.2.1")); !ok {
				t.Fatal("a nil Limiter refused")
			}
		}
	}
}

func TestConcurrentFirstRequestsShareOneBucket(t *testing.T) {
	clock := newClock()
	l := New(Options{RequestsPerSecond: 1, Burst: 10, MaxClients: 10, Now: clock.now})
	a := netip.MustParseAddr("192.0.2.7")
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Go(func() {
			if ok, _ := l.Allow(a); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 10 {
		t.Fatalf("%d of 50 concurrent requests allowed, want the burst of 10", allowed)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 90 * time.Second: 90} {
		if got := RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func BenchmarkAllowOneClient(b *testing.B) {
	l := New(Options{RequestsPerSecond: 1e9, Burst: 1 << 30, MaxClients: 10000})
	a := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(a)
	}
}

func BenchmarkAllowManyClients(b *testing.B) {
	l := New(Options{RequestsPerSecond: 1e9, Burst: 1 << 30, MaxClients: 10000})
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(addrs[i%len(addrs)])
		i++
	}
}

func BenchmarkAllowNewClients(b *testing.B) {
	l := New(Options{RequestsPerSecond: 10, Burst: 20, MaxClients: 10000})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		i++
	}
}

func BenchmarkAllowRefused(b *testing.B) {
	l := New(Options{RequestsPerSecond: 1, Burst: 1, MaxClients: 10000})
	a := netip.MustParseAddr("192.0.2.1")
	l.Allow(a)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(a)
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := New(Options{RequestsPerSecond: 1e9, Burst: 1 << 30, MaxClients: 10000})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		a := netip.MustParseAddr("192.0.2.1")
		for pb.Next() {
			l.Allow(a)
		}
	})
}

func TestOverallBucket(t *testing.T) {
	tests := map[string]struct {
		perClient float64 // 0: no limit per client
		clients   []string
		// want is each request's outcome: 'a' allowed, 'c' refused by
		// the client's bucket, 't' refused by the overall one.
		want string
	}{
		"many clients share the overall burst": {
			perClient: 1, clients: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
			want: "aaat",
		},
		"a client's own bucket refuses first": {
			perClient: 1, clients: []string{"192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
			want: "acaat",
		},
		"overall only": {
			clients: []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.1"},
			want:    "aaat",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			clock := newClock()
			l := New(Options{RequestsPerSecond: tt.perClient, Burst: 1, MaxClients: 10, TotalPerSecond: 2, TotalBurst: 3, Now: clock.now})
			var got []byte
			for _, c := range tt.clients {
				ok, wait, overall := l.allow(netip.MustParseAddr(c))
				switch {
				case ok:
					got = append(got, 'a')
				case overall:
					got = append(got, 't')
					if wait != 500*time.Millisecond {
						t.Errorf("overall refusal waits %v, want 500ms", wait)
					}
				default:
					got = append(got, 'c')
				}
			}
			if string(got) != tt.want {
				t.Fatalf("outcomes %q, want %q", got, tt.want)
			}
		})
	}
}

// A request the overall bucket refuses costs its client nothing: once the
// overall bucket refills, the client still has its own token.
func TestOverallRefusalRefundsTheClient(t *testing.T) {
	clock := newClock()
	l := New(Options{RequestsPerSecond: 1, Burst: 1, MaxClients: 10, TotalPerSecond: 1, TotalBurst: 1, Now: clock.now})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("first request refused")
	}
	if ok, _, overall := l.allow(b); ok || !overall {
		t.Fatalf("second client: ok=%v overall=%v, want refused by the overall bucket", ok, overall)
	}
	clock.add(time.Second)
	// a's bucket and the overall one have refilled; b never spent its own.
	if ok, _ := l.Allow(b); !ok {
		t.Fatal("refunded client refused")
	}
}
