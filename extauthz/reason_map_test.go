package extauthz

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/token"
)

// reasonFor answers the same for a sentinel error whether it comes bare
// (the map) or wrapped (errors.Is), and fails closed on anything else.
func TestReasonForSentinelsAndWrapped(t *testing.T) {
	for err, want := range map[error]Reason{
		token.ErrTooLarge:         ReasonTooLarge,
		token.ErrMalformed:        ReasonMalformed,
		token.ErrUnsupportedAlg:   ReasonUnsupportedAlg,
		token.ErrUnknownIssuer:    ReasonUnknownIssuer,
		token.ErrUnknownKey:       ReasonUnknownKID,
		token.ErrSignature:        ReasonBadSignature,
		token.ErrKeysUnavailable:  ReasonKeysUnavailable,
		token.ErrExpired:          ReasonExpired,
		token.ErrNotYetValid:      ReasonNotYetValid,
		token.ErrLifetimeExceeded: ReasonLifetimeExceeded,
		token.ErrAudience:         ReasonBadAudience,
		token.ErrType:             ReasonBadTyp,
		revocation.ErrUnavailable: ReasonStoreUnavailable,
		revocation.ErrRevoked:     ReasonRevoked,
	} {
		if got := reasonFor(err); got != want {
			t.Errorf("reasonFor(%v) = %v, want %v", err, got, want)
		}
		if got := reasonFor(fmt.Errorf("context: %w", err)); got != want {
			t.Errorf("reasonFor(wrapped %v) = %v, want %v", err, got, want)
		}
	}
	if len(sentinelReasons) != 14 {
		t.Errorf("%d sentinels mapped, want 14", len(sentinelReasons))
	}
	if got := reasonFor(nil); got != ReasonOK {
		t.Errorf("reasonFor(nil) = %v", got)
	}
	if got := reasonFor(errors.New("something else")); got != ReasonMalformed {
		t.Errorf("an unclassified error gave %v, want the fail-closed %v", got, ReasonMalformed)
	}
}

// The shortcuts of reasonFor (a bare sentinel, a sentinel under one wrap)
// never answer differently from classify, whatever the wrapping.
func TestReasonForAgreesWithClassify(t *testing.T) {
	v, err := token.NewVerifier(nil, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := []error{
		fmt.Errorf("a: %w", fmt.Errorf("b: %w", token.ErrExpired)),
		fmt.Errorf("%w: %w", token.ErrKeysUnavailable, token.ErrUnknownKey),
		fmt.Errorf("%w: %w", revocation.ErrUnavailable, token.ErrMalformed),
		errors.Join(token.ErrSignature, token.ErrTooLarge),
		errors.New("something else"),
	}
	for _, raw := range []string{"garbage", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30.x", "bnVsbA.e30.x",
		"eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.x", "eyJjcml0IjpbXX0.e30.x"} {
		errs = append(errs, v.Precheck(raw))
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("a bad token passed Precheck")
		}
		if got, want := reasonFor(err), classify(err); got != want {
			t.Errorf("reasonFor(%v) = %v, classify %v", err, got, want)
		}
	}
}
