package revocation

import "errors"

// ErrRevoked reports that a token matches a revocation entry.
var ErrRevoked = errors.New("revocation: revoked")

// ErrUnavailable reports that the revocation state cannot be trusted: the
// shared store has been unreachable for longer than Options.MaxStaleness, it
// has never been reached since start, or a store operation failed. Callers
// deny the request (reason store_unavailable) rather than allow it.
var ErrUnavailable = errors.New("revocation: store unavailable")

// ErrInvalidEntry reports an Entry that cannot be recorded (unknown kind,
// empty or oversized value, missing cut-off, already expired). The wrapped
// message says which rule it broke.
var ErrInvalidEntry = errors.New("revocation: invalid entry")
