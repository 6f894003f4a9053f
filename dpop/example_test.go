package dpop_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jwt-authz/jwt-authz/dpop"
)

// seen is a replay cache on the example's own clock; a server uses
// package replay's, on the wall clock.
type seen map[string]bool

func (s seen) Claim(_ context.Context, scope, id string, _ time.Time) (bool, error) {
	if s[scope+" "+id] {
		return false, nil
	}
	s[scope+" "+id] = true
	return true, nil
}

// The proof of RFC 9449 §4.1, for POST https://server.example.com/token,
// checked as the token endpoint does (no access token, any key) at a time
// within its window, then presented again.
func ExampleChecker_Check() {
	const proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	c, err := dpop.New(dpop.Config{Provider: "self", Algorithms: []string{"ES256", "EdDSA"}, Replay: seen{}})
	if err != nil {
		panic(err)
	}
	req := dpop.Request{Method: "POST", URI: dpop.CanonicalURI("https", "server.example.com", "/token")}
	now := time.Unix(1562262616, 0).Add(10 * time.Second)
	p, err := c.Check(context.Background(), proof, req, now)
	fmt.Println(p.JKT, err)
	_, err = c.Check(context.Background(), proof, req, now)
	fmt.Println(err)
	// Output:
	// 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I <nil>
	// dpop: invalid proof: jti already used
}
