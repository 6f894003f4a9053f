// Package ratelimit keeps a token bucket per client address, for the
// token endpoints: a client that sends more than its rate (after a burst)
// is refused until its bucket refills, before its request reaches any
// store. An optional overall bucket bounds all clients together, for an
// endpoint whose every request costs work whoever sends it (the
// back-channel logout endpoint verifies a signature per request), so that
// a flood from many addresses is bounded too.
//
// Buckets are golang.org/x/time/rate limiters, held in a bounded LRU so
// that a flood of distinct addresses costs bounded memory; a client whose
// bucket was dropped starts again with a full one. IPv6 clients are keyed
// by their /64 prefix, since one host usually holds a whole /64.
//
// The package knows nothing of HTTP beyond the middleware in http.go,
// nothing of config and nothing of Prometheus registries beyond the
// counter it is given. A Limiter is safe for concurrent use.
package ratelimit
