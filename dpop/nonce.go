package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
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
type Nonces struct {
	key    []byte
	window int64 // seconds
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
	return &Nonces{key: append([]byte(nil), key...), window: int64(window / time.Second)}, nil
}

// nonceBytes is a nonce's size before encoding: the window number and a
// 128-bit MAC.
const nonceBytes = 8 + 16

// Current is the nonce of now's window.
func (n *Nonces) Current(now time.Time) string {
	var b [nonceBytes]byte
	w := now.Unix() / n.window
	binary.BigEndian.PutUint64(b[:8], uint64(w))
	n.mac(b[8:8], w)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Valid reports whether s is a nonce of now's window or of one next to it.
func (n *Nonces) Valid(s string, now time.Time) bool {
	var b [nonceBytes]byte
	if base64.RawURLEncoding.EncodedLen(nonceBytes) != len(s) {
		return false
	}
	if _, err := b64.Decode(b[:], []byte(s)); err != nil {
		return false
	}
	w := int64(binary.BigEndian.Uint64(b[:8]))
	cur := now.Unix() / n.window
	if w < cur-1 || w > cur+1 {
		return false
	}
	var want [sha256.Size]byte
	return hmac.Equal(n.mac(want[:0], w)[:16], b[8:])
}

// mac appends the MAC of window w to dst.
func (n *Nonces) mac(dst []byte, w int64) []byte {
	h := hmac.New(sha256.New, n.key)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(w))
	h.Write([]byte("jwt-authz dpop nonce\x00"))
	h.Write(b[:])
	sum := h.Sum(nil)
	return append(dst, sum[:16]...)
}
