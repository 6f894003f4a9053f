package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSummarizeCase(t *testing.T) {
	run := func(floorCPS, serverCPS, floorP99, serverP99 float64, serverErrs int64) pairRun {
		return pairRun{
			Floor:  loadResult{ReqPerSec: floorCPS / 2, Latency: latencySummary{P99MS: floorP99}, Server: &serverUsage{ChecksPerCPUSecond: floorCPS}},
			Server: loadResult{ReqPerSec: serverCPS / 2, Latency: latencySummary{P99MS: serverP99}, Server: &serverUsage{ChecksPerCPUSecond: serverCPS}, Errors: serverErrs, Requests: 10},
		}
	}
	tests := []struct {
		name string
		runs []pairRun
		want caseSummary
	}{
		{
			name: "ratio is the median of per-run ratios, not the ratio of medians",
			runs: []pairRun{run(100, 150, 1, 1, 0), run(200, 200, 1, 2, 1), run(300, 600, 1, 3, 0)},
			want: caseSummary{
				Runs: 3, FloorChecksPerCPU: 200, ServerChecksPerCPU: 200, CPURatio: 1.5,
				FloorReqPerSec: 100, ServerReqPerSec: 100, FloorP99MS: 1, ServerP99MS: 2, P99Ratio: 2,
				ServerErrors: 1, ServerRequests: 30,
			},
		},
		{
			name: "no CPU reading: ratios are not measured rather than NaN",
			runs: []pairRun{{Floor: loadResult{ReqPerSec: 5}, Server: loadResult{ReqPerSec: 4}}},
			want: caseSummary{Runs: 1, FloorReqPerSec: 5, ServerReqPerSec: 4},
		},
		{name: "no runs", want: caseSummary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarizeCase(tt.runs)
			if got != tt.want {
				t.Fatalf("summarizeCase =\n%+v, want\n%+v", got, tt.want)
			}
			if _, err := json.Marshal(got); err != nil {
				t.Fatalf("summary does not encode as JSON: %v", err)
			}
		})
	}
}

func TestRenderMarkdownMarksTargets(t *testing.T) {
	res := &suiteResults{
		Settings: suiteSettings{ServerName: "jwt-authz", Runs: 3, Duration: "3s", Warmup: "500ms", Conns: 1},
		Cases: []caseResult{
			{Group: groupCached, Name: "cached RS256 c=16", Alg: "RS256", Concurrency: 16, Summary: caseSummary{Runs: 3, CPURatio: 1.3, P99Ratio: 0.9}},
			{Group: groupCached, Name: "cached RS256 c=64", Alg: "RS256", Concurrency: 64, Summary: caseSummary{Runs: 3, CPURatio: 1.1, P99Ratio: 1.2}},
			{Group: groupNew, Name: "new ES256 c=1", Alg: "ES256", Concurrency: 1, Summary: caseSummary{Runs: 3, CPURatio: 0.36}},
			{Group: groupOpen, Name: "open 50%", Fraction: 0.5, Summary: caseSummary{Runs: 3, ServerP99MS: 1.5, ServerP999MS: 6}},
		},
		Memory:   &memoryResult{IdleRSSBytes: 19 << 20, BytesPerCached: 300, CacheEntries: 100000},
		Problems: []string{"revoked: admin API missing"},
	}
	md := renderMarkdown(res)
	for _, want := range []string{
		"| cached RS256 c=16 | n/a | n/a | 1.30 ✓ (≥ 1.20) | n/a | n/a | 0.90 ✓ (≤ 1) |",
		"| cached RS256 c=64 | n/a | n/a | 1.10 ✗ (≥ 1.20) | n/a | n/a | 1.20 ✗ (≤ 1) |",
		"0.36 ✓ (≥ 0.35)",
		"1.500 ms ✓ (≤ 2 ms)",
		"6.000 ms ✗ (≤ 5 ms)",
		"| idle (anonymous + file) | n/a | 19.0 MiB | ≤ 20 MiB ✓ |",
		"300 B | ≤ 250 bytes ✗",
		"- revoked: admin API missing",
	} {
		if !strings.Contains(md, want) {
			t.Fatalf("markdown lacks %q:\n%s", want, md)
		}
	}
}
