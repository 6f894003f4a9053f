package revocation

import (
	"hash/maphash"
	"sync/atomic"
	"time"
)

// Index is the in-memory view of the revocation set that Check consults on
// every request. It holds a 64-bit hash of each identifier rather than the
// identifier, which keeps a million revoked jtis within a few dozen bytes
// each. The hash is keyed with a random per-process seed, so nobody can
// craft an identifier that collides with a revoked one; an accidental
// collision (about 1 in 10^13 per lookup with a million entries) can only
// deny a token, never allow one.
//
// An Index is filled and expired by its Service; the zero value is not
// usable, and a nil *Index fails closed.
type Index struct {
	seed        maphash.Seed
	unavailable atomic.Bool
	jti         idTable
	sid         idTable
	sub         cutTable
}

func newIndex() *Index {
	return &Index{seed: maphash.MakeSeed()}
}

// Check reports whether a token with these claims may pass revocation: nil,
// ErrRevoked when its jti or sid is revoked or its sub was cut off after
// its iat, or ErrUnavailable when the revocation state cannot be trusted
// (see ErrUnavailable). Empty jti, sid or sub are not looked up. Check does
// not allocate and never waits on I/O.
func (ix *Index) Check(jti, sid, sub string, iat int64) error {
	if ix == nil || ix.unavailable.Load() {
		return ErrUnavailable
	}
	// Skip hashing for kinds with no entries: sid and sub revocations are
	// rare, so most checks hash the jti only.
	if jti != "" && ix.jti.n.Load() != 0 && ix.jti.has(maphash.String(ix.seed, jti)) {
		return ErrRevoked
	}
	if sid != "" && ix.sid.n.Load() != 0 && ix.sid.has(maphash.String(ix.seed, sid)) {
		return ErrRevoked
	}
	if sub != "" && ix.sub.n.Load() != 0 {
		if c, ok := ix.sub.get(maphash.String(ix.seed, sub)); ok && iat < c.before {
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
// expiry or a later cut-off). When it did, the returned entry is what the
// index now holds for e's key: for a sub, the merge of both cut-offs.
func (ix *Index) add(e Entry) (Entry, bool) {
	h := maphash.String(ix.seed, e.Value)
	switch e.Kind {
	case KindJTI:
		return e, ix.jti.put(h, e.ExpiresAt)
	case KindSID:
		return e, ix.sid.put(h, e.ExpiresAt)
	case KindSub:
		c, changed := ix.sub.put(h, cut{before: e.Before, expires: e.ExpiresAt})
		e.Before, e.ExpiresAt = c.before, c.expires
		return e, changed
	}
	return e, false
}

// current reports whether e is what the index holds for its key, that is,
// no later record superseded it and it was not swept.
func (ix *Index) current(e Entry) bool {
	h := maphash.String(ix.seed, e.Value)
	switch e.Kind {
	case KindJTI:
		exp, ok := ix.jti.get(h)
		return ok && exp == e.ExpiresAt
	case KindSID:
		exp, ok := ix.sid.get(h)
		return ok && exp == e.ExpiresAt
	case KindSub:
		c, ok := ix.sub.get(h)
		return ok && c.before == e.Before && c.expires == e.ExpiresAt
	}
	return false
}

// sweep drops entries that expired at or before now and returns how many
// it dropped.
func (ix *Index) sweep(now time.Time) int {
	s := now.Unix()
	return ix.jti.sweep(s) + ix.sid.sweep(s) + ix.sub.sweep(s)
}

// setUnavailable makes Check fail closed (true) or answer from the index
// again (false).
func (ix *Index) setUnavailable(v bool) { ix.unavailable.Store(v) }
