package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigLoad checks that Parse never panics, that it returns either a
// valid Config or only *FieldError problems, and that it is deterministic.
// The seed corpus is testdata/fuzz/FuzzConfigLoad plus every YAML fixture.
func FuzzConfigLoad(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a Config with an error")
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("error %T is not a joined error", err)
			}
			for _, e := range joined.Unwrap() {
				var fe *FieldError
				if !errors.As(e, &fe) || fe.Msg == "" {
					t.Fatalf("problem %q is not a *FieldError with a message", e)
				}
			}
			_, again := Parse(data)
			if again == nil || again.Error() != err.Error() {
				t.Fatalf("Parse is not deterministic:\n%v\nthen\n%v", err, again)
			}
			return
		}
		if c == nil {
			t.Fatal("Parse returned neither a Config nor an error")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		for _, p := range c.Providers {
			if ProviderFingerprint(p) == "" {
				t.Fatal("empty fingerprint")
			}
		}
	})
}
