package revocation

import (
	"hash/maphash"
	"sync/atomic"
	"time"
)

// Index is the in-memory view of the revocation set that Check consults on
// every request.
//
// It holds a 64-bit hash of each identifier rather than the identifier,
// with its expiry in 32 bits, in open-addressing tables (see slots): a
// million revoked jtis take about 20 bytes each. The hash
// is keyed with a random per-process seed, so nobody can craft an
// identifier that collides with a revoked one; an accidental collision
// (about 1 in 10^13 per lookup with a million entries) can only deny a
// token, never allow one. A lookup of an identifier that is not revoked,
// the common case, is usually answered by a Bloom filter without taking a
// lock.
//
// An Index is filled and expired by its Service; the zero value is not
// usable, and a nil *Index fails closed.
type Index struct {
	seed        maphash.Seed
	unavailable atomic.Bool
	jti         table[expiry]
	sid         table[expiry]
	sub         table[cut]
}

func newIndex() *Index {
	ix := &Index{seed: maphash.MakeSeed()}
	ix.jti.init()
	ix.sid.init()
	ix.sub.init()
	return ix
}

// Check reports whether a token with these claims may pass revocation: nil,
// ErrRevoked when its jti or sid is revoked or its sub was cut off after
// its iat, or ErrUnavailable when the revocation state cannot be trusted
// (see ErrUnavailable). Empty jti, sid or sub are not looked up. Check does
// not allocate and never waits on I/O.
//
// An entry that expired but was not swept yet still counts: it outlives
// its tokens (a jti entry expires after the token's exp plus skew), so the
// answer is the same and Check needs no clock.
func (ix *Index) Check(jti, sid, sub string, iat int64) error {
	if ix == nil || ix.unavailable.Load() {
		return ErrUnavailable
	}
	// Tables with no entries are skipped before hashing: sid and sub
	// revocations are rare, so most checks hash the jti only.
	if jti != "" && ix.jti.n.Load() != 0 {
		if _, ok := ix.jti.get(maphash.String(ix.seed, jti)); ok {
			return ErrRevoked
		}
	}
	if sid != "" && ix.sid.n.Load() != 0 {
		if _, ok := ix.sid.get(maphash.String(ix.seed, sid)); ok {
			return ErrRevoked
		}
	}
	if sub != "" && ix.sub.n.Load() != 0 {
		if c, ok := ix.sub.get(maphash.String(ix.seed, sub)); ok && iat <= c.before {
			return ErrRevoked
		}
	}
	return nil
}

// Len returns the number of entries of kind in the index, including
// expired ones not swept yet.
func (ix *Index) Len(kind Kind) int {
	switch kind {
	case KindJTI:
		return int(ix.jti.n.Load())
	case KindSID:
		return int(ix.sid.n.Load())
	case KindSub:
		return int(ix.sub.n.Load())
	}
	return 0
}

// add applies e and reports whether the index changed (a new entry, a later
// expiry or a later cut-off). The returned entry is what the index now
// holds for e's key: for a sub, the merge of both cut-offs.
func (ix *Index) add(e Entry) (Entry, bool) {
	h := maphash.String(ix.seed, e.Value)
	switch e.Kind {
	case KindJTI:
		v, changed := ix.jti.put(h, expiryOf(e.ExpiresAt))
		e.ExpiresAt = int64(v)
		return e, changed
	case KindSID:
		v, changed := ix.sid.put(h, expiryOf(e.ExpiresAt))
		e.ExpiresAt = int64(v)
		return e, changed
	case KindSub:
		c, changed := ix.sub.put(h, cut{before: e.Before, until: e.ExpiresAt})
		e.Before, e.ExpiresAt = c.before, c.until
		return e, changed
	}
	return e, false
}

// current reports whether e is what the index holds for its key: no later
// record superseded it and it was not swept.
func (ix *Index) current(e Entry) bool {
	h := maphash.String(ix.seed, e.Value)
	switch e.Kind {
	case KindJTI:
		v, ok := ix.jti.get(h)
		return ok && int64(v) == e.ExpiresAt
	case KindSID:
		v, ok := ix.sid.get(h)
		return ok && int64(v) == e.ExpiresAt
	case KindSub:
		c, ok := ix.sub.get(h)
		return ok && c == cut{before: e.Before, until: e.ExpiresAt}
	}
	return false
}

// sweep drops entries that expired at or before now and returns how many
// it dropped.
func (ix *Index) sweep(now time.Time) int {
	s := now.Unix()
	return ix.jti.sweep(s) + ix.sid.sweep(s) + ix.sub.sweep(s)
}

// maintain resizes the lookup filters when they no longer fit the tables;
// it is cheap when they do. Correctness never depends on it: an outgrown
// filter only sends more lookups to the maps.
func (ix *Index) maintain() {
	ix.jti.maintain()
	ix.sid.maintain()
	ix.sub.maintain()
}

// setUnavailable makes Check fail closed (true) or answer from the index
// again (false).
func (ix *Index) setUnavailable(v bool) { ix.unavailable.Store(v) }
