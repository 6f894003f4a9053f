package jwks

import (
	"strings"
	"testing"
	"time"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // "" for valid
	}{
		{name: "uri", opts: Options{Provider: "p", JWKSURI: "https://idp.example.com/jwks"}},
		{name: "discovery", opts: Options{Provider: "p", Discovery: true, Issuer: "https://idp.example.com"}},
		{name: "file", opts: Options{Provider: "p", File: "/etc/jwks.json"}},
		{name: "no provider", opts: Options{JWKSURI: "https://idp.example.com/jwks"}, wantErr: "provider name"},
		{name: "no source", opts: Options{Provider: "p"}, wantErr: "exactly one"},
		{name: "two sources", opts: Options{Provider: "p", JWKSURI: "https://idp.example.com/jwks", File: "/x"}, wantErr: "exactly one"},
		{name: "discovery without issuer", opts: Options{Provider: "p", Discovery: true}, wantErr: "needs an issuer"},
		{name: "bad scheme", opts: Options{Provider: "p", JWKSURI: "ftp://idp.example.com/jwks"}, wantErr: "scheme"},
		{name: "negative interval", opts: Options{Provider: "p", File: "/x", RefreshInterval: -time.Second}, wantErr: "negative"},
		{name: "min above max", opts: Options{Provider: "p", File: "/x", MinRefreshInterval: time.Hour}, wantErr: "exceeds"},
		{name: "max stale below interval", opts: Options{Provider: "p", File: "/x", MaxStale: time.Minute}, wantErr: "shorter"},
		{name: "every problem reported", opts: Options{MaxStale: time.Minute}, wantErr: "provider name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Stop()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := New(Options{Provider: "p", JWKSURI: "https://idp.example.com/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	o := s.opts
	if o.RefreshInterval != DefaultRefreshInterval || o.MinRefreshInterval != DefaultMinRefreshInterval || o.MaxStale != DefaultMaxStale {
		t.Fatalf("defaults: %v %v %v", o.RefreshInterval, o.MinRefreshInterval, o.MaxStale)
	}
	if o.Logger == nil || o.Metrics == nil || o.Clock == nil || s.client == nil || s.client.Timeout != fetchTimeout {
		t.Fatal("a dependency was not defaulted")
	}
	if s.Status().Location != "https://idp.example.com/jwks" {
		t.Fatalf("location %q", s.Status().Location)
	}
}

func TestLocationHidesCredentials(t *testing.T) {
	s, err := New(Options{Provider: "p", JWKSURI: "https://user:secret@idp.example.com/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if loc := s.Status().Location; strings.Contains(loc, "secret") {
		t.Fatalf("location %q shows the password", loc)
	}
}
