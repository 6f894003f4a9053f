package jwks

import "testing"

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url       string
		allowHTTP bool
		ok        bool
	}{
		{url: "https://idp.example.com/jwks", ok: true},
		{url: "https://idp.example.com:8443/jwks", ok: true},
		{url: "http://127.0.0.1:8080/jwks", ok: true},
		{url: "http://127.8.9.10/jwks", ok: true},
		{url: "http://[::1]:80/jwks", ok: true},
		{url: "http://localhost/jwks", ok: true},
		{url: "http://LocalHost:9/jwks", ok: true},
		{url: "http://[::ffff:127.0.0.1]/jwks", ok: true},
		{url: "http://idp.example.com/jwks"},
		{url: "http://idp.example.com/jwks", allowHTTP: true, ok: true},
		{url: "http://10.0.0.1/jwks"},
		{url: "http://0.0.0.0/jwks"},
		{url: "http://localhost.example.com/jwks"},
		{url: "http://127.0.0.1.nip.io/jwks"},
		{url: "ftp://idp.example.com/jwks"},
		{url: "file:///etc/jwks.json"},
		{url: "https:///jwks"},
		{url: "/jwks"},
		{url: "idp.example.com/jwks"},
		{url: "https://idp.example.com/%zz"},
		{url: ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := checkURL(tt.url, tt.allowHTTP)
			if tt.ok != (err == nil) {
				t.Fatalf("checkURL(%q, %v) err = %v, want ok=%v", tt.url, tt.allowHTTP, err, tt.ok)
			}
		})
	}
}
