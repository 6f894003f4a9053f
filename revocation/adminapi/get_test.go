package adminapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

func TestGet(t *testing.T) {
	s := newServer(t, memory.New(nil), nil)
	for _, body := range []string{
		fmt.Sprintf(`{"jti":"known","exp":%d}`, now.Unix()+60),
		fmt.Sprintf(`{"jti":"with/slash and space","exp":%d}`, now.Unix()+60),
		`{"sid":"sess"}`,
	} {
		if rec := s.do(t, http.MethodPost, "/admin/revocations", body, nil); rec.Code != 201 {
			t.Fatalf("setup: %d %s", rec.Code, rec.Body)
		}
	}
	tests := map[string]struct {
		path   string
		status int
		want   entryJSON
	}{
		"revoked jti":      {path: "/admin/revocations/known", status: 200, want: entryJSON{Kind: "jti", Value: "known", ExpiresAt: now.Unix() + 90, CreatedAt: now.UnixMilli()}},
		"escaped path":     {path: "/admin/revocations/with%2Fslash%20and%20space", status: 200, want: entryJSON{Kind: "jti", Value: "with/slash and space", ExpiresAt: now.Unix() + 90, CreatedAt: now.UnixMilli()}},
		"sid by kind":      {path: "/admin/revocations/sess?kind=sid", status: 200, want: entryJSON{Kind: "sid", Value: "sess", ExpiresAt: now.Unix() + 3600, CreatedAt: now.UnixMilli()}},
		"not revoked":      {path: "/admin/revocations/unknown", status: 404},
		"sid is not a jti": {path: "/admin/revocations/sess", status: 404},
		"bad kind":         {path: "/admin/revocations/known?kind=iss", status: 400},
		"oversized":        {path: "/admin/revocations/" + strings.Repeat("a", revocation.MaxValueBytes+1), status: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := s.do(t, http.MethodGet, tc.path, "", nil)
			if rec.Code != tc.status {
				t.Fatalf("status %d, body %s; want %d", rec.Code, rec.Body, tc.status)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("body is not JSON: %s", rec.Body)
			}
			if tc.status == 200 {
				var got entryJSON
				_ = json.Unmarshal(rec.Body.Bytes(), &got)
				if got != tc.want {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}
