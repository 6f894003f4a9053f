package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"
)

// What every generated token says; config.yaml trusts exactly this.
const (
	benchIssuer   = "https://bench.example/"
	benchAudience = "bench"
	benchProvider = "bench"
	benchScope    = "orders:read orders:write"
	tokenLifetime = 24 * time.Hour
)

// Files gen writes into its directory.
const (
	jwksFile        = "jwks.json"
	configFile      = "config.yaml"
	garbageFile     = "garbage.txt"
	unknownKIDFile  = "unknown-kid.txt"
	revokedFile     = "revoked.txt"
	revokedJTIsFile = "revoked-jtis.txt"
	fillFile        = "fill-EdDSA.txt"
)

func validFile(alg string) string { return "valid-" + alg + ".txt" }

// runGen writes jwks.json, config.yaml and the token files into --out,
// with keys of its own: a server watching jwks.json picks the new keys up.
func runGen(ctx context.Context, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", stderr)
	var o struct {
		Out                          string
		Tokens, Flood, Revoked, Fill int
	}
	fs.StringVar(&o.Out, "out", "", "output directory (created)")
	fs.IntVar(&o.Tokens, "tokens", 20000, "valid tokens per algorithm, each with a distinct jti (RS256 signing costs 1-3 ms a token)")
	fs.IntVar(&o.Flood, "flood", 100000, "lines of garbage.txt and unknown-kid.txt")
	fs.IntVar(&o.Revoked, "revoked", 1000, "tokens in revoked.txt, their jtis in revoked-jtis.txt")
	fs.IntVar(&o.Fill, "fill", 100000, "distinct EdDSA tokens in fill-EdDSA.txt, for the cache memory case")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Out == "" {
		return usagef("--out is required")
	}
	for _, n := range []int{o.Tokens, o.Flood, o.Revoked, o.Fill} {
		if n < 1 || n > 10_000_000 {
			return usagef("--tokens, --flood, --revoked and --fill must be between 1 and 10000000, not %d", n)
		}
	}
	dir, err := filepath.Abs(o.Out)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	_, unknownKey, _ := ed25519.GenerateKey(rand.Reader) // never published
	jwks := jwk.NewSet()
	for i, key := range []crypto.Signer{rsaKey, ecKey, edKey} {
		alg := []jwa.SignatureAlgorithm{jwa.RS256, jwa.ES256, jwa.EdDSA}[i]
		pub, _ := jwk.FromRaw(key.Public())
		_ = pub.Set(jwk.KeyIDKey, kidOf(alg))
		_ = pub.Set(jwk.AlgorithmKey, alg)
		_ = pub.Set(jwk.KeyUsageKey, jwk.ForSignature)
		_ = jwks.AddKey(pub)
	}
	b, _ := json.MarshalIndent(jwks, "", "  ")
	if err := writeFile(filepath.Join(dir, jwksFile), b, 0o644); err != nil {
		return err
	}
	addrs, err := freeLoopbackAddrs(3)
	if err != nil {
		return err
	}
	cfg, _ := yaml.Marshal(map[string]any{
		"grpc_addr": addrs[0], "http_addr": addrs[1], "admin_addr": addrs[2], "data_dir": filepath.Join(dir, "data"),
		"token_cache": map[string]int{"max_entries": 100_000}, "revocation": map[string]string{"store": "bolt"},
		"providers": []map[string]any{{"name": benchProvider, "issuer": benchIssuer, "audiences": []string{benchAudience},
			"jwks_file": filepath.Join(dir, jwksFile), "algorithms": []string{"RS256", "ES256", "EdDSA"}}},
	})
	if err := writeFile(filepath.Join(dir, configFile), cfg, 0o644); err != nil {
		return err
	}
	// A random run id in every jti keeps the tokens of two gen runs apart,
	// so that a server that saw the old ones neither has them cached nor
	// finds them revoked.
	runID := fmt.Sprintf("%08x", mrand.Uint32())
	jti := func(file string, alg jwa.SignatureAlgorithm, i int) string {
		return fmt.Sprintf("%s-%c-%s-%d", runID, file[0], alg, i)
	}
	now := time.Now().Truncate(time.Second)
	kid := func(alg jwa.SignatureAlgorithm) func(int) string { return func(int) string { return kidOf(alg) } }
	for _, f := range []struct {
		file string
		n    int
		alg  jwa.SignatureAlgorithm
		key  crypto.Signer
		kid  func(int) string
	}{
		{validFile("RS256"), o.Tokens, jwa.RS256, rsaKey, kid(jwa.RS256)},
		{validFile("ES256"), o.Tokens, jwa.ES256, ecKey, kid(jwa.ES256)},
		{validFile("EdDSA"), o.Tokens, jwa.EdDSA, edKey, kid(jwa.EdDSA)},
		{fillFile, o.Fill, jwa.EdDSA, edKey, kid(jwa.EdDSA)},
		{revokedFile, o.Revoked, jwa.RS256, rsaKey, kid(jwa.RS256)},
		// Each unknown-kid token names a kid of its own, so a server cannot
		// answer the flood from a cache of kids it missed recently.
		{unknownKIDFile, o.Flood, jwa.EdDSA, unknownKey, func(i int) string { return fmt.Sprintf("bench-unknown-%s-%d", runID, i) }},
	} {
		log.Info("write tokens", "file", f.file, "count", f.n)
		toks, err := mintAll(ctx, f.n, func(i int) (string, error) { return mintToken(f.alg, f.key, f.kid(i), jti(f.file, f.alg, i), i, now) })
		if err == nil {
			err = writeLines(filepath.Join(dir, f.file), toks)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
	}
	jtis := make([]string, o.Revoked)
	for i := range jtis {
		jtis[i] = jti(revokedFile, jwa.RS256, i)
	}
	if err := writeLines(filepath.Join(dir, revokedJTIsFile), jtis); err != nil {
		return err
	}
	rng := mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
	garbage := make([]string, o.Flood)
	for i := range garbage {
		garbage[i] = garbageToken(rng, i)
	}
	return writeLines(filepath.Join(dir, garbageFile), garbage)
}

// kidOf is the key id the JWKS publishes for alg.
func kidOf(alg jwa.SignatureAlgorithm) string { return "bench-" + strings.ToLower(alg.String()) }

// mintToken signs a token of the benchmark's issuer and audience, naming
// kid in its header.
func mintToken(alg jwa.SignatureAlgorithm, key crypto.Signer, kid, jti string, i int, now time.Time) (string, error) {
	payload := fmt.Sprintf(`{"aud":[%q],"exp":%d,"iat":%d,"iss":%q,"jti":%q,"scope":%q,"sub":"user-%d"}`,
		benchAudience, now.Add(tokenLifetime).Unix(), now.Unix(), benchIssuer, jti, benchScope, i%1000)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	_ = hdr.Set(jws.TypeKey, "JWT")
	signed, err := jws.Sign([]byte(payload), jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	return string(signed), err
}

// mintAll returns n tokens from mint on every core: an RSA-2048 signature
// costs milliseconds.
func mintAll(ctx context.Context, n int, mint func(i int) (string, error)) ([]string, error) {
	out := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range out {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() (err error) {
			out[i], err = mint(i)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// garbageKinds is the number of shapes garbageToken cycles through.
const garbageKinds = 7

// garbageToken returns the i-th line of the garbage flood: printable ASCII
// (a header value must be), distinct from every other line (a random
// 128-bit part), in shapes that stop a validator at different steps, from
// cheap (not a JWT at all) to costly (a header naming a real key, so that
// a verifier that checks the signature before the claims pays for it).
func garbageToken(rng *mrand.Rand, i int) string {
	b64 := base64.RawURLEncoding.EncodeToString
	noise := func(n int) string {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		return b64(b)
	}
	unique := noise(16)
	claims := b64(fmt.Appendf(nil, `{"iss":%q,"aud":%q,"sub":"mallory","exp":4102444800,"jti":%q}`, benchIssuer, benchAudience, unique))
	switch i % garbageKinds {
	case 0: // three segments of random bytes: the header is not JSON
		return noise(24) + "." + unique + "." + noise(32)
	case 1: // a real kid and alg, a payload that is not JSON, a random signature
		return b64([]byte(`{"alg":"RS256","kid":"bench-rs256","typ":"JWT"}`)) + "." + unique + "." + noise(256)
	case 2: // no signature segment
		return b64([]byte(`{"alg":"ES256","kid":"bench-es256"}`)) + "." + unique
	case 3: // no dots at all
		return "not-a-jwt-" + unique + strings.Repeat("x", rng.IntN(180))
	case 4: // alg none with plausible claims
		return b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + claims + "."
	case 5: // HMAC, which is never accepted from a JWKS
		return b64([]byte(`{"alg":"HS256","kid":"bench-rs256","typ":"JWT"}`)) + "." + claims + "." + noise(32)
	default: // larger than the default 8 KiB limit
		return b64([]byte(`{"alg":"RS256","kid":"bench-rs256"}`)) + "." + unique + noise(6300) + "." + noise(256)
	}
}

// writeLines writes one token a line (mode 0600: valid tokens are
// credentials).
func writeLines(path string, lines []string) error {
	return writeFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// writeFile writes data next to path and renames it into place, so that a
// server watching path (jwks_file) never reads half a file.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
