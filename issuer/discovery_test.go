package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(h http.Handler, method string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestDiscoveryHandler(t *testing.T) {
	for _, issuer := range []string{"https://auth.example.com", "https://auth.example.com/"} {
		t.Run(issuer, func(t *testing.T) {
			e := newEnv(t, envConfig{opts: func(o *Options) { o.Issuer = issuer }})
			rec := get(e.iss.DiscoveryHandler(), http.MethodGet, nil)
			if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "public, max-age=300" ||
				rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d headers %v", rec.Code, rec.Header())
			}
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"issuer":                 issuer,
				"jwks_uri":               "https://auth.example.com/.well-known/jwks.json",
				"token_endpoint":         "https://auth.example.com/oauth2/token",
				"revocation_endpoint":    "https://auth.example.com/oauth2/revoke",
				"introspection_endpoint": "https://auth.example.com/oauth2/introspect",
			}
			for k, v := range want {
				if doc[k] != v {
					t.Fatalf("%s = %v, want %s", k, doc[k], v)
				}
			}
			for k, v := range map[string]string{
				"grant_types_supported":                 `["refresh_token","urn:ietf:params:oauth:grant-type:token-exchange"]`,
				"id_token_signing_alg_values_supported": `["EdDSA"]`,
				"token_endpoint_auth_methods_supported": `["none"]`,
			} {
				got, _ := json.Marshal(doc[k])
				if string(got) != v {
					t.Fatalf("%s = %s, want %s", k, got, v)
				}
			}
		})
	}
}

func TestJWKSHandler(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := e.iss.JWKSHandler()
	rec := get(h, http.MethodGet, nil)
	etag := rec.Header().Get("ETag")
	if rec.Code != http.StatusOK || rec.Body.String() != string(e.iss.keys.JWKS()) || etag == "" ||
		rec.Header().Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("GET: status %d headers %v body %s", rec.Code, rec.Header(), rec.Body)
	}
	tests := map[string]struct {
		method   string
		hdr      map[string]string
		status   int
		wantBody bool
	}{
		"HEAD":                  {http.MethodHead, nil, http.StatusOK, false},
		"matching ETag":         {http.MethodGet, map[string]string{"If-None-Match": etag}, http.StatusNotModified, false},
		"weak matching ETag":    {http.MethodGet, map[string]string{"If-None-Match": `"x", W/` + etag}, http.StatusNotModified, false},
		"other ETag":            {http.MethodGet, map[string]string{"If-None-Match": `"other"`}, http.StatusOK, true},
		"POST is not allowed":   {http.MethodPost, nil, http.StatusMethodNotAllowed, true},
		"DELETE is not allowed": {http.MethodDelete, nil, http.StatusMethodNotAllowed, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := get(h, tc.method, tc.hdr)
			if rec.Code != tc.status || (rec.Body.Len() > 0) != tc.wantBody {
				t.Fatalf("status %d body %q", rec.Code, rec.Body)
			}
			if tc.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Fatalf("Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
}
