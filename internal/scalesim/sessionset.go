package scalesim

import (
	"fmt"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// sessionSet returns the maker of the run's session-set mass logout: one
// KindSIDSet entry of n sessions, named like the other entries so that
// the replicas' applies are timed alike. The set is built here, before
// the phase: the admin API builds it while it reads the request, and
// the phase times what follows, the write (content, then the entry and
// its announcement) and every replica's load of the content.
func (s *sim) sessionSet(n int) entryMaker {
	var b revocation.SIDSetBuilder
	for i := range n {
		b.Add(fmt.Sprintf("%s-session-%d", s.t.ids.prefix, i))
	}
	set := b.Set()
	return func(i int, expires int64) revocation.Entry {
		return revocation.Entry{Kind: revocation.KindSIDSet, Value: s.t.ids.value(i), Set: set, ExpiresAt: expires}
	}
}
