package redis

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func decodeAll(c []byte, n int) ([]uint64, error) {
	var out []uint64
	err := decodeChunk(c, n, func(h uint64) error { out = append(out, h); return nil })
	return out, err
}

func TestChunkRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []uint64 {
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = r.Uint64()
		}
		slices.Sort(hs)
		return slices.Compact(hs)
	}
	for name, hs := range map[string][]uint64{
		"one":            {42},
		"zero and max":   {0, ^uint64(0)},
		"consecutive":    {5, 6, 7, 8, 9},
		"full random":    random(setChunkHashes),
		"few random":     random(3),
		"clustered":      {1 << 40, 1<<40 + 1, 1<<40 + 3, 1 << 63, 1<<63 + 1, ^uint64(0) - 1, ^uint64(0)},
		"wide then near": {0, 1 << 62, 1<<62 + 1, 1<<62 + 2},
	} {
		t.Run(name, func(t *testing.T) {
			c := encodeChunk(nil, hs)
			got, err := decodeAll(c, len(hs))
			if err != nil || !slices.Equal(got, hs) {
				t.Fatalf("decode = %v (%d hashes), %v; want %d hashes", got[:min(len(got), 5)], len(got), err, len(hs))
			}
			for _, cut := range []int{0, 1, chunkHead - 1, chunkHead, len(c) / 2, len(c) - 2, len(c) - 1} {
				if cut < 0 || cut >= len(c) {
					continue
				}
				if _, err := decodeAll(c[:cut], len(hs)); err == nil && len(hs) > 1 {
					t.Fatalf("a chunk cut to %d of %d bytes decoded", cut, len(c))
				}
			}
			if _, err := decodeAll(append(c, 0), len(hs)); err == nil {
				t.Fatal("a chunk with a byte too many decoded")
			}
		})
	}
	// 8,192 consecutive hashes of a million random ones: gaps near 2^44.
	full := random(1_000_000)[:setChunkHashes]
	if c := encodeChunk(nil, full); len(c) > 6*len(full) {
		t.Errorf("a chunk of %d hashes of a million takes %d bytes, want under 6 a hash", len(full), len(c))
	} else {
		t.Logf("%d hashes of a million: %d bytes, %.2f a hash", len(full), len(c), float64(len(c))/float64(len(full)))
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(encodeChunk(nil, []uint64{1, 2, 1 << 50, 1<<50 + 7}), 4)
	f.Add([]byte{63, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 3)
	f.Fuzz(func(t *testing.T, c []byte, n int) {
		if n < 0 || n > setChunkHashes {
			return
		}
		got, err := decodeAll(c, n)
		if err != nil {
			return
		}
		if len(got) != n {
			t.Fatalf("decoded %d hashes, want %d", len(got), n)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("decoded hashes not ascending at %d", i)
			}
		}
	})
}
