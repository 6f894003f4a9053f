package main

import (
	"math"
	"slices"
	"time"
)

// latencySummary is the distribution of one run's latencies, in
// milliseconds for readability in JSON and tables.
type latencySummary struct {
	Count  int     `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p99_9_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// summarize sorts ds in place and returns its percentiles. Every sample is
// kept and sorted (no bucketing), so the figures are exact; a run of a few
// seconds holds at most a few hundred thousand samples.
func summarize(ds []time.Duration) latencySummary {
	if len(ds) == 0 {
		return latencySummary{}
	}
	slices.Sort(ds)
	var sum float64
	for _, d := range ds {
		sum += float64(d)
	}
	return latencySummary{
		Count:  len(ds),
		MeanMS: sum / float64(len(ds)) / float64(time.Millisecond),
		P50MS:  ms(percentile(ds, 0.50)),
		P90MS:  ms(percentile(ds, 0.90)),
		P99MS:  ms(percentile(ds, 0.99)),
		P999MS: ms(percentile(ds, 0.999)),
		MaxMS:  ms(ds[len(ds)-1]),
	}
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted:
// the smallest sample that at least q of all samples are less than or equal
// to. It returns 0 for an empty slice.
func percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The epsilon keeps binary rounding (0.99*100 = 99.00000000000001) from
	// pushing the rank one sample too far.
	rank := int(math.Ceil(q*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median returns the median of xs (the mean of the two middle values for an
// even count) without modifying xs, and NaN for an empty slice.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
