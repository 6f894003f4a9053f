package dpop

import (
	"context"
	"strings"
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

// FuzzCanonicalHTU feeds arbitrary htu values to the URI normalization a
// proof's htu goes through: it never panics, and what it accepts is in
// canonical form already (normalizing it again changes nothing) and has
// no query or fragment.
func FuzzCanonicalHTU(f *testing.F) {
	for _, s := range []string{
		"https://server.example.com/token", "HTTPS://API.Example.COM:443/a/./b/../c?x#y",
		"http://h:80", "https://[::1]:8443/%7Euser", "https://user@h/", "ftp://h/", "https://h/%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, htu string) {
		c, ok := canonicalHTU(htu)
		if !ok {
			return
		}
		again, ok := canonicalHTU(c)
		if !ok || again != c {
			t.Fatalf("canonicalHTU(%q) = %q, and again %q, %v", htu, c, again, ok)
		}
		if strings.ContainsAny(c[len("https://"):], "?#") && !strings.Contains(htu, "%") {
			t.Fatalf("canonicalHTU(%q) = %q keeps a query or fragment", htu, c)
		}
	})
}
