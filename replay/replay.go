package replay

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// Cache tells whether a single-use id is presented for the first time.
type Cache interface {
	// Claim records (scope, id) until the given time and reports whether
	// this call was the first to do so. A second Claim of the same pair
	// before until returns first == false; after until the pair is
	// forgotten. until must be in the future. An error means the cache could
	// not tell (full, unreachable, cancelled): the caller must refuse the
	// request it was checking. Claim does not block beyond ctx.
	Claim(ctx context.Context, scope, id string, until time.Time) (first bool, err error)
}

var (
	// ErrFull is returned by a Memory cache holding its maximum of
	// unexpired ids: it refuses new ids rather than forget one that could
	// still be replayed.
	ErrFull = errors.New("replay cache full")
	// ErrPast is returned when until is not after now: the id's window has
	// closed and the caller should have refused it as expired.
	ErrPast = errors.New("replay: until is not in the future")
)

// digest is the stored form of (scope, id): a fixed size whatever the
// client sent, and no separator ambiguity ("a:b"+"c" vs "a"+"b:c") since
// the scope's length is hashed in front of it.
type digest [sha256.Size]byte

// digestOf hashes (scope, id). Short inputs are assembled on the stack, so
// the common case does not allocate.
func digestOf(scope, id string) digest {
	var buf [256]byte
	l := len(scope)
	b := append(buf[:0], byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	b = append(b, scope...)
	b = append(b, id...)
	return sha256.Sum256(b)
}
