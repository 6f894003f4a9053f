package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// genSmall generates a small benchmark directory in a temporary directory.
func genSmall(t *testing.T) (dir string, opts genOptions) {
	t.Helper()
	opts = genOptions{
		Out: t.TempDir(), Tokens: 5, Expired: 3, Flood: 2 * garbageKinds, Revoked: 4, Fill: 6,
		Store: "memory", CacheEntries: 100000, Now: time.Now(), TTL: time.Hour,
	}
	if _, err := generate(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), opts); err != nil {
		t.Fatalf("generate: %v", err)
	}
	return opts.Out, opts
}

func TestGenerateRoundTrip(t *testing.T) {
	dir, opts := genSmall(t)
	set, err := jwk.ReadFile(filepath.Join(dir, jwksFile))
	if err != nil {
		t.Fatalf("read jwks: %v", err)
	}
	if set.Len() != len(benchAlgs) {
		t.Fatalf("jwks has %d keys, want %d", set.Len(), len(benchAlgs))
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
			t.Fatalf("jwks key %s: private=%v err=%v, want a public key", k.KeyID(), priv, err)
		}
	}
	parse := func(tok string) (jwt.Token, error) {
		return jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(true),
			jwt.WithIssuer(benchIssuer), jwt.WithAudience(benchAudience))
	}
	jtis := map[string]bool{}
	readLines := func(name string, want int) []string {
		t.Helper()
		lines, err := readTokens(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if len(lines) != want {
			t.Fatalf("%s has %d lines, want %d", name, len(lines), want)
		}
		return lines
	}
	checkValid := func(name string, want int) []string {
		t.Helper()
		var got []string
		for _, tok := range readLines(name, want) {
			parsed, err := parse(tok)
			if err != nil {
				t.Fatalf("%s: valid token does not verify: %v", name, err)
			}
			if jtis[parsed.JwtID()] {
				t.Fatalf("%s: jti %s repeats", name, parsed.JwtID())
			}
			jtis[parsed.JwtID()] = true
			if scope, _ := parsed.Get("scope"); scope != benchScope {
				t.Fatalf("%s: scope = %v, want %q", name, scope, benchScope)
			}
			got = append(got, parsed.JwtID())
		}
		return got
	}

	t.Run("valid tokens verify and validate", func(t *testing.T) {
		for _, a := range benchAlgs {
			checkValid(validFile(a.Name), opts.Tokens)
		}
		checkValid(fillFile, opts.Fill)
	})
	t.Run("expired tokens verify but do not validate", func(t *testing.T) {
		for _, a := range benchAlgs {
			for _, tok := range readLines(expiredFile(a.Name), opts.Expired) {
				if _, err := parse(tok); !errors.Is(err, jwt.ErrTokenExpired()) {
					t.Fatalf("%s: parse = %v, want expired", a.Name, err)
				}
				if _, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(false)); err != nil {
					t.Fatalf("%s: expired token's signature does not verify: %v", a.Name, err)
				}
			}
		}
	})
	t.Run("unknown-kid tokens do not verify", func(t *testing.T) {
		kids := map[string]bool{}
		for _, tok := range readLines(unknownKIDFile, opts.Flood) {
			if _, err := parse(tok); err == nil {
				t.Fatal("unknown-kid token verified against the JWKS")
			}
			insecure, err := jwt.ParseString(tok, jwt.WithVerify(false), jwt.WithValidate(true), jwt.WithIssuer(benchIssuer))
			if err != nil {
				t.Fatalf("unknown-kid token is not otherwise valid: %v", err)
			}
			kids[insecure.JwtID()] = true
		}
		if len(kids) != opts.Flood {
			t.Fatalf("%d distinct jtis among %d unknown-kid tokens", len(kids), opts.Flood)
		}
	})
	t.Run("garbage never verifies and lines are distinct", func(t *testing.T) {
		seen := map[string]bool{}
		for _, tok := range readLines(garbageFile, opts.Flood) {
			if _, err := parse(tok); err == nil {
				t.Fatalf("garbage verified: %.60s", tok)
			}
			for _, c := range tok {
				if c < 0x21 || c > 0x7e {
					t.Fatalf("garbage has a non-printable or non-ASCII character %q", c)
				}
			}
			if seen[tok] {
				t.Fatalf("garbage line repeats: %.60s", tok)
			}
			seen[tok] = true
		}
	})
	t.Run("revoked tokens are valid and listed", func(t *testing.T) {
		got := checkValid(revokedFile, opts.Revoked)
		listed := readLines(revokedJTIsFile, opts.Revoked)
		if strings.Join(got, ",") != strings.Join(listed, ",") {
			t.Fatalf("revoked-jtis.txt = %v, want the jtis of revoked.txt %v", listed, got)
		}
	})
	t.Run("config points at the jwks", func(t *testing.T) {
		a, err := readServerAddrs(filepath.Join(dir, configFile))
		if err != nil {
			t.Fatalf("read config: %v", err)
		}
		if a.GRPCAddr == a.AdminAddr {
			t.Fatalf("grpc_addr and admin_addr are both %s", a.GRPCAddr)
		}
		cfg, err := os.ReadFile(filepath.Join(dir, configFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"jwks_file: " + filepath.Join(dir, jwksFile), "issuer: " + benchIssuer, "name: " + benchProvider, "store: memory"} {
			if !strings.Contains(string(cfg), want) {
				t.Fatalf("config.yaml lacks %q:\n%s", want, cfg)
			}
		}
	})
	t.Run("secrets are private", func(t *testing.T) {
		for _, name := range []string{keyFile(benchAlgs[0]), unknownKeyFile, validFile("RS256"), revokedFile} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Fatalf("%s mode %o, want 600", name, perm)
			}
		}
	})
	t.Run("a second run reuses the keys", func(t *testing.T) {
		before, err := os.ReadFile(filepath.Join(dir, jwksFile))
		if err != nil {
			t.Fatal(err)
		}
		again := opts
		again.Now = time.Now()
		if _, err := generate(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), again); err != nil {
			t.Fatalf("second generate: %v", err)
		}
		after, err := os.ReadFile(filepath.Join(dir, jwksFile))
		if err != nil {
			t.Fatal(err)
		}
		var b1, b2 any
		if json.Unmarshal(before, &b1) != nil || json.Unmarshal(after, &b2) != nil {
			t.Fatal("jwks.json is not JSON")
		}
		n1, _ := json.Marshal(b1)
		n2, _ := json.Marshal(b2)
		if !bytes.Equal(n1, n2) {
			t.Fatalf("jwks changed between runs:\n%s\n%s", before, after)
		}
	})
}

func TestGenerateRefuses(t *testing.T) {
	base := genOptions{Tokens: 1, Expired: 1, Flood: 1, Revoked: 1, Fill: 1, Store: "bolt", Now: time.Now(), TTL: time.Hour}
	tests := map[string]func(o *genOptions){
		"no output dir":           func(o *genOptions) { o.Out = "" },
		"zero tokens":             func(o *genOptions) { o.Tokens = 0 },
		"negative flood":          func(o *genOptions) { o.Flood = -1 },
		"unknown store":           func(o *genOptions) { o.Store = "etcd" },
		"redis without a url":     func(o *genOptions) { o.Store = "redis" },
		"non-loopback grpc addr":  func(o *genOptions) { o.GRPCAddr = "0.0.0.0:9001" },
		"non-loopback admin addr": func(o *genOptions) { o.AdminAddr = "10.1.2.3:9090" },
		"zero ttl":                func(o *genOptions) { o.TTL = 0 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			o := base
			o.Out = t.TempDir()
			mutate(&o)
			if _, err := generate(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), o); err == nil {
				t.Fatal("generate succeeded, want an error")
			}
			if o.Out != "" {
				if _, err := os.Stat(filepath.Join(o.Out, keyFile(benchAlgs[0]))); err == nil {
					t.Fatal("generate wrote keys before refusing its options")
				}
			}
		})
	}
}

func TestLoadOrCreateKeyRefusesWrongKind(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.pem")
	if _, err := loadOrCreateKey(path, benchAlgs[2].Alg); err != nil { // Ed25519
		t.Fatalf("create: %v", err)
	}
	if _, err := loadOrCreateKey(path, benchAlgs[1].Alg); err == nil { // as ES256
		t.Fatal("an Ed25519 key was accepted for ES256")
	}
	if err := os.WriteFile(path, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateKey(path, benchAlgs[2].Alg); err == nil {
		t.Fatal("a file that is not PEM was accepted as a key")
	}
}

func BenchmarkGarbageToken(b *testing.B) {
	b.ReportAllocs()
	rng := newTestRand()
	i := 0
	for b.Loop() {
		garbageToken(rng, i)
		i++
	}
}
