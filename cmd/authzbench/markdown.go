package main

import (
	"fmt"
	"math"
	"strings"
)

// Targets for the server under test, from the benchmark issue; a table cell
// is marked ✓ or ✗ against them.
const (
	targetCachedRatio     = 1.2  // × floor Checks per server CPU-second
	targetOpenP99MS       = 2.0  // at 50% of the floor's max rate
	targetOpenP999MS      = 5.0  // at 50% of the floor's max rate
	targetIdleRSSMiB      = 20.0 // MiB
	targetBytesPerCached  = 250.0
	targetRevokedMillionB = 100 << 20 // RSS with 1,000,000 revoked jtis
)

// targetNewRatio is the new-token-per-request target per algorithm.
var targetNewRatio = map[string]float64{"RS256": 0.55, "ES256": 0.35, "EdDSA": 0.45}

// renderMarkdown renders the tables of BENCHMARKS.md from res.
func renderMarkdown(res *suiteResults) string {
	var b strings.Builder
	name := res.Settings.ServerName
	m := res.Machine
	fmt.Fprintf(&b, "Measured %s on %d × %s, Linux %s, %s; client %s.\n", res.StartedAt.Format("2006-01-02"), m.CPUs, orDash(m.CPUModel), orDash(m.Kernel), orDash(m.MemTotal), m.GoVersion)
	if m.ServerVersion != "" {
		fmt.Fprintf(&b, "Server: %s.\n", m.ServerVersion)
	}
	decoded := "the client reads only each response's status code"
	if res.Settings.DecodeFull {
		decoded = "the client decodes each whole response"
	}
	fmt.Fprintf(&b, "Every case: %d runs of %s (after %s of warm-up) against the floor (A) and %s (B), interleaved A B A B; medians; a ratio is the median of the per-run ratios %s ÷ floor. %d gRPC connection(s); %s.\n\n",
		res.Settings.Runs, res.Settings.Duration, res.Settings.Warmup, name, name, res.Settings.Conns, decoded)

	closedTable := func(title, group string, target func(caseResult) (float64, bool)) {
		rows := casesOf(res, group)
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(&b, "#### %s\n\n", title)
		fmt.Fprintf(&b, "| case | floor Checks/CPU-s | %s Checks/CPU-s | ratio | floor p99 | %s p99 | p99 ratio | %s req/s | errors / wrong |\n", name, name, name)
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, cr := range rows {
			s := cr.Summary
			t, ok := target(cr)
			ratioCell := num(s.CPURatio, 2)
			if ok {
				ratioCell += mark(s.CPURatio >= t) + fmt.Sprintf(" (≥ %.2f)", t)
			}
			p99Cell := num(s.P99Ratio, 2)
			if group == groupCached && cr.Concurrency >= 16 {
				p99Cell += mark(s.P99Ratio <= 1) + " (≤ 1)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				cr.Name, num(s.FloorChecksPerCPU, 0), num(s.ServerChecksPerCPU, 0), ratioCell,
				msCell(s.FloorP99MS), msCell(s.ServerP99MS), p99Cell, num(s.ServerReqPerSec, 0), errCell(cr))
		}
		b.WriteString("\n")
	}
	closedTable("Cached token (one token for every request)", groupCached, func(caseResult) (float64, bool) { return targetCachedRatio, true })
	closedTable("New token per request (cache misses; a fresh server per run)", groupNew, func(cr caseResult) (float64, bool) {
		t, ok := targetNewRatio[cr.Alg]
		return t, ok
	})

	if rows := casesOf(res, groupOpen); len(rows) > 0 {
		b.WriteString("#### Open loop (fixed rate, latency from the scheduled send time, cached token)\n\n")
		fmt.Fprintf(&b, "| case | floor p50 | floor p99 | floor p99.9 | %s p50 | %s p99 | %s p99.9 | send lag p99 | errors / wrong |\n", name, name, name)
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, cr := range rows {
			s := cr.Summary
			p99, p999 := msCell(s.ServerP99MS), msCell(s.ServerP999MS)
			if math.Abs(cr.Fraction-0.5) < 1e-9 {
				p99 += mark(s.ServerP99MS <= targetOpenP99MS) + fmt.Sprintf(" (≤ %g ms)", targetOpenP99MS)
				p999 += mark(s.ServerP999MS <= targetOpenP999MS) + fmt.Sprintf(" (≤ %g ms)", targetOpenP999MS)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				cr.Name, msCell(s.FloorP50MS), msCell(s.FloorP99MS), msCell(s.FloorP999MS),
				msCell(s.ServerP50MS), p99, p999, msCell(s.ServerSendLagP99MS), errCell(cr))
		}
		b.WriteString("\n")
	}
	closedTable("Floods (a different bad token per request, all to be denied)", groupFlood, func(caseResult) (float64, bool) { return 0, false })

	if r := res.Revocation; r != nil {
		b.WriteString("#### Revocations loaded\n\n")
		b.WriteString("| entries | load time | RSS before | RSS after (anonymous + file) | RSS per entry | ")
		b.WriteString("revoked tokens: ratio / p99 ratio | valid token: ratio / p99 ratio |\n")
		b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		entries := fmt.Sprintf("%d created", r.Load.Created)
		if r.RevokedEntries >= 0 {
			entries = fmt.Sprintf("%.0f", r.RevokedEntries)
		}
		after := mibCell(r.RSSAfterBytes) + splitCell(r.AnonAfterBytes, r.FileAfterBytes)
		if r.RevokedEntries >= 1_000_000 || (r.RevokedEntries < 0 && r.Load.Created >= 1_000_000) {
			after += mark(r.RSSAfterBytes <= targetRevokedMillionB) + " (≤ 100 MiB)"
		}
		fmt.Fprintf(&b, "| %s | %.0fs (%.0f/s) | %s | %s | %s | %s | %s |\n\n",
			entries, r.Load.DurationSeconds, r.Load.PerSecond, mibCell(r.RSSBeforeBytes), after,
			bytesCell(r.BytesPerEntry), pairCell(r.RevokedTokens), pairCell(r.ValidAfterLoaded))
	}

	if mem := res.Memory; mem != nil {
		b.WriteString("#### Memory (RSS)\n\n")
		fmt.Fprintf(&b, "| state | floor | %s | target |\n| --- | ---: | ---: | --- |\n", name)
		fmt.Fprintf(&b, "| idle (anonymous + file) | %s%s | %s%s | ≤ %g MiB%s |\n",
			mibCell(mem.FloorIdleRSSBytes), splitCell(mem.FloorIdleAnon, mem.FloorIdleFile),
			mibCell(mem.IdleRSSBytes), splitCell(mem.IdleAnonBytes, mem.IdleFileBytes),
			targetIdleRSSMiB, mark(mib(mem.IdleRSSBytes) <= targetIdleRSSMiB))
		entries := "unknown"
		if mem.CacheEntries >= 0 {
			entries = fmt.Sprintf("%.0f", mem.CacheEntries)
		}
		fmt.Fprintf(&b, "| after %d distinct tokens (cache entries: %s) | | %s | |\n", mem.TokensAllowed, entries, mibCell(mem.FilledRSSBytes))
		fmt.Fprintf(&b, "| RSS per cached token | | %s | ≤ %g bytes%s |\n\n", bytesCell(mem.BytesPerCached), targetBytesPerCached,
			mark(mem.BytesPerCached > 0 && mem.BytesPerCached <= targetBytesPerCached))
	}

	if len(res.Problems) > 0 {
		b.WriteString("Not measured or incomplete:\n\n")
		for _, p := range res.Problems {
			fmt.Fprintf(&b, "- %s\n", p)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func casesOf(res *suiteResults, group string) []caseResult {
	var out []caseResult
	for _, cr := range res.Cases {
		if cr.Group == group {
			out = append(out, cr)
		}
	}
	return out
}

func mark(ok bool) string {
	if ok {
		return " ✓"
	}
	return " ✗"
}

// num formats a rate or ratio; 0 means not measured.
func num(x float64, prec int) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

// msCell formats a latency; 0 means not measured.
func msCell(x float64) string {
	if x == 0 || math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f ms", x)
}

func mibCell(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", mib(b))
}

func bytesCell(x float64) string {
	if x <= 0 || math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f B", x)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errCell shows the server's errors and wrong decisions over every run, and
// the runs that failed outright.
func errCell(cr caseResult) string {
	s := cr.Summary
	cell := fmt.Sprintf("%d / %d", s.ServerErrors, s.ServerWrong)
	if s.FloorErrors > 0 || s.FloorWrong > 0 {
		cell += fmt.Sprintf(" (floor %d / %d)", s.FloorErrors, s.FloorWrong)
	}
	if len(cr.Problems) > 0 {
		cell += fmt.Sprintf(", %d problems", len(cr.Problems))
	}
	return cell
}

func pairCell(cr *caseResult) string {
	if cr == nil || cr.Summary.Runs == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s / %s (errors / wrong %s)", num(cr.Summary.CPURatio, 2), num(cr.Summary.P99Ratio, 2), errCell(*cr))
}

// splitCell shows an RSS as its anonymous and file-backed parts, or
// nothing when the kernel did not report them.
func splitCell(anon, file uint64) string {
	if anon == 0 && file == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s + %s)", mibCell(anon), mibCell(file))
}
