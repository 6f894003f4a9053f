package issuer

import (
	"errors"
	"net/http"
	"testing"
)

// fakeRevocations answers Revoked from a fixed rule and records what it
// was asked.
type fakeRevocations struct {
	revoked       bool
	err           error
	jti, sid, sub string
	iat           int64
}

func (f *fakeRevocations) Revoked(jti, sid, sub string, iat int64) (bool, error) {
	f.jti, f.sid, f.sub, f.iat = jti, sid, sub, iat
	return f.revoked, f.err
}

func TestRefreshConsultsRevocations(t *testing.T) {
	tests := map[string]struct {
		rc     fakeRevocations
		status int
		code   string
	}{
		"not revoked":  {status: http.StatusOK},
		"revoked":      {rc: fakeRevocations{revoked: true}, status: http.StatusBadRequest, code: "invalid_grant"},
		"store failed": {rc: fakeRevocations{err: errors.New("revocation: store unavailable")}, status: http.StatusServiceUnavailable, code: "temporarily_unavailable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rc := tc.rc
			e := newEnv(t, envConfig{opts: func(o *Options) { o.Revocations = &rc }})
			pair := e.mint(t, "alice", "read", nil)
			rec := e.refresh(pair.RefreshToken)
			if tc.status == http.StatusOK {
				tokenOK(t, rec)
			} else if code := oauthErr(t, rec, tc.status); code != tc.code {
				t.Fatalf("error %q, want %q", code, tc.code)
			}
			_, claims := parts(t, pair.RefreshToken)
			if rc.sub != "alice" || rc.jti != claims["jti"] || rc.sid != claims["sid"] || float64(rc.iat) != claims["iat"] {
				t.Fatalf("asked about jti %q sid %q sub %q iat %d, want the refresh token's %v", rc.jti, rc.sid, rc.sub, rc.iat, claims)
			}
		})
	}
}
