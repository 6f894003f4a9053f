package scalesim

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	goredis "github.com/redis/go-redis/v9"
)

// readers makes the replicas' set readers (Config.NewSetReader): one per
// replica, or for raw listeners, with shared > 0, one of shared readers in
// turn. Each is warmed when made: its view of the nodes loaded and a
// connection opened to each node, as a replica that has read a set before
// holds them, so that a phase measures the reads and not the readers'
// first questions to the sentinels.
type readers struct {
	make   func() goredis.UniversalClient
	shared int

	mu   sync.Mutex
	all  []goredis.UniversalClient
	pool []goredis.UniversalClient
	next int
}

// own returns a new reader (nil without NewSetReader).
func (r *readers) own(ctx context.Context) (goredis.UniversalClient, error) {
	if r.make == nil {
		return nil, nil
	}
	c := r.make()
	r.mu.Lock()
	r.all = append(r.all, c)
	r.mu.Unlock()
	if err := warm(ctx, c); err != nil {
		return nil, fmt.Errorf("scalesim: set reader: %w", err)
	}
	return c, nil
}

// forRaw returns a raw listener's reader: its own, or the next shared one.
func (r *readers) forRaw(ctx context.Context) (goredis.UniversalClient, error) {
	if r.make == nil || r.shared <= 0 {
		return r.own(ctx)
	}
	r.mu.Lock()
	if len(r.pool) < r.shared {
		r.mu.Unlock()
		c, err := r.own(ctx)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.pool = append(r.pool, c)
		r.mu.Unlock()
		return c, nil
	}
	c := r.pool[r.next%len(r.pool)]
	r.next++
	r.mu.Unlock()
	return c, nil
}

// close closes every reader made.
func (r *readers) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.all {
		_ = c.Close()
	}
	r.all, r.pool = nil, nil
}

// warm loads c's view of the nodes and opens a connection to each.
func warm(ctx context.Context, c goredis.UniversalClient) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachShard(ctx, func(ctx context.Context, n *goredis.Client) error {
			return n.Ping(ctx).Err()
		})
	}
	return c.Ping(ctx).Err()
}

// setFallbackMetric is the product's count of set contents read again
// from the primary.
const setFallbackMetric = "jwt_authz_revocation_set_reads_from_primary_total"

// setFallbacks returns the replicas' set reads made again from the
// primary so far.
func (s *sim) setFallbacks() int64 {
	return counterValue(s.registry, setFallbackMetric)
}

// counterValue returns the value of the counter name in reg (0: none).
func counterValue(reg prometheus.Gatherer, name string) int64 {
	families, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		var total float64
		for _, m := range f.GetMetric() {
			total += counterOf(m)
		}
		return int64(total)
	}
	return 0
}

func counterOf(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}
