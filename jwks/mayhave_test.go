package jwks

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
)

func TestStaticMayHave(t *testing.T) {
	if !(&Static{}).MayHave("x") {
		t.Fatal("an empty static source must defer to Key (keys unavailable)")
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, err := FromPublicKey("k1", "EdDSA", pub)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStatic("self", []*Key{k})
	tests := map[string]bool{"k1": true, "k2": false, "": true}
	for kid, want := range tests {
		if got := s.MayHave(kid); got != want {
			t.Errorf("MayHave(%q) = %v, want %v", kid, got, want)
		}
	}
}
