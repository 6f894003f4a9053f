package dpop

import (
	"errors"
	"fmt"
)

// Errors a Check returns; callers branch on them with errors.Is.
var (
	// ErrInvalidProof refuses a proof that is missing, malformed, signed
	// with a refused algorithm or key, for another request, token or key,
	// too old or too new, or already used (RFC 9449 invalid_dpop_proof).
	ErrInvalidProof = errors.New("dpop: invalid proof")
	// ErrUseNonce refuses a proof without a current server nonce where one
	// is required (RFC 9449 use_dpop_nonce); the client retries with the
	// nonce the answer carries.
	ErrUseNonce = errors.New("dpop: nonce required")
	// ErrReplayUnavailable means the replay cache could not tell whether
	// the proof was used before; the proof is refused (fail closed), and
	// the client may retry.
	ErrReplayUnavailable = errors.New("dpop: replay cache unavailable")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidProof}, args...)...)
}
