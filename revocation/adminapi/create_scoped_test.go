package adminapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

// check is a token to ask the index about after a revocation.
type check struct {
	provider, jti, sid, sub string
	iat                     int64
	want                    error
}

func TestCreateScoped(t *testing.T) {
	hour := int64(3600)
	tests := map[string]struct {
		body   string
		want   entryJSON
		checks []check
	}{
		"sid of one provider": {
			body: `{"sid":"s-1","provider":"corp"}`,
			want: entryJSON{Kind: "sid", Provider: "corp", Value: "s-1", ExpiresAt: now.Unix() + hour},
			checks: []check{
				{provider: "corp", sid: "s-1", want: revocation.ErrRevoked},
				{provider: "self", sid: "s-1", want: nil},
			},
		},
		"sub of one provider": {
			body: fmt.Sprintf(`{"sub":"alice","provider":"self","before":%d}`, now.Unix()-10),
			want: entryJSON{Kind: "sub", Provider: "self", Value: "alice", Before: now.Unix() - 10, ExpiresAt: now.Unix() + hour},
			checks: []check{
				{provider: "self", sub: "alice", iat: now.Unix() - 10, want: revocation.ErrRevoked},
				{provider: "self", sub: "alice", iat: now.Unix() - 9, want: nil},
				{provider: "corp", sub: "alice", iat: 1, want: nil},
			},
		},
		"every token of a provider, before now": {
			body: `{"provider":"corp"}`,
			want: entryJSON{Kind: "provider", Value: "corp", Before: now.Unix(), ExpiresAt: now.Unix() + hour},
			checks: []check{
				{provider: "corp", jti: "any", iat: now.Unix(), want: revocation.ErrRevoked},
				{provider: "corp", jti: "any", iat: now.Unix() + 1, want: nil},
				{provider: "self", jti: "any", iat: 1, want: nil},
			},
		},
		"every token of a provider, before a cut-off": {
			body: fmt.Sprintf(`{"provider":"self","before":%d}`, now.Unix()-100),
			want: entryJSON{Kind: "provider", Value: "self", Before: now.Unix() - 100, ExpiresAt: now.Unix() + hour},
			checks: []check{
				{provider: "self", iat: now.Unix() - 100, want: revocation.ErrRevoked},
				{provider: "self", iat: now.Unix() - 99, want: nil},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, memory.New(nil), nil)
			rec := s.do(t, http.MethodPost, "/admin/revocations", tc.body, nil)
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d, body %s; want 201", rec.Code, rec.Body)
			}
			var got entryJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			tc.want.CreatedAt = now.UnixMilli()
			if got != tc.want {
				t.Fatalf("response %+v, want %+v", got, tc.want)
			}
			for _, c := range tc.checks {
				if err := s.svc.Index().Check(c.provider, c.jti, c.sid, c.sub, c.iat); err != c.want {
					t.Errorf("Check(%+v) = %v, want %v", c, err, c.want)
				}
			}
			name := tc.want.Provider
			if name == "" {
				name = tc.want.Value
			}
			if logs := s.logs.String(); !strings.Contains(logs, "provider="+name) {
				t.Errorf("audit line does not name the provider:\n%s", logs)
			}

			// GET shows the stored entry with its provider.
			q := "?kind=" + tc.want.Kind
			if tc.want.Provider != "" {
				q += "&provider=" + tc.want.Provider
			}
			rec = s.do(t, http.MethodGet, "/admin/revocations/"+tc.want.Value+q, "", nil)
			var shown entryJSON
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &shown) != nil || shown != tc.want {
				t.Fatalf("GET: status %d, body %s; want 200 with %+v", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

func TestCreateScopedRejects(t *testing.T) {
	tooFar := now.Add(11 * 365 * 24 * time.Hour).Unix()
	tests := map[string]struct {
		body string
		// mention must appear in the error description.
		mention string
	}{
		"unknown provider":           {body: `{"provider":"nope"}`, mention: `"nope"`},
		"unknown provider with sid":  {body: `{"sid":"s","provider":"nope"}`, mention: `"nope"`},
		"malformed provider":         {body: `{"provider":"Corp A"}`, mention: "a-z"},
		"empty provider":             {body: `{"provider":""}`, mention: "provider"},
		"provider with jti":          {body: `{"jti":"j","exp":1767225600,"provider":"corp"}`, mention: "provider"},
		"provider with token":        {body: `{"token":"live.valid.token","provider":"corp"}`, mention: "provider"},
		"provider with zero before":  {body: `{"provider":"corp","before":0}`, mention: "before"},
		"provider before too far":    {body: fmt.Sprintf(`{"provider":"corp","before":%d}`, tooFar), mention: "ten years"},
		"before with scoped sid":     {body: `{"sid":"s","provider":"corp","before":5}`, mention: "before"},
		"provider name not a string": {body: `{"provider":5}`, mention: "provider"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			store := memory.New(nil)
			s := newServer(t, store, inspector)
			rec := s.do(t, http.MethodPost, "/admin/revocations", tc.body, nil)
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error != "invalid_request" {
				t.Fatalf("status %d, body %s; want 400 invalid_request", rec.Code, rec.Body)
			}
			if !strings.Contains(e.Description, tc.mention) {
				t.Fatalf("error %q does not mention %s", e.Description, tc.mention)
			}
			n := 0
			_ = store.List(t.Context(), time.Unix(0, 0), func(revocation.Entry) error { n++; return nil })
			if n != 0 {
				t.Fatalf("a rejected request stored %d entries", n)
			}
		})
	}
}

func TestGetScopedRejects(t *testing.T) {
	s := newServer(t, memory.New(nil), nil)
	for _, path := range []string{
		"/admin/revocations/j?provider=corp",          // jti entries are never scoped
		"/admin/revocations/s?kind=sid&provider=nope", // unknown provider
		"/admin/revocations/corp?kind=provider&provider=corp",
	} {
		if rec := s.do(t, http.MethodGet, path, "", nil); rec.Code != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400", path, rec.Code)
		}
	}
}
