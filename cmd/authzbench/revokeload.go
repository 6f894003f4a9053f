package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// revocationsPath is the admin endpoint that revokes one entry.
const revocationsPath = "/admin/revocations"

// revokeSpec describes a revocation load.
type revokeSpec struct {
	Admin       string   // admin listener, host:port (loopback only)
	AdminToken  string   // bearer token for /admin/*, "" for none
	JTIs        []string // revoked first, e.g. the jtis of revoked.txt
	Count       int      // total entries; fillers with synthetic jtis make up the rest
	Concurrency int
	Exp         time.Time // "exp" of every entry
	Timeout     time.Duration
	Progress    time.Duration // how often to log progress; 0 = never
}

// revokeResult is what a revocation load did.
type revokeResult struct {
	Requested       int              `json:"requested"`
	Created         int64            `json:"created"`
	Errors          int64            `json:"errors"`
	HTTPStatus      map[string]int64 `json:"http_status,omitempty"`
	FirstError      string           `json:"first_error,omitempty"`
	DurationSeconds float64          `json:"duration_seconds"`
	PerSecond       float64          `json:"per_second"`
}

// errRevocationsRefused stops a load whose first requests all fail: a
// missing endpoint or a wrong admin token would otherwise be hammered a
// million times.
var errRevocationsRefused = errors.New("admin API refuses revocations")

// revokeLoad POSTs spec.Count revocations ({"jti":..,"exp":..}) with
// spec.Concurrency requests in flight and counts what the server accepted
// (any 2xx; the server answers 201 once the entry is durable).
func revokeLoad(ctx context.Context, logger *slog.Logger, spec revokeSpec) (revokeResult, error) {
	if err := checkLoopback(spec.Admin); err != nil {
		return revokeResult{}, fmt.Errorf("revoke-load: %w", err)
	}
	if spec.Concurrency < 1 || spec.Concurrency > 10_000 {
		return revokeResult{}, fmt.Errorf("revoke-load: concurrency %d: want 1..10000", spec.Concurrency)
	}
	if spec.Timeout <= 0 {
		spec.Timeout = 30 * time.Second
	}
	total := max(spec.Count, len(spec.JTIs))
	var idb [4]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return revokeResult{}, fmt.Errorf("revoke-load: %w", err)
	}
	fillerPrefix := "bench-filler-" + hex.EncodeToString(idb[:]) + "-"
	jti := func(i int) string {
		if i < len(spec.JTIs) {
			return spec.JTIs[i]
		}
		return fillerPrefix + strconv.Itoa(i)
	}
	client := &http.Client{
		Timeout: spec.Timeout,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only: never through a proxy
			MaxIdleConns:        spec.Concurrency,
			MaxIdleConnsPerHost: spec.Concurrency,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	defer client.CloseIdleConnections()
	url := "http://" + spec.Admin + revocationsPath
	exp := spec.Exp.Unix()

	var (
		next, created, failed atomic.Int64
		mu                    sync.Mutex
		codes                 = map[string]int64{}
		firstErr              error
	)
	record := func(code string, err error) {
		mu.Lock()
		defer mu.Unlock()
		codes[code]++
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	var wg sync.WaitGroup
	for range spec.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				code, err := postRevocation(ctx, client, url, spec.AdminToken, jti(i), exp)
				record(code, err)
				if err != nil {
					if failed.Add(1) >= 100 && created.Load() == 0 {
						cancel(fmt.Errorf("%w: %w", errRevocationsRefused, err))
					}
					continue
				}
				created.Add(1)
			}
		})
	}
	if spec.Progress > 0 {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			t := time.NewTicker(spec.Progress)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					logger.Info("revoke-load progress", "created", created.Load(), "errors", failed.Load(), "of", total,
						"per_second", int(float64(created.Load())/time.Since(start).Seconds()))
				case <-stop:
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := revokeResult{
		Requested:       total,
		Created:         created.Load(),
		Errors:          failed.Load(),
		HTTPStatus:      codes,
		DurationSeconds: elapsed.Seconds(),
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	if elapsed > 0 {
		res.PerSecond = float64(res.Created) / elapsed.Seconds()
	}
	if cause := context.Cause(ctx); cause != nil {
		return res, fmt.Errorf("revoke-load: %w", cause)
	}
	return res, nil
}

// postRevocation sends one revocation and returns the HTTP status (or
// "error") and, unless it was a 2xx, an error.
func postRevocation(ctx context.Context, client *http.Client, url, adminToken, jti string, exp int64) (string, error) {
	body, err := json.Marshal(struct {
		JTI string `json:"jti"`
		Exp int64  `json:"exp"`
	}{jti, exp})
	if err != nil {
		return "error", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "error", err
	}
	req.Header.Set("Content-Type", "application/json")
	if adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "error", fmt.Errorf("post revocation: %w", err)
	}
	defer resp.Body.Close()
	// Drain (bounded) so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := strconv.Itoa(resp.StatusCode)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return code, fmt.Errorf("post revocation: HTTP %s", resp.Status)
	}
	return code, nil
}

func runRevokeLoadCmd(ctx context.Context, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("revoke-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	spec := revokeSpec{Progress: 10 * time.Second}
	var jtisPath, tokenFile string
	var ttl time.Duration
	fs.StringVar(&spec.Admin, "admin", "", "admin listener address of the server (loopback only)")
	fs.StringVar(&tokenFile, "admin-token-file", "", "file holding the admin bearer token, when the server requires one")
	fs.StringVar(&jtisPath, "jtis", "", "revoke these jtis first (one a line, e.g. revoked-jtis.txt)")
	fs.IntVar(&spec.Count, "count", 1_000_000, "total entries to revoke; synthetic jtis make up what --jtis does not")
	fs.IntVar(&spec.Concurrency, "concurrency", 32, "requests in flight")
	fs.DurationVar(&ttl, "ttl", 24*time.Hour, "entries expire this long from now (at least the tokens' lifetime)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("revoke-load: unexpected argument %q", fs.Arg(0))}
	}
	if spec.Admin == "" {
		return usageError{errors.New("revoke-load: --admin is required")}
	}
	if spec.Count < 0 || ttl <= 0 {
		return usageError{errors.New("revoke-load: --count must not be negative and --ttl must be positive")}
	}
	if jtisPath != "" {
		jtis, err := readTokens(jtisPath)
		if err != nil {
			return err
		}
		spec.JTIs = jtis
	}
	tok, err := readAdminToken(tokenFile)
	if err != nil {
		return err
	}
	spec.AdminToken = tok
	spec.Exp = time.Now().Add(ttl)
	res, err := revokeLoad(ctx, logger, spec)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(res); encErr != nil && err == nil {
		err = fmt.Errorf("revoke-load: %w", encErr)
	}
	fmt.Fprintf(stderr, "revoked %d of %d in %.1fs (%.0f/s), %d errors\n", res.Created, res.Requested, res.DurationSeconds, res.PerSecond, res.Errors)
	return err
}
