package extauthz

import (
	"bytes"
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"sync/atomic"
)

// hotSlots is the number of tokens the hot tier holds at most. A hot
// token takes about 3 KB, so the tier is bounded at about 1.5 MiB however
// many tokens the cache holds.
const hotSlots = 512

// hotReplaceOdds is the chance (1 in hotReplaceOdds) that a token used
// again takes a slot whose holder was not used since the last contender.
// A token that carries real traffic gets in within a few dozen requests;
// a stream of many tokens each used a few times rebuilds a slot on one
// cache hit in hotReplaceOdds, not on every one.
const hotReplaceOdds = 16

// hotToken is what a Check of a token used again and again can reuse as it
// is: the token's cache entry (who verified it, until when), its claims,
// indexed over its own copy of the payload, and its allowed response,
// marshalled once. It is immutable once published. A hit is served on the
// same conditions as a cache hit (not expired, provider current, key still
// in the key set), and revocation and the rule's requirements are checked
// on every request.
type hotToken struct {
	hash    uint64 // of raw, with the tier's seed
	raw     string // the token, its own copy
	vt      verifiedToken
	expires int64          // unix seconds, the cache entry's
	pol     *Policy        // the policy in force when it was built
	st      *providerState // built with st's template; a reload makes a new st
	own     scratch        // the payload and tape claims read from
	claims  claimsView
	resp    []byte // the allowed CheckResponse, marshalled
	used    atomic.Bool
}

// hotTier is a small direct-mapped table of hotTokens, in front of the
// work a cache hit otherwise does again for every request (hashing the
// token with SHA-256, the cache's lookup, decoding and indexing the
// payload, building the response). Reads take no lock.
//
// A token finds its slot by a 64-bit maphash under a seed made at start,
// which a client cannot predict: a presented token is compared with a slot's
// token only when the two hashes are equal, so a token that differs from a
// hot one is not compared with it, in practice never, and the comparison
// tells a client nothing it did not send.
//
// Admission keeps it for tokens that carry traffic: a token enters on a
// cache hit (so at its second use at the earliest), into an empty slot, or
// into one whose holder was not used since the previous contender, and
// then only with odds of 1 in hotReplaceOdds (a second-chance policy). A
// holder built under an earlier policy gives way at once.
type hotTier struct {
	seed  maphash.Seed
	slots [hotSlots]atomic.Pointer[hotToken]
}

// hash is the hash that places raw in the tier.
func (h *hotTier) hash(raw string) uint64 { return maphash.String(h.seed, raw) }

// get returns the hot token raw, of the given hash, when it is hot and not
// expired at now (unix seconds), or nil. The caller checks its provider
// and key.
func (h *hotTier) get(raw string, hash uint64, now int64) *hotToken {
	t := h.slots[hash%hotSlots].Load()
	if t == nil || t.hash != hash || t.raw != raw || now >= t.expires {
		return nil
	}
	if !t.used.Load() {
		t.used.Store(true)
	}
	return t
}

// offer considers the token raw, of the given hash, just served from the
// cache under pol as vt until expires, with the response resp built by
// st's template, for its slot. raw, payload64 (its payload segment) and
// resp are copied. A holder built under an earlier policy can no longer be
// served, so it gives way at once.
func (h *hotTier) offer(raw string, hash uint64, vt verifiedToken, expires int64, pol *Policy, st *providerState, payload64 string, resp []byte) {
	slot := &h.slots[hash%hotSlots]
	cur := slot.Load()
	if cur != nil && cur.pol == pol {
		if cur.hash == hash && cur.raw == raw && cur.st == st {
			return
		}
		if cur.used.Load() {
			cur.used.Store(false)
			return
		}
		if rand.Uint32N(hotReplaceOdds) != 0 {
			return
		}
	}
	t := &hotToken{hash: hash, raw: strings.Clone(raw), vt: vt, expires: expires, pol: pol, st: st, resp: bytes.Clone(resp)}
	if t.own.readPayload(strings.Clone(payload64), &t.claims) != nil {
		return
	}
	slot.CompareAndSwap(cur, t)
}

// purge empties the tier.
func (h *hotTier) purge() {
	for i := range h.slots {
		h.slots[i].Store(nil)
	}
}
