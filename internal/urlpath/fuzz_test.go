package urlpath

import (
	"strings"
	"testing"
)

// FuzzNormalize: Normalize never panics, its result is a fixed point in
// both modes, it never holds what the canonical form excludes, and Reject
// accepts nothing Envoy mode would read differently.
func FuzzNormalize(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, m := range []Mode{Reject, Envoy} {
			got, ok := Normalize(p, m)
			if !ok {
				continue
			}
			if again, ok := Normalize(got, m); !ok || again != got {
				t.Fatalf("mode %d: %q -> %q -> %q, %v", m, p, got, again, ok)
			}
			if !strings.HasPrefix(got, "/") || strings.Contains(got, "//") || strings.ContainsAny(got, "\\?# \x00") {
				t.Fatalf("mode %d: %q -> %q", m, p, got)
			}
			if m == Reject {
				if e, ok := Normalize(p, Envoy); !ok || e != got {
					t.Fatalf("%q: reject %q, envoy %q %v", p, got, e, ok)
				}
			}
		}
	})
}
