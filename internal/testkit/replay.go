package testkit

import (
	"context"
	"time"
)

// NeverSeen is a replay cache (package replay's Cache) for which every id
// is new, so that one proof or logout token can be presented again and
// again: for benchmarks of what comes before the replay check, which has
// benchmarks of its own, and for fuzzers that may repeat an id.
type NeverSeen struct{}

// Claim reports every id as claimed for the first time.
func (NeverSeen) Claim(context.Context, string, string, time.Time) (bool, error) { return true, nil }
