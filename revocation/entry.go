package revocation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Kind names what an Entry revokes. Its values are used as metric labels
// and in the admin API, so they never change.
type Kind string

// The kinds of revocation.
const (
	// KindJTI revokes one token by its "jti" claim.
	KindJTI Kind = "jti"
	// KindSID revokes every token of one session by its "sid" claim.
	KindSID Kind = "sid"
	// KindSub revokes every token of one subject ("sub") whose "iat" is
	// at or before Entry.Before.
	KindSub Kind = "sub"
	// KindProvider revokes every token of one provider (Value is its
	// configured name) whose "iat" is at or before Entry.Before: a mass
	// logout in one entry.
	KindProvider Kind = "provider"
	// KindSIDSet revokes every token whose "sid" claim is in a set of
	// sessions: a mass logout of explicit sessions in one entry. Value is
	// the set's random identifier (see NewSetID) and Set its content.
	KindSIDSet Kind = "sid_set"
)

// Kinds returns every Kind, in a stable order.
func Kinds() []Kind { return []Kind{KindJTI, KindSID, KindSub, KindProvider, KindSIDSet} }

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	return k == KindJTI || k == KindSID || k == KindSub || k == KindProvider || k == KindSIDSet
}

// hasCutoff reports whether entries of kind k carry a cut-off (Before).
func (k Kind) hasCutoff() bool { return k == KindSub || k == KindProvider }

// MaxProviderBytes is the longest provider name an Entry may hold, as a
// provider's configured name is.
const MaxProviderBytes = 63

// ValidProviderName reports whether name can be a provider's configured
// name: 1 to MaxProviderBytes characters of a-z, 0-9 and "-". Stores rely
// on it: such a name holds no separator of their key formats.
func ValidProviderName(name string) bool {
	if name == "" || len(name) > MaxProviderBytes {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MaxValueBytes is the longest identifier (jti, sid or sub) an Entry may
// hold. Real identifiers are far shorter; the bound keeps stores and the
// write-back copy small and rejects junk early.
const MaxValueBytes = 256

// Entry is one revocation.
//
// Two entries with the same Kind, Provider and Value are the same
// revocation; when both are recorded, the stored result is their merge
// (see Merge).
type Entry struct {
	Kind Kind
	// Provider scopes a KindSID, KindSIDSet or KindSub entry to the tokens of one
	// provider, by its configured name ("self" for the built-in issuer);
	// "" means the tokens of every provider. Always "" for KindJTI and
	// KindProvider (whose Value names the provider).
	Provider string
	Value    string
	// Before is the cut-off of a KindSub or KindProvider entry, in unix
	// seconds: a token of the subject (or provider) whose iat is at or
	// before Before is revoked. The cut-off is inclusive because iat has
	// whole seconds: a token minted in the second of the revocation is
	// revoked too. A token without iat counts as iat 0, so it is revoked
	// as well. Zero for the other kinds.
	Before int64
	// ExpiresAt is when the entry stops mattering, in unix seconds: for a
	// jti, the token's exp plus the clock skew; for sid and sub, the refresh
	// token lifetime after the revocation. Stores drop the entry after it.
	ExpiresAt int64
	// CreatedAt is when the revocation was made, in unix milliseconds. It
	// feeds the sync-lag metric on the replicas that apply it later.
	CreatedAt int64
	// Set is the content of a KindSIDSet entry, the sessions it revokes;
	// nil for the other kinds. It is immutable and shared by every copy
	// of the entry. A set identifier names one content for its whole life.
	Set *SIDSet
}

// Validate reports why e cannot be recorded, or nil. It does not look at
// the clock; Service.Revoke also rejects entries that already expired.
func (e Entry) Validate() error {
	switch {
	case !e.Kind.Valid():
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidEntry, e.Kind)
	case e.Value == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidEntry, e.Kind)
	case len(e.Value) > MaxValueBytes:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidEntry, e.Kind, MaxValueBytes)
	case e.Kind == KindProvider && !ValidProviderName(e.Value):
		return fmt.Errorf("%w: provider name %q is not 1 to %d characters of a-z, 0-9 and -", ErrInvalidEntry, truncateName(e.Value), MaxProviderBytes)
	case e.Provider != "" && (e.Kind == KindJTI || e.Kind == KindProvider):
		return fmt.Errorf("%w: a %s revocation cannot be scoped to a provider", ErrInvalidEntry, e.Kind)
	case e.Provider != "" && !ValidProviderName(e.Provider):
		return fmt.Errorf("%w: provider name %q is not 1 to %d characters of a-z, 0-9 and -", ErrInvalidEntry, truncateName(e.Provider), MaxProviderBytes)
	case e.ExpiresAt <= 0:
		return fmt.Errorf("%w: expiry missing", ErrInvalidEntry)
	case e.CreatedAt < 0:
		return fmt.Errorf("%w: negative creation time", ErrInvalidEntry)
	case e.Kind.hasCutoff() && e.Before <= 0:
		return fmt.Errorf("%w: %s revocation needs a positive cut-off (before)", ErrInvalidEntry, e.Kind)
	case !e.Kind.hasCutoff() && e.Before != 0:
		return fmt.Errorf("%w: cut-off (before) only applies to sub and provider", ErrInvalidEntry)
	case e.Kind == KindSIDSet && e.Set.Len() == 0:
		return fmt.Errorf("%w: a sid_set revocation needs at least one session", ErrInvalidEntry)
	case e.Kind == KindSIDSet && e.Set.Len() > MaxSetSessions:
		return fmt.Errorf("%w: a sid_set revocation holds at most %d sessions", ErrInvalidEntry, MaxSetSessions)
	case e.Kind != KindSIDSet && e.Set != nil:
		return fmt.Errorf("%w: only a sid_set revocation carries a set of sessions", ErrInvalidEntry)
	}
	return nil
}

// truncateName shortens an invalid provider name quoted in an error.
func truncateName(s string) string {
	if len(s) <= MaxProviderBytes {
		return s
	}
	return s[:MaxProviderBytes] + "…"
}

// Merge combines two records of the same revocation (same Kind, Provider
// and Value)
// and reports whether the result differs from e. The merge keeps the later
// expiry and the later cut-off, so it never revokes less than either
// input; CreatedAt follows the input that changed something. Every store
// applies this rule, which makes recording an entry twice, in any order, on
// any replica, give the same result. The content of a KindSIDSet entry is
// the same in both records (its identifier names one set); e's is kept,
// or other's when e has none.
func (e Entry) Merge(other Entry) (Entry, bool) {
	merged := e
	changed := false
	if merged.Set == nil {
		merged.Set = other.Set
	}
	if other.ExpiresAt > merged.ExpiresAt {
		merged.ExpiresAt = other.ExpiresAt
		changed = true
	}
	if other.Before > merged.Before {
		merged.Before = other.Before
		changed = true
	}
	if changed {
		merged.CreatedAt = other.CreatedAt
	}
	return merged, changed
}

// IDHash returns a short, stable digest of an identifier for logs: the
// first 16 hex digits of its SHA-256. Audit lines carry it instead of the
// identifier, and an operator holding a jti can compute it to find the line.
func IDHash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:8])
}
