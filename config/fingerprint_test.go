package config

import (
	"testing"
	"time"
)

func TestProviderFingerprint(t *testing.T) {
	yes, no := true, false
	base := func() Provider {
		return Provider{
			Name:          "corp",
			Issuer:        "https://idp.example.com/",
			Audiences:     []string{"a", "b"},
			JWKSURI:       "https://idp.example.com/jwks.json",
			Algorithms:    []string{"RS256", "ES256"},
			ClockSkew:     30 * time.Second,
			ForwardClaims: map[string]string{"sub": "x-sub", "email": "x-email"},
		}
	}
	tests := map[string]struct {
		edit func(p *Provider)
		same bool
	}{
		"unchanged":                     {func(*Provider) {}, true},
		"audience order":                {func(p *Provider) { p.Audiences = []string{"b", "a"} }, true},
		"algorithm order":               {func(p *Provider) { p.Algorithms = []string{"ES256", "RS256"} }, true},
		"explicit require_exp true":     {func(p *Provider) { p.RequireExp = &yes }, true},
		"explicit keep_authorization":   {func(p *Provider) { p.KeepAuthorization = &yes }, true},
		"defaults spelled out":          {func(p *Provider) { p.JWKSRefreshInterval = DefaultJWKSRefreshInterval }, true},
		"forward claims rebuilt":        {func(p *Provider) { p.ForwardClaims = map[string]string{"email": "x-email", "sub": "x-sub"} }, true},
		"optional":                      {func(p *Provider) { p.Optional = true }, true},
		"name":                          {func(p *Provider) { p.Name = "corp2" }, false},
		"issuer":                        {func(p *Provider) { p.Issuer = "https://idp.example.com" }, false},
		"audience added":                {func(p *Provider) { p.Audiences = append(p.Audiences, "c") }, false},
		"audience moved between fields": {func(p *Provider) { p.Audiences = []string{"ab"} }, false},
		"jwks uri":                      {func(p *Provider) { p.JWKSURI += "?v=2" }, false},
		"discovery":                     {func(p *Provider) { p.Discovery = true }, false},
		"jwks file":                     {func(p *Provider) { p.JWKSFile = "/k.json" }, false},
		"algorithm removed":             {func(p *Provider) { p.Algorithms = []string{"RS256"} }, false},
		"clock skew":                    {func(p *Provider) { p.ClockSkew = 0 }, false},
		"require_exp false":             {func(p *Provider) { p.RequireExp = &no }, false},
		"max lifetime":                  {func(p *Provider) { p.MaxLifetime = time.Hour }, false},
		"typ":                           {func(p *Provider) { p.Typ = "at+jwt" }, false},
		"refresh interval":              {func(p *Provider) { p.JWKSRefreshInterval = time.Minute }, false},
		"min refresh interval":          {func(p *Provider) { p.JWKSMinRefreshInterval = time.Second }, false},
		"max stale":                     {func(p *Provider) { p.JWKSMaxStale = time.Hour }, false},
		"allow http":                    {func(p *Provider) { p.AllowHTTP = true }, false},
		"forward claim header":          {func(p *Provider) { p.ForwardClaims["sub"] = "x-subject" }, false},
		"forward claim swapped":         {func(p *Provider) { p.ForwardClaims = map[string]string{"sub": "x-email", "email": "x-sub"} }, false},
		"payload header":                {func(p *Provider) { p.ForwardPayloadHeader = "x-payload" }, false},
		"keep_authorization false":      {func(p *Provider) { p.KeepAuthorization = &no }, false},
		"explicit mtls_bound allowed":   {func(p *Provider) { p.MTLSBound = MTLSBoundAllowed }, true},
		"mtls_bound required":           {func(p *Provider) { p.MTLSBound = MTLSBoundRequired }, false},
		"explicit dpop allowed":         {func(p *Provider) { p.DPoP = DPoPAllowed }, true},
		"explicit dpop max age default": {func(p *Provider) { p.DPoPProofMaxAge = DefaultDPoPProofMaxAge }, true},
		"dpop required":                 {func(p *Provider) { p.DPoP = DPoPRequired }, false},
		"dpop proof max age":            {func(p *Provider) { p.DPoPProofMaxAge = 30 * time.Second }, false},
		"dpop nonce":                    {func(p *Provider) { p.DPoPNonce = true }, false},
	}
	want := ProviderFingerprint(base())
	if len(want) != 64 {
		t.Fatalf("fingerprint %q is not 64 hex digits", want)
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := base()
			tt.edit(&p)
			got := ProviderFingerprint(p)
			if (got == want) != tt.same {
				t.Errorf("fingerprint equal = %v, want %v", got == want, tt.same)
			}
		})
	}
}

func TestProviderFingerprintDoesNotMutate(t *testing.T) {
	p := Provider{Algorithms: []string{"RS256", "ES256"}, Audiences: []string{"b", "a"}}
	ProviderFingerprint(p)
	if p.Algorithms[0] != "RS256" || p.Audiences[0] != "b" {
		t.Error("ProviderFingerprint reordered the caller's slices")
	}
}
