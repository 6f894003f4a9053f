package chaos

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// class is what every answer for a token must be.
type class uint32

const (
	// classValid must be allowed; a 503 or no answer is right only while
	// a fault touches the replica's keys or store.
	classValid class = iota
	// classBad (expired, forged, garbage) must never be allowed.
	classBad
	// classRevoked was revoked with a 201: once a replica has applied the
	// revocation (it denied the token as revoked, or started after the
	// 201, or a sweep saw it applied), it must never allow it again.
	classRevoked
	// classUnknown may be allowed or denied: its revocation is in flight
	// or failed without a 201, its key is being retired, or its session's
	// refresh race may have revoked it.
	classUnknown
)

var classNames = [...]string{"valid", "bad", "revoked", "unknown"}

func (c class) String() string { return classNames[c] }

// maxReplicas bounds the replicas one test runs.
const maxReplicas = 4

// tok is one token the traffic sends, with what the answer must be. Its
// class changes at events (a revocation sent, answered 201, a key
// retired); every change bumps the generation, so a request that saw two
// different states at its start and end is known to straddle a change.
type tok struct {
	s     string
	kind  string // ext, self, expired, bad_signature, unknown_kid, alg_none, garbage
	kid   string // the signing key of an ext token
	sid   string // its session, for those a session set may list
	state atomic.Uint64
	// rev is set when the token's revocation was answered 201.
	rev atomic.Pointer[revRecord]
}

func newTok(s, kind string, c class) *tok {
	t := &tok{s: s, kind: kind}
	t.state.Store(uint64(c))
	return t
}

func (t *tok) class() (class, uint64) {
	v := t.state.Load()
	return class(v & 0xffffffff), v >> 32
}

func (t *tok) setClass(c class) {
	for {
		old := t.state.Load()
		next := ((old>>32)+1)<<32 | uint64(c)
		if t.state.CompareAndSwap(old, next) {
			return
		}
	}
}

// revRecord is a revocation answered 201.
type revRecord struct {
	seq int64
	at  time.Time
	// set is the session set that revoked the token by its sid ("": its
	// own revocation).
	set string
	// confirmed[i] is the incarnation of replica i that denied the token
	// as revoked (0: none yet).
	confirmed [maxReplicas]atomic.Int64
}

// pool holds the tokens the traffic draws from.
type pool struct {
	mu      sync.RWMutex
	valid   []*tok
	bad     []*tok
	revoked []*tok
	revSeq  atomic.Int64 // sequence number of the last revocation answered 201
}

func (p *pool) add(t *tok) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch c, _ := t.class(); c {
	case classValid:
		p.valid = append(p.valid, t)
	case classBad:
		p.bad = append(p.bad, t)
	case classRevoked:
		p.revoked = append(p.revoked, t)
	}
}

// pick draws a token: about half valid, a sixth revoked, a third bad.
func (p *pool) pick(rng *rand.Rand) *tok {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := rng.IntN(12)
	switch {
	case n < 6 && len(p.valid) > 0:
		return p.valid[rng.IntN(len(p.valid))]
	case n < 8 && len(p.revoked) > 0:
		return p.revoked[rng.IntN(len(p.revoked))]
	case len(p.bad) > 0:
		return p.bad[rng.IntN(len(p.bad))]
	}
	return nil
}

// takeValid removes a random valid token of kind (any kind when "") from
// the valid set and marks it unknown: its revocation is about to be sent.
func (p *pool) takeValid(rng *rand.Rand, minLeft int) *tok {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.valid) <= minLeft {
		return nil
	}
	i := rng.IntN(len(p.valid))
	t := p.valid[i]
	p.valid[i] = p.valid[len(p.valid)-1]
	p.valid = p.valid[:len(p.valid)-1]
	t.setClass(classUnknown)
	return t
}

// markRevoked records a 201 for t from replica idx, incarnation inc,
// which enforces it from then on.
func (p *pool) markRevoked(t *tok, idx int, inc int64) {
	p.markRevokedBy(t, idx, inc, "")
}

// markSetRevoked records the 201 of session set setID, from replica idx,
// incarnation inc, for every token in toks (each carries a listed sid).
func (p *pool) markSetRevoked(toks []*tok, idx int, inc int64, setID string) {
	for _, t := range toks {
		p.markRevokedBy(t, idx, inc, setID)
	}
}

func (p *pool) markRevokedBy(t *tok, idx int, inc int64, setID string) {
	r := &revRecord{seq: p.revSeq.Add(1), at: time.Now(), set: setID}
	r.confirmed[idx].Store(inc)
	t.rev.Store(r)
	t.setClass(classRevoked)
	p.add(t)
}

// takeThese removes from the valid set those of toks still in it and
// marks them unknown, as takeValid does, and returns them; the others
// were taken meanwhile (revoked on their own, or their key retired).
func (p *pool) takeThese(toks []*tok) []*tok {
	want := make(map[*tok]bool, len(toks))
	for _, t := range toks {
		want[t] = true
	}
	return p.takeWhere(func(t *tok) bool { return want[t] })
}

// retire moves every valid token of kid to unknown and returns them.
func (p *pool) retire(kid string) []*tok {
	return p.takeWhere(func(t *tok) bool { return t.kind == "ext" && t.kid == kid })
}

// takeWhere removes from the valid set the tokens match selects, marks
// them unknown and returns them.
func (p *pool) takeWhere(match func(*tok) bool) []*tok {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*tok
	kept := p.valid[:0]
	for _, t := range p.valid {
		if match(t) {
			t.setClass(classUnknown)
			out = append(out, t)
			continue
		}
		kept = append(kept, t)
	}
	clear(p.valid[len(kept):])
	p.valid = kept
	return out
}

// revokedUpTo returns the revoked tokens with sequence numbers up to seq.
func (p *pool) revokedUpTo(seq int64) []*tok {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*tok
	for _, t := range p.revoked {
		if t.rev.Load().seq <= seq {
			out = append(out, t)
		}
	}
	return out
}

func (p *pool) sizes() (valid, bad, revoked int) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.valid), len(p.bad), len(p.revoked)
}
