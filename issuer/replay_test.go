package issuer

import (
	"path/filepath"
	"testing"
	"time"
)

func TestReplaySealing(t *testing.T) {
	dir := t.TempDir()
	oldPath := filepath.Join(dir, "old.pem")
	old, err := LoadKeys(oldPath, nil, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := LoadKeys(filepath.Join(dir, "new.pem"), []string{oldPath}, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	stranger := testKeys(t, AlgEdDSA)

	now := time.Unix(1_900_000_000, 0)
	resp := &TokenResponse{AccessToken: "a.b.c", RefreshToken: "d.e.f", Scope: "read", TokenType: "Bearer", ExpiresIn: 300}
	sealed, err := old.sealReplay("sid", "jti", resp, now.Add(300*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		keys     *Keys
		sid, jti string
		sealed   []byte
		ok       bool
	}{
		"same key":                {old, "sid", "jti", sealed, true},
		"key now previous":        {rotated, "sid", "jti", sealed, true},
		"unrelated key":           {stranger, "sid", "jti", sealed, false},
		"other session":           {old, "sid2", "jti", sealed, false},
		"other jti":               {old, "sid", "jti2", sealed, false},
		"truncated":               {old, "sid", "jti", sealed[:10], false},
		"empty":                   {old, "sid", "jti", nil, false},
		"flipped ciphertext byte": {old, "sid", "jti", flip(sealed, len(sealed)-20), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.keys.openReplay(tc.sid, tc.jti, tc.sealed, now.Add(100*time.Second))
			if tc.ok != (err == nil) {
				t.Fatalf("openReplay: %v", err)
			}
			if tc.ok && (*got != TokenResponse{AccessToken: "a.b.c", RefreshToken: "d.e.f", Scope: "read", TokenType: "Bearer", ExpiresIn: 200}) {
				t.Fatalf("opened %+v", got)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 1
	return out
}
