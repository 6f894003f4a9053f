package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
)

type fakeIntrospector map[string]map[string]any

func (f fakeIntrospector) Introspect(_ context.Context, raw string) (map[string]any, error) {
	if c, ok := f[raw]; ok {
		return c, nil
	}
	return nil, errors.New("token is revoked")
}

func TestIntrospectHandler(t *testing.T) {
	in := fakeIntrospector{
		"good": {"iss": "https://idp.example.com/", "sub": "alice", "aud": []any{"a", "b"}, "exp": 1900000000, "iat": 1800000000,
			"jti": "j", "sid": "s", "scope": "read", "email": "alice@example.com", "realm_access": map[string]any{"roles": []any{"x"}}},
		"scp": {"sub": "bob", "scp": []any{"read", "write"}},
	}
	tests := map[string]struct {
		in   Introspector
		raw  string
		want string
	}{
		"active": {in, "good",
			`{"active":true,"aud":["a","b"],"exp":1900000000,"iat":1800000000,"iss":"https://idp.example.com/","jti":"j","scope":"read","sid":"s","sub":"alice","token_type":"Bearer"}`},
		"scp as scope":    {in, "scp", `{"active":true,"scope":"read write","sub":"bob","token_type":"Bearer"}`},
		"inactive":        {in, "revoked", `{"active":false}`},
		"no introspector": {nil, "good", `{"active":false}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := post(IntrospectHandler(tc.in), PathIntrospect, url.Values{"token": {tc.raw}, "token_type_hint": {"access_token"}})
			if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d headers %v", rec.Code, rec.Header())
			}
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal([]byte(tc.want), &want)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Fatalf("body %s, want %s", g, w)
			}
		})
	}
	t.Run("missing token", func(t *testing.T) {
		rec := post(IntrospectHandler(in), PathIntrospect, url.Values{})
		if code := oauthErr(t, rec, 400); code != "invalid_request" {
			t.Fatalf("code %q", code)
		}
	})
}
