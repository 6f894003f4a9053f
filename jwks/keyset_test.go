package jwks

import (
	"strings"
	"testing"
)

func testKey(t *testing.T, name, kid, alg string) *Key {
	t.Helper()
	k, err := FromPublicKey(kid, alg, &ecKey(t, name).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeySetLookup(t *testing.T) {
	a, b, anon := testKey(t, "a", "a", ""), testKey(t, "b", "b", ""), testKey(t, "anon", "", "")
	tests := []struct {
		name string
		keys []*Key
		kid  string
		want *Key
	}{
		{name: "by kid", keys: []*Key{a, b}, kid: "b", want: b},
		{name: "unknown kid", keys: []*Key{a, b}, kid: "c"},
		{name: "no kid, one key", keys: []*Key{a}, kid: "", want: a},
		{name: "no kid, one key without kid", keys: []*Key{anon}, kid: "", want: anon},
		{name: "no kid, two keys", keys: []*Key{a, anon}, kid: ""},
		{name: "kid, only a key without kid", keys: []*Key{anon}, kid: "a"},
		{name: "empty set", keys: nil, kid: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newKeySet(tt.keys).lookup(tt.kid); got != tt.want {
				t.Fatalf("lookup(%q) = %v, want %v", tt.kid, got, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	a := testKey(t, "a", "a", "ES256")
	b := testKey(t, "b", "b", "ES256")
	bAgain := testKey(t, "b", "b", "ES256")   // same identity, new pointer
	bRekeyed := testKey(t, "a", "b", "ES256") // same kid, other key material
	bNoAlg := testKey(t, "b", "b", "")        // same material, alg dropped
	c := testKey(t, "c", "c", "ES256")

	tests := []struct {
		name        string
		prev        []*Key
		next        []*Key
		wantKeys    []*Key
		wantAdded   string
		wantRemoved string
	}{
		{name: "first load", next: []*Key{a, b}, wantKeys: []*Key{a, b}, wantAdded: "a b"},
		{name: "same keys keep pointers", prev: []*Key{a, b}, next: []*Key{bAgain}, wantKeys: []*Key{b}, wantRemoved: "a"},
		{name: "rotation", prev: []*Key{a, b}, next: []*Key{bAgain, c}, wantKeys: []*Key{b, c}, wantAdded: "c", wantRemoved: "a"},
		{name: "kid reused for other material", prev: []*Key{b}, next: []*Key{bRekeyed}, wantKeys: []*Key{bRekeyed}, wantAdded: "b", wantRemoved: "b"},
		{name: "alg changed", prev: []*Key{b}, next: []*Key{bNoAlg}, wantKeys: []*Key{bNoAlg}, wantAdded: "b", wantRemoved: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev *keySet
			if tt.prev != nil {
				prev = newKeySet(tt.prev)
			}
			got, added, removed := merge(prev, tt.next)
			if len(got.all) != len(tt.wantKeys) {
				t.Fatalf("merged %d keys, want %d", len(got.all), len(tt.wantKeys))
			}
			for i, k := range tt.wantKeys {
				if got.all[i] != k {
					t.Errorf("key %d: got %p (%s), want %p", i, got.all[i], got.all[i].ID, k)
				}
				if got.byID[k.ID] != k {
					t.Errorf("byID[%q] is not the merged key", k.ID)
				}
			}
			if s := strings.Join(kids(added), " "); s != tt.wantAdded {
				t.Errorf("added = %q, want %q", s, tt.wantAdded)
			}
			if s := strings.Join(kids(removed), " "); s != tt.wantRemoved {
				t.Errorf("removed = %q, want %q", s, tt.wantRemoved)
			}
		})
	}
}
