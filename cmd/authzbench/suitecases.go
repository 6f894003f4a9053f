package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// runPair runs spec against the floor (A) and then against srv (B). The
// floor allows everything, so it is always expected to allow.
func (s *suite) runPair(ctx context.Context, srv *serverProc, spec loadSpec) (pairRun, error) {
	a := spec
	a.Label, a.Target, a.PID, a.Expect = "floor", s.floor.GRPCAddr, s.floor.PID, expectAllow
	ra, err := runLoad(ctx, a)
	if err != nil {
		return pairRun{}, fmt.Errorf("floor: %w", err)
	}
	b := spec
	b.Label, b.Target, b.PID = s.o.ServerName, srv.GRPCAddr, srv.PID
	rb, err := runLoad(ctx, b)
	if err != nil {
		return pairRun{}, fmt.Errorf("%s: %w", s.o.ServerName, err)
	}
	return pairRun{Floor: ra, Server: rb}, nil
}

// serverFunc returns the server for one repetition and a function to call
// once the repetition is done with it.
type serverFunc func(ctx context.Context, rep int) (*serverProc, func(), error)

// persistent uses srv for every repetition.
func persistent(srv *serverProc) serverFunc {
	return func(context.Context, int) (*serverProc, func(), error) { return srv, func() {}, nil }
}

// runCase repeats a case o.Runs times, A then B each time, and summarizes.
func (s *suite) runCase(ctx context.Context, cr caseResult, serverFor serverFunc, specFor func(rep int) loadSpec) caseResult {
	for rep := range s.o.Runs {
		if ctx.Err() != nil {
			break
		}
		srv, release, err := serverFor(ctx, rep)
		if err != nil {
			cr.Problems = append(cr.Problems, err.Error())
			break
		}
		pr, err := s.runPair(ctx, srv, specFor(rep))
		alive := srv.alive()
		release()
		if err != nil {
			cr.Problems = append(cr.Problems, fmt.Sprintf("run %d: %v", rep+1, err))
			if !alive {
				cr.Problems = append(cr.Problems, fmt.Sprintf("%s exited; see %s", s.o.ServerName, srv.LogPath))
				break
			}
			continue
		}
		cr.Runs = append(cr.Runs, pr)
		s.log.Info("run", "case", cr.Name, "rep", rep+1, "floor", humanLine(pr.Floor), "server", humanLine(pr.Server))
	}
	cr.Summary = summarizeCase(cr.Runs)
	for _, p := range cr.Problems {
		s.problem("%s: %s", cr.Name, p)
	}
	return cr
}

// withServer launches a server for one case group and stops it afterwards.
func (s *suite) withServer(ctx context.Context, label string, f func(srv *serverProc) error) error {
	srv, stop, err := s.launchServer(ctx, label)
	if err != nil {
		return err
	}
	defer stop()
	return f(srv)
}

// runCached: one token for every request, so every Check after the first
// is a cache hit; per algorithm and concurrency.
func (s *suite) runCached(ctx context.Context) error {
	return s.withServer(ctx, groupCached, func(srv *serverProc) error {
		for _, alg := range s.o.Algs {
			toks, err := s.tokenFile(validFile(alg))
			if err != nil {
				return err
			}
			for _, c := range s.o.Concurrency {
				cr := caseResult{Group: groupCached, Name: fmt.Sprintf("cached %s c=%d", alg, c), Alg: alg, Concurrency: c}
				s.res.Cases = append(s.res.Cases, s.runCase(ctx, cr, persistent(srv), func(int) loadSpec {
					spec := s.baseSpec()
					spec.Concurrency, spec.Tokens = c, toks[:1]
					return spec
				}))
			}
		}
		return nil
	})
}

// runNew: a new token for every request. Each repetition gets a freshly
// started server, so that no token of the file is in its cache; a run ends
// when its duration passes or the token file is used up.
func (s *suite) runNew(ctx context.Context) error {
	for _, alg := range s.o.Algs {
		toks, err := s.tokenFile(validFile(alg))
		if err != nil {
			return err
		}
		for _, c := range s.o.Concurrency {
			cr := caseResult{Group: groupNew, Name: fmt.Sprintf("new %s c=%d", alg, c), Alg: alg, Concurrency: c}
			fresh := func(ctx context.Context, rep int) (*serverProc, func(), error) {
				return s.launchServer(ctx, fmt.Sprintf("new-%s-c%d-r%d", alg, c, rep+1))
			}
			s.res.Cases = append(s.res.Cases, s.runCase(ctx, cr, fresh, func(int) loadSpec {
				spec := s.baseSpec()
				spec.Concurrency, spec.Tokens, spec.Each = c, toks, true
				return spec
			}))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// floorMaxRate is the floor's highest median closed-loop rate with a cached
// open-alg token, taken from the cached group or measured now.
func (s *suite) floorMaxRate(ctx context.Context, toks []string) (float64, error) {
	best := 0.0
	for _, cr := range s.res.Cases {
		if cr.Group == groupCached && cr.Alg == s.o.OpenAlg && cr.Summary.Runs > 0 {
			best = max(best, cr.Summary.FloorReqPerSec)
		}
	}
	if best > 0 {
		return best, nil
	}
	spec := s.baseSpec()
	spec.Concurrency, spec.Tokens = slices.Max(s.o.Concurrency), toks[:1]
	spec.Label, spec.Target, spec.PID = "floor", s.floor.GRPCAddr, s.floor.PID
	var rates []float64
	for range s.o.Runs {
		r, err := runLoad(ctx, spec)
		if err != nil {
			return 0, fmt.Errorf("measure the floor's max rate: %w", err)
		}
		rates = append(rates, r.ReqPerSec)
	}
	return median(rates), nil
}

// runOpen: fixed request rates at fractions of the floor's highest rate,
// latency measured from each request's scheduled send time.
func (s *suite) runOpen(ctx context.Context) error {
	toks, err := s.tokenFile(validFile(s.o.OpenAlg))
	if err != nil {
		return err
	}
	maxRate, err := s.floorMaxRate(ctx, toks)
	if err != nil {
		return err
	}
	if maxRate <= 0 || math.IsNaN(maxRate) {
		return errors.New("the floor's max rate is unknown")
	}
	return s.withServer(ctx, groupOpen, func(srv *serverProc) error {
		for _, f := range s.o.OpenFractions {
			rate := math.Round(f * maxRate)
			cr := caseResult{
				Group: groupOpen, Name: fmt.Sprintf("open %.0f%% (%.0f/s) %s", f*100, rate, s.o.OpenAlg),
				Alg: s.o.OpenAlg, Concurrency: s.o.OpenMaxInFlight, Fraction: f, Rate: rate,
			}
			s.res.Cases = append(s.res.Cases, s.runCase(ctx, cr, persistent(srv), func(int) loadSpec {
				spec := s.baseSpec()
				spec.Mode, spec.Rate, spec.Concurrency, spec.Tokens = modeOpen, rate, s.o.OpenMaxInFlight, toks[:1]
				return spec
			}))
		}
		return nil
	})
}

// runFlood: garbage and unknown-kid tokens, a different one per request and
// per repetition (the file is split between repetitions), all to be denied.
func (s *suite) runFlood(ctx context.Context) error {
	return s.withServer(ctx, groupFlood, func(srv *serverProc) error {
		for _, file := range []string{garbageFile, unknownKIDFile} {
			toks, err := s.tokenFile(file)
			if err != nil {
				return err
			}
			per := len(toks) / s.o.Runs
			if per < 2 {
				return fmt.Errorf("%s: %d lines are too few for %d runs", file, len(toks), s.o.Runs)
			}
			c := s.o.FloodConcurrency
			cr := caseResult{Group: groupFlood, Name: fmt.Sprintf("flood %s c=%d", file, c), Concurrency: c}
			s.res.Cases = append(s.res.Cases, s.runCase(ctx, cr, persistent(srv), func(rep int) loadSpec {
				spec := s.baseSpec()
				spec.Concurrency, spec.Tokens, spec.Each, spec.Expect = c, toks[rep*per:(rep+1)*per], true, expectDeny
				return spec
			}))
		}
		return nil
	})
}

// runMemory: RSS of a fresh server idle, then after it has verified (and
// cached) every token of fill-EdDSA.txt once.
func (s *suite) runMemory(ctx context.Context) error {
	toks, err := s.tokenFile(fillFile)
	if err != nil {
		return err
	}
	return s.withServer(ctx, groupMemory, func(srv *serverProc) error {
		m := &memoryResult{CacheEntries: -1}
		if s.res.FloorIdle != nil {
			m.FloorIdleRSSBytes = s.res.FloorIdle.RSSBytes
			m.FloorIdleAnon, m.FloorIdleFile = s.res.FloorIdle.AnonBytes, s.res.FloorIdle.FileBytes
		}
		s.res.Memory = m
		if err := sleepCtx(ctx, s.o.Settle); err != nil {
			return err
		}
		idle, err := readProc(srv.PID)
		if err != nil {
			return err
		}
		m.IdleRSSBytes = idle.RSSBytes
		m.IdleAnonBytes, m.IdleFileBytes = idle.AnonBytes, idle.FileBytes
		if v, err := scrapeMetrics(ctx, srv.AdminAddr, srv.AdminToken, "go_memstats_heap_inuse_bytes"); err == nil {
			m.IdleHeapInuse = v["go_memstats_heap_inuse_bytes"]
		}
		spec := s.baseSpec()
		spec.Label, spec.Target, spec.PID = s.o.ServerName, srv.GRPCAddr, srv.PID
		spec.Concurrency, spec.Tokens, spec.Each = 16, toks, true
		// No warm-up: it would add a cache entry the count below does not
		// expect. The run ends when the file is used up.
		spec.Warmup, spec.Duration = 0, s.o.FillTimeout
		fill, err := runLoad(ctx, spec)
		if err != nil {
			return fmt.Errorf("fill the cache: %w", err)
		}
		m.Fill, m.TokensSent, m.TokensAllowed = fill, fill.Requests, fill.Allowed
		s.log.Info("cache fill", "result", humanLine(fill))
		if err := sleepCtx(ctx, s.o.Settle); err != nil {
			return err
		}
		after, err := readProc(srv.PID)
		if err != nil {
			return err
		}
		m.FilledRSSBytes, m.FilledHWMBytes = after.RSSBytes, after.HWMBytes
		entries := float64(fill.Allowed)
		v, err := scrapeMetrics(ctx, srv.AdminAddr, srv.AdminToken, "jwt_authz_token_cache_entries", "go_memstats_heap_inuse_bytes")
		if err != nil {
			s.problem("memory: cache entries unknown, counting allowed tokens instead: %v", err)
		} else {
			m.FilledHeapInuse = v["go_memstats_heap_inuse_bytes"]
			if n, ok := v["jwt_authz_token_cache_entries"]; ok {
				m.CacheEntries = n
				entries = n
			}
		}
		if fill.Allowed < int64(len(toks)-1) || fill.Errors > 0 {
			s.problem("memory: %d of %d fill tokens allowed, %d errors", fill.Allowed, len(toks)-1, fill.Errors)
		}
		if entries > 0 && after.RSSBytes > idle.RSSBytes {
			m.BytesPerCached = float64(after.RSSBytes-idle.RSSBytes) / entries
		}
		return nil
	})
}

// runRevoked: a fresh server loaded with o.RevokedEntries revocations
// through the admin API; its memory, then revoked and valid tokens against
// the floor.
func (s *suite) runRevoked(ctx context.Context) error {
	jtis, err := s.tokenFile(revokedJTIsFile)
	if err != nil {
		return err
	}
	revoked, err := s.tokenFile(revokedFile)
	if err != nil {
		return err
	}
	valid, err := s.tokenFile(validFile(s.o.OpenAlg))
	if err != nil {
		return err
	}
	return s.withServer(ctx, groupRevoked, func(srv *serverProc) error {
		r := &revokedResult{RevokedEntries: -1}
		s.res.Revocation = r
		if err := sleepCtx(ctx, s.o.Settle); err != nil {
			return err
		}
		before, err := readProc(srv.PID)
		if err != nil {
			return err
		}
		r.RSSBeforeBytes = before.RSSBytes
		start := time.Now()
		s.log.Info("loading revocations", "entries", max(s.o.RevokedEntries, len(jtis)), "concurrency", s.o.RevokeConcurrency)
		r.Load, err = revokeLoad(ctx, s.log, revokeSpec{
			Admin: srv.AdminAddr, AdminToken: srv.AdminToken, JTIs: jtis, Count: s.o.RevokedEntries,
			Concurrency: s.o.RevokeConcurrency, Exp: start.Add(48 * time.Hour), Progress: 15 * time.Second,
		})
		if err != nil {
			return err
		}
		if r.Load.Errors > 0 {
			s.problem("revoked: %d of %d revocations failed (first: %s)", r.Load.Errors, r.Load.Requested, r.Load.FirstError)
		}
		if err := sleepCtx(ctx, s.o.Settle); err != nil {
			return err
		}
		after, err := readProc(srv.PID)
		if err != nil {
			return err
		}
		r.RSSAfterBytes, r.HWMAfterBytes = after.RSSBytes, after.HWMBytes
		r.AnonAfterBytes, r.FileAfterBytes = after.AnonBytes, after.FileBytes
		entries := float64(r.Load.Created)
		if v, err := scrapeMetrics(ctx, srv.AdminAddr, srv.AdminToken, "jwt_authz_revoked_entries"); err != nil {
			s.problem("revoked: entry count unknown, counting created revocations instead: %v", err)
		} else if n, ok := v["jwt_authz_revoked_entries"]; ok {
			r.RevokedEntries = n
			entries = n
		}
		if entries > 0 && after.RSSBytes > before.RSSBytes {
			r.BytesPerEntry = float64(after.RSSBytes-before.RSSBytes) / entries
		}
		c := s.o.FloodConcurrency
		rc := s.runCase(ctx, caseResult{Group: groupRevoked, Name: fmt.Sprintf("revoked tokens c=%d", c), Alg: "RS256", Concurrency: c},
			persistent(srv), func(int) loadSpec {
				spec := s.baseSpec()
				// The revoked tokens cycle: a server that caches verified
				// tokens still has to look each one up in the store.
				spec.Concurrency, spec.Tokens, spec.Each, spec.Wrap, spec.Expect = c, revoked, true, true, expectDeny
				return spec
			})
		r.RevokedTokens = &rc
		vc := s.runCase(ctx, caseResult{Group: groupRevoked, Name: fmt.Sprintf("valid token with revocations loaded c=%d", c), Alg: s.o.OpenAlg, Concurrency: c},
			persistent(srv), func(int) loadSpec {
				spec := s.baseSpec()
				spec.Concurrency, spec.Tokens = c, valid[:1]
				return spec
			})
		r.ValidAfterLoaded = &vc
		return nil
	})
}
