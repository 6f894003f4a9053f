package main

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1ms..100ms
	}
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i+1) * time.Microsecond // 1µs..1000µs
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "empty", sorted: nil, q: 0.5, want: 0},
		{name: "single p50", sorted: []time.Duration{7}, q: 0.5, want: 7},
		{name: "single p99.9", sorted: []time.Duration{7}, q: 0.999, want: 7},
		{name: "two p50 is the lower", sorted: []time.Duration{1, 2}, q: 0.5, want: 1},
		{name: "two p51 is the upper", sorted: []time.Duration{1, 2}, q: 0.51, want: 2},
		{name: "hundred p50", sorted: hundred, q: 0.50, want: 50 * time.Millisecond},
		{name: "hundred p90", sorted: hundred, q: 0.90, want: 90 * time.Millisecond},
		{name: "hundred p99 is not the max", sorted: hundred, q: 0.99, want: 99 * time.Millisecond},
		{name: "hundred p99.9 is the max", sorted: hundred, q: 0.999, want: 100 * time.Millisecond},
		{name: "hundred p100", sorted: hundred, q: 1, want: 100 * time.Millisecond},
		{name: "thousand p99.9", sorted: thousand, q: 0.999, want: 999 * time.Microsecond},
		{name: "thousand p99", sorted: thousand, q: 0.99, want: 990 * time.Microsecond},
		{name: "tiny q takes the min", sorted: thousand, q: 1e-9, want: time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Fatalf("percentile(q=%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsAndSummarizes(t *testing.T) {
	ds := make([]time.Duration, 1000)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })

	got := summarize(ds)
	want := latencySummary{Count: 1000, MeanMS: 500.5, P50MS: 500, P90MS: 900, P99MS: 990, P999MS: 999, MaxMS: 1000}
	if got != want {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
	if zero := summarize(nil); zero != (latencySummary{}) {
		t.Fatalf("summarize(nil) = %+v, want zero", zero)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{name: "odd", xs: []float64{3, 1, 2}, want: 2},
		{name: "even", xs: []float64{4, 1, 3, 2}, want: 2.5},
		{name: "one", xs: []float64{5}, want: 5},
		{name: "outlier does not move it", xs: []float64{10, 11, 1000}, want: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]float64(nil), tt.xs...)
			if got := median(tt.xs); got != tt.want {
				t.Fatalf("median(%v) = %v, want %v", tt.xs, got, tt.want)
			}
			for i := range orig {
				if orig[i] != tt.xs[i] {
					t.Fatalf("median modified its input: %v", tt.xs)
				}
			}
		})
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Fatalf("median(nil) = %v, want NaN", got)
	}
}

func BenchmarkSummarize(b *testing.B) {
	b.ReportAllocs()
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]time.Duration, 100_000)
	for i := range src {
		src[i] = time.Duration(rng.Int64N(int64(10 * time.Millisecond)))
	}
	ds := make([]time.Duration, len(src))
	for b.Loop() {
		copy(ds, src)
		summarize(ds)
	}
}
