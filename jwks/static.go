package jwks

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Static serves keys that are not fetched, such as the built-in issuer's own
// public keys. It answers like a Source that never goes stale. The zero
// Static holds no keys.
type Static struct {
	provider string
	set      atomic.Pointer[keySet]

	mu      sync.Mutex // serializes Replace
	updated time.Time
}

// NewStatic returns a Static serving keys (see Replace for the rules).
func NewStatic(provider string, keys []*Key) *Static {
	s := &Static{provider: provider}
	s.Replace(keys)
	return s
}

// Replace swaps the set atomically. nil entries are ignored and, of keys
// sharing a kid, the first wins. A key with the same kid, algorithm and
// thumbprint as a current one keeps the current *Key; current keys missing
// from keys are marked removed. A Key stays removed once marked: to publish
// a key again, build a new one with FromPublicKey.
func (s *Static) Replace(keys []*Key) {
	unique := make([]*Key, 0, len(keys))
	seenID := make(map[string]bool, len(keys))
	seenKey := make(map[identity]bool, len(keys))
	for _, k := range keys {
		if k == nil || (k.ID != "" && seenID[k.ID]) || seenKey[identityOf(k)] {
			continue
		}
		seenID[k.ID] = k.ID != ""
		seenKey[identityOf(k)] = true
		unique = append(unique, k)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	next, _, removed := merge(s.set.Load(), unique)
	s.set.Store(next)
	for _, k := range removed {
		k.MarkRemoved()
	}
	s.updated = time.Now()
}

// Key returns the key with the given kid; a kid of "" matches only a set of
// exactly one key. It returns ErrUnavailable when the set is empty and
// ErrUnknownKey when no key matches. It never blocks or allocates.
func (s *Static) Key(_ context.Context, kid string) (*Key, error) {
	ks := s.set.Load()
	if ks == nil || len(ks.all) == 0 {
		return nil, ErrUnavailable
	}
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// Ready reports whether the set holds a key.
func (s *Static) Ready() bool {
	ks := s.set.Load()
	return ks != nil && len(ks.all) > 0
}

// Keys returns the current set; the slice is the caller's.
func (s *Static) Keys() []*Key {
	return s.set.Load().keys()
}

// Status describes the set for the admin API. LastFetch and LastSuccess are
// the time of the last Replace; NextRefresh is zero.
func (s *Static) Status() Status {
	s.mu.Lock()
	updated := s.updated
	s.mu.Unlock()
	return Status{
		Provider:    s.provider,
		Location:    "static",
		KeyIDs:      s.set.Load().ids(),
		LastFetch:   updated,
		LastSuccess: updated,
		Ready:       s.Ready(),
	}
}
