package scalesim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// The listeners' deliveries are ranges of write sequence numbers; to time
// them per entry, the engine reads, outside the measured usage, the
// store's write counter and change log. These follow the layout of
// revocation/redis: under the key prefix, "seq" counts the writes and the
// sorted set "log" holds every entry's member ("<kind>:<value>") scored by
// its write's number.
const (
	seqKeySuffix = "seq"
	logKeySuffix = "log"
	logPage      = 1000
)

// head returns the number of the store's last write (0 before any).
func (s *sim) head(ctx context.Context) (uint64, error) {
	v, err := s.admin.Get(ctx, s.prefix+seqKeySuffix).Uint64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("scalesim: read the write counter: %w", err)
	}
	return v, nil
}

// seqs returns, for each entry of [lo, hi), the sequence number of its
// write after base (0: not in the change log), and the largest of them.
func (s *sim) seqs(ctx context.Context, lo, hi int, base uint64) ([]uint64, uint64, error) {
	out := make([]uint64, hi-lo)
	var top uint64
	for offset := int64(0); ; offset += logPage {
		page, err := s.admin.ZRangeArgsWithScores(ctx, goredis.ZRangeArgs{
			Key:     s.prefix + logKeySuffix,
			Start:   "(" + strconv.FormatUint(base, 10),
			Stop:    "+inf",
			ByScore: true,
			Offset:  offset,
			Count:   logPage,
		}).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("scalesim: read the change log: %w", err)
		}
		for _, z := range page {
			m, _ := z.Member.(string)
			_, value, _ := strings.Cut(m, ":")
			i, ok := s.t.ids.index(value)
			if !ok || i < lo || i >= hi || out[i-lo] != 0 {
				continue
			}
			out[i-lo] = uint64(z.Score)
			top = max(top, uint64(z.Score))
		}
		if len(page) < logPage {
			return out, top, nil
		}
	}
}
