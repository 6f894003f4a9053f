package main

import (
	"math"
	"time"
)

// suiteResults is everything a suite measured; it is written as JSON.
type suiteResults struct {
	StartedAt  time.Time      `json:"started_at"`
	Machine    machineInfo    `json:"machine"`
	Settings   suiteSettings  `json:"settings"`
	FloorIdle  *serverUsage   `json:"floor_idle,omitempty"`
	Cases      []caseResult   `json:"cases"`
	Memory     *memoryResult  `json:"memory,omitempty"`
	Revocation *revokedResult `json:"revocation,omitempty"`
	Problems   []string       `json:"problems,omitempty"` // what could not be measured, and why
	Markdown   string         `json:"markdown"`
}

// suiteSettings records how the suite ran.
type suiteSettings struct {
	ServerName  string   `json:"server_name"`
	ServerCmd   string   `json:"server_cmd"`
	Runs        int      `json:"runs"`
	Duration    string   `json:"duration"`
	Warmup      string   `json:"warmup"`
	Conns       int      `json:"conns"`
	DecodeFull  bool     `json:"decode_full,omitempty"`
	Concurrency []int    `json:"concurrency"`
	Algs        []string `json:"algs"`
	Cases       []string `json:"cases"`
}

// Case groups, in the order the suite runs them.
const (
	groupCached  = "cached"
	groupNew     = "new"
	groupOpen    = "open"
	groupFlood   = "flood"
	groupMemory  = "memory"
	groupRevoked = "revoked"
)

var allGroups = []string{groupCached, groupNew, groupOpen, groupFlood, groupMemory, groupRevoked}

// pairRun is one repetition of a case: the floor (A), then the server (B).
type pairRun struct {
	Floor  loadResult `json:"floor"`
	Server loadResult `json:"server"`
}

// caseResult is one row of a table: every repetition and their summary.
type caseResult struct {
	Group       string      `json:"group"`
	Name        string      `json:"name"`
	Alg         string      `json:"alg,omitempty"`
	Concurrency int         `json:"concurrency"`
	Fraction    float64     `json:"fraction_of_floor_max,omitempty"` // open loop
	Rate        float64     `json:"rate,omitempty"`
	Runs        []pairRun   `json:"runs"`
	Problems    []string    `json:"problems,omitempty"`
	Summary     caseSummary `json:"summary"`
}

// caseSummary holds medians over a case's repetitions. A ratio is the
// median of the per-repetition ratios (server ÷ floor), each taken between
// two runs made back to back, so that slow drift of the machine cancels.
type caseSummary struct {
	Runs int `json:"runs"`

	FloorChecksPerCPU  float64 `json:"floor_checks_per_cpu_second"`
	ServerChecksPerCPU float64 `json:"server_checks_per_cpu_second"`
	CPURatio           float64 `json:"checks_per_cpu_second_ratio"`

	FloorReqPerSec  float64 `json:"floor_req_per_sec"`
	ServerReqPerSec float64 `json:"server_req_per_sec"`

	FloorP50MS   float64 `json:"floor_p50_ms"`
	FloorP99MS   float64 `json:"floor_p99_ms"`
	FloorP999MS  float64 `json:"floor_p99_9_ms"`
	ServerP50MS  float64 `json:"server_p50_ms"`
	ServerP99MS  float64 `json:"server_p99_ms"`
	ServerP999MS float64 `json:"server_p99_9_ms"`
	P99Ratio     float64 `json:"p99_ratio"`

	ServerSendLagP99MS float64 `json:"server_send_lag_p99_ms,omitempty"`

	// Totals over every repetition, so that none can hide in a median.
	FloorErrors    int64 `json:"floor_errors"`
	FloorWrong     int64 `json:"floor_wrong_decisions"`
	ServerErrors   int64 `json:"server_errors"`
	ServerWrong    int64 `json:"server_wrong_decisions"`
	ServerRequests int64 `json:"server_requests"`
	TokensReused   int64 `json:"server_tokens_reused,omitempty"`
}

// summarizeCase computes the medians and totals of runs.
func summarizeCase(runs []pairRun) caseSummary {
	s := caseSummary{Runs: len(runs)}
	if len(runs) == 0 {
		return s
	}
	var fCPU, sCPU, cpuRatio, fRate, sRate, fP50, fP99, fP999, sP50, sP99, sP999, p99Ratio, lag []float64
	for _, r := range runs {
		f, v := r.Floor, r.Server
		if f.Server != nil && v.Server != nil {
			fCPU = append(fCPU, f.Server.ChecksPerCPUSecond)
			sCPU = append(sCPU, v.Server.ChecksPerCPUSecond)
			cpuRatio = append(cpuRatio, ratio(v.Server.ChecksPerCPUSecond, f.Server.ChecksPerCPUSecond))
		}
		fRate = append(fRate, f.ReqPerSec)
		sRate = append(sRate, v.ReqPerSec)
		fP50 = append(fP50, f.Latency.P50MS)
		fP99 = append(fP99, f.Latency.P99MS)
		fP999 = append(fP999, f.Latency.P999MS)
		sP50 = append(sP50, v.Latency.P50MS)
		sP99 = append(sP99, v.Latency.P99MS)
		sP999 = append(sP999, v.Latency.P999MS)
		p99Ratio = append(p99Ratio, ratio(v.Latency.P99MS, f.Latency.P99MS))
		if v.SendLag != nil {
			lag = append(lag, v.SendLag.P99MS)
		}
		s.FloorErrors += f.Errors
		s.FloorWrong += f.WrongDecisions
		s.ServerErrors += v.Errors
		s.ServerWrong += v.WrongDecisions
		s.ServerRequests += v.Requests
		s.TokensReused += v.TokensReused
	}
	s.FloorChecksPerCPU, s.ServerChecksPerCPU, s.CPURatio = medianOr0(fCPU), medianOr0(sCPU), medianOr0(cpuRatio)
	s.FloorReqPerSec, s.ServerReqPerSec = medianOr0(fRate), medianOr0(sRate)
	s.FloorP50MS, s.FloorP99MS, s.FloorP999MS = medianOr0(fP50), medianOr0(fP99), medianOr0(fP999)
	s.ServerP50MS, s.ServerP99MS, s.ServerP999MS = medianOr0(sP50), medianOr0(sP99), medianOr0(sP999)
	s.P99Ratio = medianOr0(p99Ratio)
	s.ServerSendLagP99MS = medianOr0(lag)
	return s
}

// medianOr0 is the median of the finite values of xs, or 0 ("not
// measured": no real rate, ratio or latency is 0) when there are none. JSON
// has no NaN.
func medianOr0(xs []float64) float64 {
	finite := xs[:0:0]
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			finite = append(finite, x)
		}
	}
	if len(finite) == 0 {
		return 0
	}
	return median(finite)
}

// ratio returns a/b, or NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// memoryResult is the memory case: a fresh server idle, then holding
// CachedTokens verified tokens.
type memoryResult struct {
	FloorIdleRSSBytes uint64     `json:"floor_idle_rss_bytes"`
	IdleRSSBytes      uint64     `json:"idle_rss_bytes"`
	FilledRSSBytes    uint64     `json:"filled_rss_bytes"`
	IdleAnonBytes     uint64     `json:"idle_rss_anon_bytes"`
	IdleFileBytes     uint64     `json:"idle_rss_file_bytes"`
	FloorIdleAnon     uint64     `json:"floor_idle_rss_anon_bytes"`
	FloorIdleFile     uint64     `json:"floor_idle_rss_file_bytes"`
	FilledHWMBytes    uint64     `json:"filled_hwm_bytes"`
	TokensSent        int64      `json:"tokens_sent"`
	TokensAllowed     int64      `json:"tokens_allowed"`
	CacheEntries      float64    `json:"cache_entries"` // jwt_authz_token_cache_entries; -1 when unavailable
	BytesPerCached    float64    `json:"rss_bytes_per_cached_token"`
	IdleHeapInuse     float64    `json:"idle_go_heap_inuse_bytes,omitempty"`
	FilledHeapInuse   float64    `json:"filled_go_heap_inuse_bytes,omitempty"`
	Fill              loadResult `json:"fill"`
}

// revokedResult is the revocation case: a fresh server loaded with Entries
// revocations, then measured with revoked and valid tokens.
type revokedResult struct {
	Load             revokeResult `json:"load"`
	RSSBeforeBytes   uint64       `json:"rss_before_bytes"`
	RSSAfterBytes    uint64       `json:"rss_after_bytes"`
	AnonAfterBytes   uint64       `json:"rss_anon_after_bytes"`
	FileAfterBytes   uint64       `json:"rss_file_after_bytes"`
	HWMAfterBytes    uint64       `json:"hwm_after_bytes"`
	RevokedEntries   float64      `json:"revoked_entries"` // jwt_authz_revoked_entries; -1 when unavailable
	BytesPerEntry    float64      `json:"rss_bytes_per_entry"`
	RevokedTokens    *caseResult  `json:"revoked_tokens,omitempty"`
	ValidAfterLoaded *caseResult  `json:"valid_token,omitempty"`
}
