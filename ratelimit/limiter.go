package ratelimit

import (
	"math"
	"net/netip"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Options configure a Limiter.
type Options struct {
	// RequestsPerSecond refills each client's bucket. Zero or less means
	// no limit: New returns nil, whose Allow always allows.
	RequestsPerSecond float64
	// Burst is the bucket size; at least 1.
	Burst int
	// MaxClients bounds the buckets kept; at least 1.
	MaxClients int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Limiter is a token bucket per client address. A nil *Limiter allows
// everything.
type Limiter struct {
	every   rate.Limit
	burst   int
	now     func() time.Time
	clients *lru.Cache[netip.Addr, *rate.Limiter]
}

// New returns a Limiter, or nil when opts.RequestsPerSecond is not
// positive (no limit).
func New(opts Options) *Limiter {
	if opts.RequestsPerSecond <= 0 {
		return nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	clients, err := lru.New[netip.Addr, *rate.Limiter](max(opts.MaxClients, 1))
	if err != nil {
		// Only a non-positive size fails, and max rules it out.
		panic(err)
	}
	return &Limiter{every: rate.Limit(opts.RequestsPerSecond), burst: max(opts.Burst, 1), now: opts.Now, clients: clients}
}

// Allow takes one token from client's bucket. When the bucket is empty it
// takes nothing and returns false with the time until a token is there.
func (l *Limiter) Allow(client netip.Addr) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	key := clientKey(client)
	b, found := l.clients.Get(key)
	if !found {
		fresh := rate.NewLimiter(l.every, l.burst)
		// A concurrent first request of the same client may have added
		// one: use whichever is stored.
		if prev, had, _ := l.clients.PeekOrAdd(key, fresh); had {
			b = prev
		} else {
			b = fresh
		}
	}
	now := l.now()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len returns the number of clients with a bucket.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	return l.clients.Len()
}

// clientKey is the address a bucket belongs to: IPv4 addresses (mapped or
// not) as they are, IPv6 addresses by their /64.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// RetryAfterSeconds renders a wait as the whole seconds of a Retry-After
// header: rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}
