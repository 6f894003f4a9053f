package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"
)

// MinNonceKeyBytes is the shortest key Nonces accept.
const MinNonceKeyBytes = 32

// Nonces makes and checks stateless server nonces (RFC 9449 §8): a nonce
// is a time window's number and an HMAC-SHA256 of it under a key, so any
// replica with the same key accepts the nonces of every other replica
// without sharing state. A nonce is accepted during its window and the
// next one (and the one before it, for replicas whose clocks differ a
// little), so a client that just received one has at least a window to
// use it.
//
// A nonce of the previous window has at most one window of its life left:
// Check then hands out the current one with the accepted proof
// (Proof.NextNonce), so that a client switches before its nonce expires
// instead of taking a use_dpop_nonce round trip (RFC 9449 §8.2).
type Nonces struct {
	key    []byte
	window int64 // seconds
	// cur is the nonce of the newest window made, so that handing it out
	// again costs no MAC and no allocation.
	cur atomic.Pointer[windowNonce]
	// macs holds HMAC-SHA256 states under key, reset before each use, so
	// that checking a nonce allocates none.
	macs sync.Pool
}

// windowNonce is the nonce of window w.
type windowNonce struct {
	w int64
	s string
}

// NewNonces returns nonces under key (at least MinNonceKeyBytes bytes)
// for windows of the given length (at least a second).
func NewNonces(key []byte, window time.Duration) (*Nonces, error) {
	if len(key) < MinNonceKeyBytes {
		return nil, fmt.Errorf("dpop: nonce key of %d bytes, need at least %d", len(key), MinNonceKeyBytes)
	}
	if window < time.Second {
		return nil, fmt.Errorf("dpop: nonce window %s is shorter than a second", window)
	}
	n := &Nonces{key: append([]byte(nil), key...), window: int64(window / time.Second)}
	n.macs.New = func() any { return hmac.New(sha256.New, n.key) }
	return n, nil
}

// nonceBytes is a nonce's size before encoding: the window number and a
// 128-bit MAC.
const nonceBytes = 8 + 16

// Current is the nonce of now's window.
func (n *Nonces) Current(now time.Time) string {
	w := now.Unix() / n.window
	if c := n.cur.Load(); c != nil && c.w == w {
		return c.s
	}
	var b [nonceBytes]byte
	binary.BigEndian.PutUint64(b[:8], uint64(w))
	n.mac(b[8:8], w)
	s := base64.RawURLEncoding.EncodeToString(b[:])
	n.cur.Store(&windowNonce{w: w, s: s})
	return s
}

// Valid reports whether s is a nonce of now's window or of one next to it.
func (n *Nonces) Valid(s string, now time.Time) bool {
	ok, _ := n.check(s, now)
	return ok
}

// check is Valid that also reports whether a valid s is stale: of the
// window before now's, so that it expires at the end of now's window.
func (n *Nonces) check(s string, now time.Time) (ok, stale bool) {
	var b [nonceBytes]byte
	if base64.RawURLEncoding.EncodedLen(nonceBytes) != len(s) {
		return false, false
	}
	if _, err := b64.Decode(b[:], []byte(s)); err != nil {
		return false, false
	}
	w := int64(binary.BigEndian.Uint64(b[:8]))
	cur := now.Unix() / n.window
	if w < cur-1 || w > cur+1 {
		return false, false
	}
	var want [sha256.Size]byte
	if !hmac.Equal(n.mac(want[:0], w)[:16], b[8:]) {
		return false, false
	}
	return true, w < cur
}

// mac appends the MAC of window w to dst.
func (n *Nonces) mac(dst []byte, w int64) []byte {
	h := n.macs.Get().(hash.Hash)
	h.Reset()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(w))
	h.Write([]byte("jwt-authz dpop nonce\x00"))
	h.Write(b[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	n.macs.Put(h)
	return append(dst, sum[:16]...)
}
