package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Files gen writes into its output directory.
const (
	jwksFile        = "jwks.json"
	configFile      = "config.yaml"
	garbageFile     = "garbage.txt"
	unknownKIDFile  = "unknown-kid.txt"
	revokedFile     = "revoked.txt"
	revokedJTIsFile = "revoked-jtis.txt"
	fillFile        = "fill-EdDSA.txt"
)

func validFile(alg string) string   { return "valid-" + alg + ".txt" }
func expiredFile(alg string) string { return "expired-" + alg + ".txt" }

// genOptions are the parameters of gen.
type genOptions struct {
	Out          string
	Tokens       int // valid tokens per algorithm
	Expired      int // expired tokens per algorithm
	Flood        int // lines of garbage.txt and unknown-kid.txt
	Revoked      int // tokens in revoked.txt
	Fill         int // distinct EdDSA tokens in fill-EdDSA.txt
	GRPCAddr     string
	HTTPAddr     string
	AdminAddr    string
	Store        string
	CacheEntries int
	Now          time.Time
	TTL          time.Duration // lifetime of valid tokens
}

func runGen(ctx context.Context, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := genOptions{}
	fs.StringVar(&o.Out, "out", "", "output directory (created; existing keys in it are reused)")
	fs.IntVar(&o.Tokens, "tokens", 20000, "valid tokens per algorithm, each with a distinct jti (RS256 signing costs ~1-3 ms a token)")
	fs.IntVar(&o.Expired, "expired", 1000, "expired tokens per algorithm")
	fs.IntVar(&o.Flood, "flood", 100000, "lines of garbage.txt and unknown-kid.txt")
	fs.IntVar(&o.Revoked, "revoked", 1000, "tokens in revoked.txt (their jtis in revoked-jtis.txt)")
	fs.IntVar(&o.Fill, "fill", 100000, "distinct EdDSA tokens in fill-EdDSA.txt, for the cache memory case")
	fs.StringVar(&o.GRPCAddr, "grpc-addr", "", "grpc_addr written to config.yaml (default: a free loopback port)")
	fs.StringVar(&o.HTTPAddr, "http-addr", "", "http_addr written to config.yaml (default: a free loopback port)")
	fs.StringVar(&o.AdminAddr, "admin-addr", "", "admin_addr written to config.yaml (default: a free loopback port)")
	fs.StringVar(&o.Store, "store", "bolt", "revocation.store written to config.yaml: bolt or memory")
	fs.IntVar(&o.CacheEntries, "cache-entries", 100000, "token_cache.max_entries written to config.yaml")
	fs.DurationVar(&o.TTL, "ttl", 24*time.Hour, "lifetime of valid tokens")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("gen: unexpected argument %q", fs.Arg(0))}
	}
	o.Now = time.Now()
	files, err := generate(ctx, logger, o)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return nil
}

// generate writes keys, jwks.json, config.yaml and the token files into
// o.Out and returns a line per file written.
func generate(ctx context.Context, logger *slog.Logger, o genOptions) ([]string, error) {
	if o.Out == "" {
		return nil, usageError{errors.New("gen: --out is required")}
	}
	for name, n := range map[string]int{"tokens": o.Tokens, "expired": o.Expired, "flood": o.Flood, "revoked": o.Revoked, "fill": o.Fill} {
		if n < 1 || n > 10_000_000 {
			return nil, usageError{fmt.Errorf("gen: --%s must be between 1 and 10000000, not %d", name, n)}
		}
	}
	switch o.Store {
	case "bolt", "memory":
	default:
		return nil, usageError{fmt.Errorf("gen: --store must be bolt or memory, not %q (for redis, add redis_url to config.yaml by hand)", o.Store)}
	}
	if o.TTL <= 0 {
		return nil, usageError{errors.New("gen: --ttl must be positive")}
	}
	addrs := []*string{&o.GRPCAddr, &o.HTTPAddr, &o.AdminAddr}
	for _, a := range addrs {
		if *a == "" {
			continue
		}
		if err := checkLoopback(*a); err != nil {
			return nil, usageError{fmt.Errorf("gen: %w", err)}
		}
	}
	dir, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	free, err := freeLoopbackAddrs(len(addrs))
	if err != nil {
		return nil, err
	}
	for i, a := range addrs {
		if *a == "" {
			*a = free[i]
		}
	}

	keys := make([]crypto.Signer, len(benchAlgs))
	for i, a := range benchAlgs {
		if keys[i], err = loadOrCreateKey(filepath.Join(dir, keyFile(a)), a.Alg); err != nil {
			return nil, err
		}
	}
	unknownKey, err := loadOrCreateKey(filepath.Join(dir, unknownKeyFile), jwa.EdDSA)
	if err != nil {
		return nil, err
	}
	jwks, err := publicJWKS(keys)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, jwksFile), jwks, 0o644); err != nil {
		return nil, err
	}
	cfg, err := renderGenConfig(dir, o.GRPCAddr, o.HTTPAddr, o.AdminAddr, o.Store, o.CacheEntries)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, configFile), cfg, 0o644); err != nil {
		return nil, err
	}
	written := []string{jwksFile, configFile + " (grpc_addr " + o.GRPCAddr + ", admin_addr " + o.AdminAddr + ")"}

	// A random run id in every jti keeps tokens of two gen runs distinct, so
	// a server that saw the old ones neither hits its cache nor finds them
	// revoked.
	var idb [4]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	runID := hex.EncodeToString(idb[:])
	spec := func(a benchAlg, key crypto.Signer, tag string, iat, exp time.Time) func(int) tokenSpec {
		return func(i int) tokenSpec {
			return tokenSpec{
				Alg: a.Alg, Key: key, KID: a.KID,
				JTI:      fmt.Sprintf("%s-%s-%d", runID, tag, i),
				Subject:  fmt.Sprintf("user-%d", i%1000),
				IssuedAt: iat, Expiry: exp,
			}
		}
	}
	now := o.Now.Truncate(time.Second)
	write := func(name string, lines []string) error {
		logger.Info("write tokens", "file", name, "count", len(lines))
		if err := writeFileAtomic(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return err
		}
		written = append(written, fmt.Sprintf("%s (%d)", name, len(lines)))
		return nil
	}
	mintAndWrite := func(name string, n int, spec func(int) tokenSpec) error {
		start := time.Now()
		toks, err := mintMany(ctx, n, spec)
		if err != nil {
			return fmt.Errorf("gen %s: %w", name, err)
		}
		logger.Debug("minted", "file", name, "elapsed", time.Since(start))
		return write(name, toks)
	}

	for i, a := range benchAlgs {
		if err := mintAndWrite(validFile(a.Name), o.Tokens, spec(a, keys[i], "v-"+a.Name, now, now.Add(o.TTL))); err != nil {
			return nil, err
		}
		if err := mintAndWrite(expiredFile(a.Name), o.Expired, spec(a, keys[i], "x-"+a.Name, now.Add(-2*time.Hour), now.Add(-time.Hour))); err != nil {
			return nil, err
		}
	}
	eddsa := benchAlgs[2]
	if err := mintAndWrite(fillFile, o.Fill, spec(eddsa, keys[2], "f-EdDSA", now, now.Add(o.TTL))); err != nil {
		return nil, err
	}
	// Unknown-kid tokens carry a different kid each, so a server cannot
	// answer the flood from a cache of recently missed kids.
	unknown := spec(eddsa, unknownKey, "u", now, now.Add(o.TTL))
	if err := mintAndWrite(unknownKIDFile, o.Flood, func(i int) tokenSpec {
		s := unknown(i)
		s.KID = fmt.Sprintf("bench-unknown-%s-%d", runID, i)
		return s
	}); err != nil {
		return nil, err
	}
	rs256 := benchAlgs[0]
	revokedSpec := spec(rs256, keys[0], "r", now, now.Add(o.TTL))
	if err := mintAndWrite(revokedFile, o.Revoked, revokedSpec); err != nil {
		return nil, err
	}
	jtis := make([]string, o.Revoked)
	for i := range jtis {
		jtis[i] = revokedSpec(i).JTI
	}
	if err := write(revokedJTIsFile, jtis); err != nil {
		return nil, err
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	rng := mrand.New(mrand.NewChaCha8(seed))
	garbage := make([]string, o.Flood)
	for i := range garbage {
		garbage[i] = garbageToken(rng, i)
	}
	if err := write(garbageFile, garbage); err != nil {
		return nil, err
	}
	return written, nil
}
