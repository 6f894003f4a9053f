package extauthz

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"sync/atomic"

	"github.com/jwt-authz/jwt-authz/cache"
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
// is: its claims, indexed over its own copy of the payload, and its allowed
// response, marshalled once. It is immutable once published; the cache
// still decides whether the token is served (expiry, provider, key), and
// revocation and the rule's requirements are checked on every request.
type hotToken struct {
	key    cache.Key
	pol    *Policy        // the policy in force when it was built
	st     *providerState // built with st's template; a reload makes a new st
	own    scratch        // the payload and tape claims read from
	claims claimsView
	resp   []byte // the allowed CheckResponse, marshalled
	used   atomic.Bool
}

// hotTier is a small direct-mapped table of hotTokens, in front of the
// work a cache hit otherwise does again for every request (decoding and
// indexing the payload, building the response). Reads take no lock.
//
// Admission keeps it for tokens that carry traffic: a token enters on a
// cache hit (so at its second use at the earliest), into an empty slot, or
// into one whose holder was not used since the previous contender, and
// then only with odds of 1 in hotReplaceOdds (a second-chance policy). A
// holder built under an earlier policy gives way at once.
type hotTier struct {
	slots [hotSlots]atomic.Pointer[hotToken]
}

func hotSlot(k *cache.Key) int {
	// Bytes 8..16 of the hash: independent of the cache's shard and map key.
	return int(binary.LittleEndian.Uint64(k[8:16]) % hotSlots)
}

// get returns the hot token of k built for st, or nil.
func (h *hotTier) get(k *cache.Key, st *providerState) *hotToken {
	t := h.slots[hotSlot(k)].Load()
	if t == nil || t.key != *k || t.st != st {
		return nil
	}
	if !t.used.Load() {
		t.used.Store(true)
	}
	return t
}

// offer considers the token of k, just served from the cache under pol
// with the response resp built by st's template, for its slot. payload64
// is its payload segment; like resp, it is copied. A holder built under
// an earlier policy can no longer be served, so it gives way at once.
func (h *hotTier) offer(k *cache.Key, pol *Policy, st *providerState, payload64 string, resp []byte) {
	slot := &h.slots[hotSlot(k)]
	cur := slot.Load()
	if cur != nil && cur.pol == pol {
		if cur.key == *k && cur.st == st {
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
	t := &hotToken{key: *k, pol: pol, st: st, resp: bytes.Clone(resp)}
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
