package scalesim

import "time"

// histogram counts delays in fixed buckets, exactly enough for
// percentiles of hundreds of millions of samples without keeping them.
type histogram struct {
	counts []uint64
	n      uint64
	max    time.Duration
}

// bucketWidth is the histogram's resolution; delays beyond
// bucketWidth*histogramBuckets land in the last bucket (max stays exact).
const (
	bucketWidth      = 50 * time.Microsecond
	histogramBuckets = 2_400_000 // 120 s
)

func newHistogram() *histogram { return &histogram{counts: make([]uint64, histogramBuckets)} }

func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	b := min(int(d/bucketWidth), histogramBuckets-1)
	h.counts[b]++
	h.n++
	h.max = max(h.max, d)
}

// quantile returns the upper edge of the bucket holding quantile q (0 < q
// <= 1), capped at the largest delay seen; 0 without samples.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			if b == histogramBuckets-1 {
				return h.max // the overflow bucket
			}
			return min(time.Duration(b+1)*bucketWidth, h.max)
		}
	}
	return h.max
}
