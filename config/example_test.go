package config_test

import (
	"errors"
	"fmt"

	"github.com/jwt-authz/jwt-authz/config"
)

func ExampleParse() {
	cfg, err := config.Parse([]byte(`
providers:
  - name: corp
    issuer: https://idp.example.com/
    jwks_uri: https://idp.example.com/.well-known/jwks.json
    audiences: [orders-api]
rules:
  - match: { path_prefix: /healthz }
    allow_anonymous: true
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := cfg.Providers[0]
	fmt.Println(p.Name, p.ClockSkew, p.RequireExpOrDefault(), p.Algorithms[0])
	fmt.Println(cfg.IssuerEnabled(), cfg.Issuer.Issuer, cfg.BoltPath())
	// Output:
	// corp 30s true RS256
	// true http://127.0.0.1:8080 data/jwt-authz.db
}

func ExampleParse_errors() {
	_, err := config.Parse([]byte(`
providers:
  - name: corp
    issuer: https://idp.example.com/
    jwks_url: https://idp.example.com/jwks.json
    clock_skew: 30
rules:
  - match: { path_prefix: /admin, methods: GET }
    providers: [crop]
`))
	fmt.Println(err)

	var fe *config.FieldError
	if errors.As(err, &fe) {
		fmt.Printf("first problem: path %s, line %d\n", fe.Path, fe.Line)
	}
	// Output:
	// providers[0]: needs one of jwks_uri, discovery or jwks_file (line 3)
	// providers[0].jwks_url: unknown key (did you mean jwks_uri?) (line 5)
	// providers[0].clock_skew: invalid duration "30": missing unit (for example 30s, 5m or 24h) (line 6)
	// rules[0].match.methods: must be a list of strings (line 8)
	// rules[0].providers[0]: unknown provider "crop" (did you mean corp?) (line 9)
	// first problem: path providers[0], line 3
}

func ExampleProviderFingerprint() {
	before := config.Provider{Name: "corp", Audiences: []string{"a", "b"}}
	reordered := config.Provider{Name: "corp", Audiences: []string{"b", "a"}}
	changed := config.Provider{Name: "corp", Audiences: []string{"a"}}
	fmt.Println(config.ProviderFingerprint(before) == config.ProviderFingerprint(reordered))
	fmt.Println(config.ProviderFingerprint(before) == config.ProviderFingerprint(changed))
	// Output:
	// true
	// false
}
