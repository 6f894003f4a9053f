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
	// Entries scoped to one provider are keyed by the hashes of provider
	// and identifier combined (see scoped), in tables of their own, so that a check
	// pays for them only while one exists.
	psid table[expiry]
	psub table[cut]
	prov table[cut] // KindProvider, by provider name
	// sets are the KindSIDSet entries, each with its content.
	sets indexSets
}

func newIndex() *Index {
	ix := &Index{seed: maphash.MakeSeed()}
	for _, t := range ix.expiryTables() {
		t.init()
	}
	for _, t := range ix.cutTables() {
		t.init()
	}
	return ix
}

func (ix *Index) expiryTables() []*table[expiry] { return []*table[expiry]{&ix.jti, &ix.sid, &ix.psid} }
func (ix *Index) cutTables() []*table[cut]       { return []*table[cut]{&ix.sub, &ix.psub, &ix.prov} }

// scopedHash is the key of identifier value scoped to provider.
func (ix *Index) scopedHash(provider, value string) uint64 {
	return scoped(maphash.String(ix.seed, provider), maphash.String(ix.seed, value))
}

// scoped combines the hashes of a provider and an identifier into one key.
// It is not symmetric, and for one provider it maps distinct identifier
// hashes to distinct keys; both inputs are keyed with the secret seed, so
// nobody can aim a pair at another's key, and a chance collision can only
// deny.
func scoped(hp, hv uint64) uint64 {
	x := hp*0x9e3779b97f4a7c15 ^ hv
	x ^= x >> 32
	x *= 0xd6e8feb86659fd93
	return x ^ x>>32
}

// Check reports whether a token of provider (its configured name; "self"
// for the built-in issuer) with these claims may pass revocation: nil,
// ErrRevoked when its jti or sid is revoked, its sub was cut off after its
// iat, or its provider was (each either for every provider or for this
// one), or ErrUnavailable when the revocation state cannot be trusted (see
// ErrUnavailable). A sid is also looked up in the session sets
// (KindSIDSet) that apply to provider. Empty provider, jti, sid or sub are
// not looked up.
// Check does not allocate and never waits on I/O.
//
// An entry that expired but was not swept yet still counts: it outlives
// its tokens (a jti entry expires after the token's exp plus skew), so the
// answer is the same and Check needs no clock.
func (ix *Index) Check(provider, jti, sid, sub string, iat int64) error {
	if ix == nil || ix.unavailable.Load() {
		return ErrUnavailable
	}
	// Tables with no entries are skipped before hashing: sid, sub and
	// provider revocations are rare, so most checks hash the jti only.
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
	if sid != "" && ix.sets.revoked(provider, sid) {
		return ErrRevoked
	}
	if sub != "" && ix.sub.n.Load() != 0 {
		if c, ok := ix.sub.get(maphash.String(ix.seed, sub)); ok && iat <= c.before {
			return ErrRevoked
		}
	}
	// Entries scoped to a provider are rarer still: without any, the
	// provider is not even hashed.
	if provider == "" || ix.prov.n.Load()|ix.psid.n.Load()|ix.psub.n.Load() == 0 {
		return nil
	}
	hp := maphash.String(ix.seed, provider)
	if ix.prov.n.Load() != 0 {
		if c, ok := ix.prov.get(hp); ok && iat <= c.before {
			return ErrRevoked
		}
	}
	if sid != "" && ix.psid.n.Load() != 0 {
		if _, ok := ix.psid.get(scoped(hp, maphash.String(ix.seed, sid))); ok {
			return ErrRevoked
		}
	}
	if sub != "" && ix.psub.n.Load() != 0 {
		if c, ok := ix.psub.get(scoped(hp, maphash.String(ix.seed, sub))); ok && iat <= c.before {
			return ErrRevoked
		}
	}
	return nil
}

// Len returns the number of entries of kind in the index, scoped or not,
// including expired ones not swept yet. For KindSIDSet it counts sets;
// SetSessions counts the sessions they hold.
func (ix *Index) Len(kind Kind) int {
	switch kind {
	case KindSIDSet:
		return ix.sets.len()
	case KindJTI:
		return int(ix.jti.n.Load())
	case KindSID:
		return int(ix.sid.n.Load() + ix.psid.n.Load())
	case KindSub:
		return int(ix.sub.n.Load() + ix.psub.n.Load())
	case KindProvider:
		return int(ix.prov.n.Load())
	}
	return 0
}

// SetSessions returns how many sessions the index's session sets
// (KindSIDSet) hold together.
func (ix *Index) SetSessions() int { return ix.sets.sessions() }

// slot returns the table and key hash of e: exactly one of the two tables
// is non-nil (none for an unknown kind).
func (ix *Index) slot(e Entry) (*table[expiry], *table[cut], uint64) {
	switch {
	case e.Kind == KindJTI:
		return &ix.jti, nil, maphash.String(ix.seed, e.Value)
	case e.Kind == KindSID && e.Provider == "":
		return &ix.sid, nil, maphash.String(ix.seed, e.Value)
	case e.Kind == KindSID:
		return &ix.psid, nil, ix.scopedHash(e.Provider, e.Value)
	case e.Kind == KindSub && e.Provider == "":
		return nil, &ix.sub, maphash.String(ix.seed, e.Value)
	case e.Kind == KindSub:
		return nil, &ix.psub, ix.scopedHash(e.Provider, e.Value)
	case e.Kind == KindProvider:
		return nil, &ix.prov, maphash.String(ix.seed, e.Value)
	}
	return nil, nil, 0
}

// add applies e and reports whether the index changed (a new entry, a later
// expiry or a later cut-off). The returned entry is what the index now
// holds for e's key: for a sub or provider, the merge of both cut-offs.
func (ix *Index) add(e Entry) (Entry, bool) {
	if e.Kind == KindSIDSet {
		return ix.sets.add(e)
	}
	et, ct, h := ix.slot(e)
	switch {
	case et != nil:
		v, changed := et.put(h, expiryOf(e.ExpiresAt))
		e.ExpiresAt = int64(v)
		return e, changed
	case ct != nil:
		c, changed := ct.put(h, cut{before: e.Before, until: e.ExpiresAt})
		e.Before, e.ExpiresAt = c.before, c.until
		return e, changed
	}
	return e, false
}

// current reports whether e is what the index holds for its key: no later
// record superseded it and it was not swept.
func (ix *Index) current(e Entry) bool {
	if e.Kind == KindSIDSet {
		_, exp, ok := ix.sets.get(e.Provider, e.Value)
		return ok && exp == e.ExpiresAt
	}
	et, ct, h := ix.slot(e)
	switch {
	case et != nil:
		v, ok := et.get(h)
		return ok && int64(v) == e.ExpiresAt
	case ct != nil:
		c, ok := ct.get(h)
		return ok && c == cut{before: e.Before, until: e.ExpiresAt}
	}
	return false
}

// sweep drops entries that expired at or before now and returns how many
// it dropped.
func (ix *Index) sweep(now time.Time) int {
	s := now.Unix()
	n := ix.sets.sweep(s)
	for _, t := range ix.expiryTables() {
		n += t.sweep(s)
	}
	for _, t := range ix.cutTables() {
		n += t.sweep(s)
	}
	return n
}

// maintain resizes the lookup filters when they no longer fit the tables;
// it is cheap when they do. Correctness never depends on it: an outgrown
// filter only sends more lookups to the maps.
func (ix *Index) maintain() {
	for _, t := range ix.expiryTables() {
		t.maintain()
	}
	for _, t := range ix.cutTables() {
		t.maintain()
	}
}

// setUnavailable makes Check fail closed (true) or answer from the index
// again (false).
func (ix *Index) setUnavailable(v bool) { ix.unavailable.Store(v) }
