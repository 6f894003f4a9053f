package revocation

import (
	"slices"
	"sync"
	"sync/atomic"
)

// setRef is one KindSIDSet entry in the index.
type setRef struct {
	provider, id string
	expires      int64
	set          *SIDSet
}

// indexSets holds the index's active session sets: a small immutable
// slice, replaced whole on every change, so that Check reads it with one
// atomic load and no lock.
type indexSets struct {
	mu   sync.Mutex // serialises writers
	list atomic.Pointer[[]setRef]
}

// revoked reports whether a token of provider with session id sid is in
// one of the sets that apply to it (every provider's, or provider's own).
// It hashes sid only when a set exists, and does not allocate.
func (s *indexSets) revoked(provider, sid string) bool {
	l := s.list.Load()
	if l == nil || len(*l) == 0 {
		return false
	}
	h := HashSID(sid)
	for i := range *l {
		r := &(*l)[i]
		if (r.provider == "" || r.provider == provider) && r.set.containsHash(h) {
			return true
		}
	}
	return false
}

func (s *indexSets) find(l []setRef, provider, id string) int {
	return slices.IndexFunc(l, func(r setRef) bool { return r.provider == provider && r.id == id })
}

func (s *indexSets) load() []setRef {
	if l := s.list.Load(); l != nil {
		return *l
	}
	return nil
}

// add applies e (a KindSIDSet entry) and reports whether the index
// changed: a new set or a later expiry. The returned entry is what the
// index now holds, content included.
func (s *indexSets) add(e Entry) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.load()
	i := s.find(cur, e.Provider, e.Value)
	if i >= 0 {
		r := cur[i]
		e.Set = r.set // one identifier, one content: the first one kept
		if e.ExpiresAt <= r.expires {
			e.ExpiresAt = r.expires
			return e, false
		}
		next := slices.Clone(cur)
		next[i].expires = e.ExpiresAt
		s.list.Store(&next)
		return e, true
	}
	next := append(slices.Clone(cur), setRef{provider: e.Provider, id: e.Value, expires: e.ExpiresAt, set: e.Set})
	s.list.Store(&next)
	return e, true
}

// get returns the set held for provider and id, and its expiry.
func (s *indexSets) get(provider, id string) (*SIDSet, int64, bool) {
	cur := s.load()
	if i := s.find(cur, provider, id); i >= 0 {
		return cur[i].set, cur[i].expires, true
	}
	return nil, 0, false
}

// sweep drops the sets that expired at or before now and returns how
// many it dropped.
func (s *indexSets) sweep(now int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.load()
	next := slices.DeleteFunc(slices.Clone(cur), func(r setRef) bool { return r.expires <= now })
	if len(next) == len(cur) {
		return 0
	}
	s.list.Store(&next)
	return len(cur) - len(next)
}

// len returns how many sets the index holds.
func (s *indexSets) len() int { return len(s.load()) }

// sessions returns how many sessions the sets hold together (a session
// in two sets counts twice).
func (s *indexSets) sessions() int {
	n := 0
	for _, r := range s.load() {
		n += r.set.Len()
	}
	return n
}
