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
	// TotalPerSecond, when positive, also bounds every client together: a
	// bucket of TotalBurst tokens (at least 1), refilled at this rate,
	// from which each request a client's own bucket allows takes one
	// more. Zero or less means no overall limit.
	TotalPerSecond float64
	TotalBurst     int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Limiter is a token bucket per client address, and optionally one for
// all clients together. A nil *Limiter allows everything.
type Limiter struct {
	every   rate.Limit
	burst   int
	now     func() time.Time
	clients *lru.Cache[netip.Addr, *rate.Limiter] // nil: no limit per client
	total   *rate.Limiter                         // nil: no overall limit
}

// New returns a Limiter, or nil when neither opts.RequestsPerSecond nor
// opts.TotalPerSecond is positive (no limit).
func New(opts Options) *Limiter {
	if opts.RequestsPerSecond <= 0 && opts.TotalPerSecond <= 0 {
		return nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Limiter{every: rate.Limit(opts.RequestsPerSecond), burst: max(opts.Burst, 1), now: opts.Now}
	if opts.RequestsPerSecond > 0 {
		clients, err := lru.New[netip.Addr, *rate.Limiter](max(opts.MaxClients, 1))
		if err != nil {
			// Only a non-positive size fails, and max rules it out.
			panic(err)
		}
		l.clients = clients
	}
	if opts.TotalPerSecond > 0 {
		l.total = rate.NewLimiter(rate.Limit(opts.TotalPerSecond), max(opts.TotalBurst, 1))
	}
	return l
}

// Allow takes one token from client's bucket and one from the overall
// bucket. When either is empty it takes nothing and returns false with
// the time until a token is there.
func (l *Limiter) Allow(client netip.Addr) (ok bool, retryAfter time.Duration) {
	ok, retryAfter, _ = l.allow(client)
	return ok, retryAfter
}

// allow is Allow that also reports whether a refusal came from the
// overall bucket (every client's) rather than the client's own.
func (l *Limiter) allow(client netip.Addr) (ok bool, retryAfter time.Duration, overall bool) {
	if l == nil {
		return true, 0, false
	}
	now := l.now()
	var own *rate.Reservation
	if l.clients != nil {
		var wait time.Duration
		if own, wait = take(l.bucket(client), now); own == nil {
			return false, wait, false
		}
	}
	if l.total != nil {
		if r, wait := take(l.total, now); r == nil {
			if own != nil {
				// The client is not charged for a request nobody served.
				own.CancelAt(now)
			}
			return false, wait, true
		}
	}
	return true, 0, false
}

// bucket returns client's bucket, made full when it has none.
func (l *Limiter) bucket(client netip.Addr) *rate.Limiter {
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
	return b
}

// take takes one token from b at now and returns its reservation, or,
// when b is empty, takes nothing and returns nil with the time until a
// token is there.
func take(b *rate.Limiter, now time.Time) (*rate.Reservation, time.Duration) {
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return nil, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	return r, 0
}

// Len returns the number of clients with a bucket.
func (l *Limiter) Len() int {
	if l == nil || l.clients == nil {
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
