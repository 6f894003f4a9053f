package extauthz

import (
	"maps"
	"sync"
	"sync/atomic"
)

// bindings interns verifiedToken values, so that a cache entry holds one
// pointer to the provider and key that verified its token, shared by every
// token they verified, instead of both pointers.
//
// There is one binding per provider and key, so the table changes only
// when a provider or key is first used after a start, a key rotation or a
// reload. Reads take no lock: the table is copied on write.
type bindings struct {
	mu sync.Mutex
	m  atomic.Pointer[map[verifiedToken]*verifiedToken]
}

// get returns the interned copy of vt. Adding one drops the bindings of
// keys that have left their key set and of providers pol no longer has, so
// the table stays as small as the keys in use; a cache entry that still
// points at a dropped binding is refused on its next hit anyway.
func (b *bindings) get(pol *Policy, vt verifiedToken) *verifiedToken {
	if m := b.m.Load(); m != nil {
		if p, ok := (*m)[vt]; ok {
			return p
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.m.Load()
	if old != nil {
		if p, ok := (*old)[vt]; ok {
			return p
		}
	}
	next := make(map[verifiedToken]*verifiedToken, 1)
	if old != nil {
		maps.Copy(next, *old)
	}
	for k := range next {
		if _, current := pol.providers[k.prov]; !current || k.key.Removed() {
			delete(next, k)
		}
	}
	p := &verifiedToken{prov: vt.prov, key: vt.key}
	next[vt] = p
	b.m.Store(&next)
	return p
}
