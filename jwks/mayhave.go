package jwks

// MayHave reports, without blocking, fetching or allocating, whether Key
// could return a key (or ErrUnavailable) for kid right now: the kid is in
// the current set, the set is not fresh, or an unknown kid would trigger a
// refetch. False means Key would return ErrUnknownKey at once, so a caller
// may reject a token before doing any further work on it.
func (s *Source) MayHave(kid string) bool {
	ks := s.set.Load()
	if ks == nil || !s.fresh() {
		return true
	}
	if ks.lookup(kid) != nil {
		return true
	}
	if kid == "" {
		return false
	}
	return s.inflight.Load() != nil || !s.withinFloor()
}

// MayHave reports whether Key could return a key (or ErrUnavailable) for
// kid; the set of a Static source only changes through Replace.
func (s *Static) MayHave(kid string) bool {
	ks := s.set.Load()
	return ks == nil || len(ks.all) == 0 || ks.lookup(kid) != nil
}
