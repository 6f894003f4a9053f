package jwks

import (
	"errors"
	"slices"
	"testing"
)

func TestStatic(t *testing.T) {
	a, b := testKey(t, "a", "a", "ES256"), testKey(t, "b", "b", "ES256")
	s := NewStatic("self", []*Key{a, nil, b, testKey(t, "c", "a", "ES256")})
	ctx := t.Context()

	if !s.Ready() {
		t.Fatal("not ready")
	}
	if got := s.Status(); got.Provider != "self" || !slices.Equal(got.KeyIDs, []string{"a", "b"}) || !got.Ready || got.LastSuccess.IsZero() {
		t.Fatalf("status = %+v", got)
	}
	if k, err := s.Key(ctx, "a"); err != nil || k != a {
		t.Fatalf("Key(a) = %v, %v; the first key with a kid wins", k, err)
	}
	if _, err := s.Key(ctx, ""); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Key(\"\") with two keys: %v", err)
	}
	if _, err := s.Key(ctx, "zz"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Key(zz): %v", err)
	}

	// Replace keeps the pointer of an equal key and marks the dropped one.
	bAgain := testKey(t, "b", "b", "ES256")
	s.Replace([]*Key{bAgain})
	if k, _ := s.Key(ctx, "b"); k != b {
		t.Fatal("b got a new *Key")
	}
	if k, err := s.Key(ctx, ""); err != nil || k != b {
		t.Fatalf("Key(\"\") with one key = %v, %v", k, err)
	}
	if !a.Removed() || b.Removed() {
		t.Fatalf("removed: a=%v b=%v", a.Removed(), b.Removed())
	}
	if len(s.Keys()) != 1 {
		t.Fatal("Keys() after Replace")
	}

	s.Replace(nil)
	if s.Ready() || !b.Removed() {
		t.Fatal("an empty static set is ready")
	}
	if _, err := s.Key(ctx, "b"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Key on an empty set: %v", err)
	}
}

func TestZeroStatic(t *testing.T) {
	var s Static
	if _, err := s.Key(t.Context(), "a"); !errors.Is(err, ErrUnavailable) || s.Ready() || s.Keys() != nil {
		t.Fatalf("zero Static: %v", err)
	}
	_ = s.Status()
	k := testKey(t, "a", "a", "")
	s.Replace([]*Key{k})
	if got, err := s.Key(t.Context(), "a"); err != nil || got != k {
		t.Fatalf("after Replace: %v, %v", got, err)
	}
}
