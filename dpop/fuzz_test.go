package dpop

import (
	"context"
	"testing"
	"time"
)

// FuzzCheck feeds arbitrary DPoP header values to a checker: whatever the
// input, Check returns an answer, never panics, and accepts nothing that
// is not a proof signed by the key it carries (the seeds hold the RFC 9449
// example; see testdata/fuzz/FuzzCheck).
func FuzzCheck(f *testing.F) {
	f.Add(rfcProof)
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.")
	f.Add("..")
	c, err := New(Config{Provider: "fuzz", Replay: newSeenOnce()})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(rfcIAT, 0)
	req := Request{Method: "POST", URI: "https://server.example.com/token", AccessToken: "t"}
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := c.Check(context.Background(), proof, req, now)
		if err == nil && (p.JKT == "" || p.JTI == "") {
			t.Fatalf("accepted without key or jti: %+v", p)
		}
	})
}
