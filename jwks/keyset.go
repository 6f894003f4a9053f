package jwks

// keySet is an immutable snapshot of a provider's keys. Readers reach it
// through an atomic.Pointer and never lock; a change builds a new keySet.
type keySet struct {
	byID map[string]*Key // keys with a kid; the first of a kid wins
	all  []*Key          // every key, in document order
}

// identity is what makes two keys from different fetches the same key. The
// algorithm is part of it because a Key is immutable: a JWK whose "alg"
// changed needs a new Key.
type identity struct {
	kid, alg, thumbprint string
}

func identityOf(k *Key) identity {
	return identity{kid: k.ID, alg: k.Algorithm, thumbprint: k.Thumbprint}
}

// newKeySet indexes keys, which must already be free of duplicate kids.
func newKeySet(keys []*Key) *keySet {
	ks := &keySet{byID: make(map[string]*Key, len(keys)), all: keys}
	for _, k := range keys {
		if k.ID == "" {
			continue
		}
		if _, dup := ks.byID[k.ID]; !dup {
			ks.byID[k.ID] = k
		}
	}
	return ks
}

// lookup finds the key for kid without allocating. A token without a kid
// can only be matched when the set holds exactly one key.
func (ks *keySet) lookup(kid string) *Key {
	if kid == "" {
		if len(ks.all) == 1 {
			return ks.all[0]
		}
		return nil
	}
	return ks.byID[kid]
}

// lookupErr is lookup reporting a miss as ErrUnknownKey.
func (ks *keySet) lookupErr(kid string) (*Key, error) {
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// ids lists the key ids in document order ("" for a key without one).
func (ks *keySet) ids() []string {
	if ks == nil {
		return nil
	}
	out := make([]string, len(ks.all))
	for i, k := range ks.all {
		out[i] = k.ID
	}
	return out
}

// keys returns a copy of the key list that callers may keep and modify.
func (ks *keySet) keys() []*Key {
	if ks == nil {
		return nil
	}
	return append([]*Key(nil), ks.all...)
}

// merge builds the set that replaces prev (nil for none) with next. A key of
// next with the same identity as a key of prev is replaced by prev's *Key,
// so that anything remembered about that pointer (verified-token cache
// entries) stays valid. It returns the keys new to the set and the keys of
// prev that left it; the caller marks those removed once the new set is
// published.
func merge(prev *keySet, next []*Key) (merged *keySet, added, removed []*Key) {
	old := make(map[identity]*Key)
	if prev != nil {
		for _, k := range prev.all {
			old[identityOf(k)] = k
		}
	}
	keys := make([]*Key, 0, len(next))
	for _, k := range next {
		id := identityOf(k)
		if o, ok := old[id]; ok {
			keys = append(keys, o)
			delete(old, id)
			continue
		}
		keys = append(keys, k)
		added = append(added, k)
	}
	if prev != nil {
		for _, k := range prev.all {
			if _, gone := old[identityOf(k)]; gone {
				removed = append(removed, k)
			}
		}
	}
	return newKeySet(keys), added, removed
}
