package jwks

import "time"

// Status describes a key source for the admin API and for readiness.
type Status struct {
	// Provider is the provider name.
	Provider string
	// Location is where keys come from: the JWKS or discovery URL (without
	// credentials), the file path, or "static".
	Location string
	// KeyIDs lists the kids of the current set in document order; "" stands
	// for a key without a kid.
	KeyIDs []string
	// LastFetch is when the last fetch attempt started; zero before the
	// first.
	LastFetch time.Time
	// LastSuccess is when a fetch last confirmed the keys (a new set, the
	// same set again, or not modified); zero before the first.
	LastSuccess time.Time
	// LastError is the error of the last fetch; "" when it succeeded.
	LastError string
	// NextRefresh is when the next scheduled fetch is due; zero once the
	// source is stopped.
	NextRefresh time.Time
	// Ready reports usable keys within the maximum staleness.
	Ready bool
	// SkippedKeys lists the keys of the last parsed document that are not
	// used, with why. When it holds every key of that document, the
	// document was refused (LastError wraps ErrNoUsableKeys) and the keys
	// before it, if any, keep serving.
	SkippedKeys []SkippedKey
	// StaleAt is when the keys stop serving unless a fetch confirms them
	// first: the last success plus MaxStale. Zero before the first success
	// and for keys that never go stale.
	StaleAt time.Time
}
