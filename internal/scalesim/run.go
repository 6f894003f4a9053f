package scalesim

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// subscribeTimeout bounds how long the replicas may take to start and
// subscribe.
const subscribeTimeout = 5 * time.Minute

// entryLifetime is the expiry given to every written entry: long enough
// to outlive the run, so nothing expires under the measurement.
const entryLifetime = time.Hour

// sim is one running simulation.
type sim struct {
	cfg   Config
	t     *tracker
	admin goredis.UniversalClient
	// nodes is the client Redis's usage is read through (see
	// Config.NewNodesClient).
	nodes goredis.UniversalClient
	// pubs tells the primaries' foreign PUBLISH calls (nil in a Cluster).
	pubs   *primaries
	prefix string // the store's key prefix
	writer *revocation.Service
	wstore *revredis.Store // the writer's
	// readers are the replicas' set readers; metrics the replicas' Stores'
	// (the set reads made again from the primary), registered on registry.
	readers   readers
	metrics   *revredis.Metrics
	registry  *prometheus.Registry
	replicas  []*replica     // the full replicas
	listeners []*listener    // the others, without RawListeners
	raws      []*rawListener // the others, with RawListeners
	// sharded says whether the raw listeners use sharded pub/sub.
	sharded bool
	// written holds, per entry, when the writer's Revoke returned (ns since
	// the run's start), or -1 when it failed.
	written []int64
	opts    revocation.Options
}

// Run starts cfg.Replicas replicas, writes cfg.Revocations single
// revocations at cfg.Rate, then a mass logout of cfg.Sessions sessions, and
// reports how each phase reached the replicas. It stops every replica and
// closes every client before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// Entries: the single revocations, the sessions, the session set, then
	// the provider cut-off.
	total := cfg.Revocations + cfg.Sessions + 2
	s := &sim{
		cfg:     cfg,
		t:       &tracker{ids: newIDs(total - 1), start: time.Now()},
		admin:   cfg.NewClient(),
		prefix:  keyPrefix(cfg.Store),
		written: make([]int64, total),
		opts:    revocation.Options{ProbeInterval: cfg.ProbeInterval, SyncInterval: cfg.SyncInterval},
	}
	defer s.admin.Close()
	if err := s.admin.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("scalesim: reach Redis: %w", err)
	}
	s.nodes = s.admin
	if cfg.NewNodesClient != nil {
		s.nodes = cfg.NewNodesClient()
		defer s.nodes.Close()
	}
	if !cfg.Store.Cluster {
		s.pubs = &primaries{}
		defer s.pubs.close()
	}
	s.registry = prometheus.NewRegistry()
	s.metrics = revredis.NewMetrics(s.registry)
	s.readers = readers{make: cfg.NewSetReader, shared: cfg.SharedSetReaders}
	defer s.readers.close()
	wclient := cfg.NewClient()
	defer wclient.Close()
	wopts := cfg.Store
	wopts.SetReader, wopts.Metrics = nil, nil
	if s.wstore, err = revredis.New(wclient, wopts); err != nil {
		return nil, err
	}
	if s.writer, err = revocation.NewService(s.wstore, s.opts); err != nil {
		return nil, err
	}
	defer s.writer.Close()
	if cfg.RawListeners {
		if s.sharded, err = shardedPubSub(ctx, s.admin, cfg.Store, s.prefix); err != nil {
			return nil, fmt.Errorf("scalesim: choose the pub/sub: %w", err)
		}
	}

	heap0 := liveHeap()
	runCtx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() {
		stop()
		running.Wait()
		for _, r := range s.replicas {
			if r.svc != nil {
				_ = r.svc.Close()
			}
			if r.client != nil {
				_ = r.client.Close()
			}
		}
		for _, l := range s.listeners {
			if l.client != nil {
				_ = l.client.Close()
			}
		}
		for _, l := range s.raws {
			_ = l.client.Close()
		}
	}()
	res := &Result{Replicas: cfg.Replicas, FullReplicas: cfg.FullReplicas}
	started := time.Now()
	if err := s.startReplicas(runCtx, &running, total); err != nil {
		return nil, err
	}
	res.StartTime = time.Since(started)
	res.HeapIdle = perReplica(liveHeap(), heap0, cfg.Replicas)
	res.RawListeners = len(s.raws)
	cfg.Progress("%d replicas (%d full, %d listeners, %d raw listeners) subscribed in %s; heap %d KiB each",
		cfg.Replicas, len(s.replicas), len(s.listeners), len(s.raws), res.StartTime.Round(time.Millisecond), res.HeapIdle>>10)

	if cfg.Idle > 0 {
		p, err := s.idle(ctx, cfg.Idle)
		if err != nil {
			return nil, err
		}
		p.Name = "idle, empty"
		res.Phases = append(res.Phases, p)
	}
	if cfg.Revocations > 0 {
		p, err := s.phase(ctx, "single jti", 0, cfg.Revocations, cfg.Rate, s.numbered(revocation.KindJTI), false)
		if err != nil {
			return nil, err
		}
		res.Phases = append(res.Phases, p)
	}
	if cfg.Sessions > 0 {
		p, err := s.phase(ctx, "mass logout, sid entries", cfg.Revocations, total-2, 0, s.numbered(revocation.KindSID), false)
		if err != nil {
			return nil, err
		}
		res.Phases = append(res.Phases, p)
	}
	if cfg.SessionSet > 0 {
		p, err := s.phase(ctx, fmt.Sprintf("mass logout, one session set of %d", cfg.SessionSet), total-2, total-1, 0, s.sessionSet(cfg.SessionSet), true)
		if err != nil {
			return nil, err
		}
		res.Phases = append(res.Phases, p)
	}
	if cfg.ProviderLogout {
		p, err := s.phase(ctx, "mass logout, one provider entry", total-1, total, 0, s.providerCutoff, false)
		if err != nil {
			return nil, err
		}
		res.Phases = append(res.Phases, p)
	}
	if cfg.Idle > 0 {
		p, err := s.idle(ctx, cfg.Idle)
		if err != nil {
			return nil, err
		}
		p.Name = "idle, holding every entry"
		res.Phases = append(res.Phases, p)
	}
	res.HeapPerReplica = perReplica(liveHeap(), heap0, cfg.Replicas)
	var entries int
	for _, r := range s.replicas {
		for _, k := range revocation.Kinds() {
			entries += r.svc.Index().Len(k)
		}
		res.Resubscriptions += r.subscriptions.Load() - 1
	}
	for _, l := range s.listeners {
		l.mu.Lock()
		res.Resubscriptions += int64(l.subscriptions - 1)
		l.mu.Unlock()
	}
	for _, l := range s.raws {
		l.mu.Lock()
		res.Resubscriptions += int64(l.subscriptions - 1)
		l.mu.Unlock()
	}
	res.IndexEntries = float64(entries) / float64(len(s.replicas))
	return res, nil
}

// keyPrefix returns the key prefix a redis.Store with o uses.
func keyPrefix(o revredis.Options) string {
	switch {
	case o.KeyPrefix != "":
		return o.KeyPrefix
	case o.Cluster:
		return revredis.ClusterKeyPrefix
	}
	return revredis.DefaultKeyPrefix
}

// fullPlaces returns, of n places in subscription order, the k where the
// full replicas subscribe: one in the middle of every n/k.
func fullPlaces(n, k int) []bool {
	full := make([]bool, n)
	for j := range k {
		full[(2*j+1)*n/(2*k)] = true
	}
	return full
}

// startReplicas builds and runs every replica, full ones and listeners
// (or raw listeners) at their places, and waits until each has subscribed, in the order of
// their places.
func (s *sim) startReplicas(ctx context.Context, running *sync.WaitGroup, entries int) error {
	full := fullPlaces(s.cfg.Replicas, s.cfg.FullReplicas)
	ts := turns(s.cfg.Replicas)
	type starter struct {
		run func(context.Context) error
		// ready is closed once the replica is subscribed (a listener: and
		// has pulled since).
		ready <-chan struct{}
	}
	starters := make([]starter, s.cfg.Replicas)
	for p := range starters {
		if full[p] {
			r := &replica{t: s.t, turn: ts[p], arrivals: make([]atomic.Uint32, entries), subscribed: make(chan struct{})}
			s.replicas = append(s.replicas, r)
			starters[p] = starter{ready: r.subscribed, run: func(ctx context.Context) error {
				r.client = s.cfg.NewClient()
				reader, err := s.readers.own(ctx)
				if err != nil {
					return err
				}
				store, err := revredis.New(r.client, s.storeOptions(reader))
				if err == nil {
					r.svc, err = revocation.NewService(recordingStore{Store: store, r: r}, s.opts)
				}
				if err != nil {
					return err
				}
				running.Go(func() { r.svc.Run(ctx) })
				return nil
			}}
			continue
		}
		// A listener's Store is made when it starts, with its set reader
		// (warming one takes a round trip to every node).
		client := s.cfg.NewClient()
		newStore := func(ctx context.Context, raw bool) (*revredis.Store, error) {
			var reader goredis.UniversalClient
			var err error
			if raw {
				reader, err = s.readers.forRaw(ctx)
			} else {
				reader, err = s.readers.own(ctx)
			}
			if err != nil {
				return nil, err
			}
			return revredis.New(client, s.storeOptions(reader))
		}
		if s.cfg.RawListeners {
			l := newRawListener(len(s.raws), s.t, ts[p], client, channelName(s.cfg.Store), s.sharded, s.cfg)
			s.raws = append(s.raws, l)
			starters[p] = starter{ready: l.ready, run: func(ctx context.Context) error {
				store, err := newStore(ctx, true)
				if err != nil {
					return err
				}
				l.store = store
				running.Go(func() { l.run(ctx) })
				return nil
			}}
			continue
		}
		l := newListener(len(s.listeners), s.t, ts[p], client, s.cfg)
		s.listeners = append(s.listeners, l)
		starters[p] = starter{ready: l.ready, run: func(ctx context.Context) error {
			store, err := newStore(ctx, false)
			if err != nil {
				return err
			}
			l.store = store
			if err := l.start(ctx); err != nil {
				return err
			}
			running.Go(func() { l.run(ctx) })
			return nil
		}}
	}
	sem := make(chan struct{}, s.cfg.StartParallel)
	errs := make(chan error, len(starters))
	var built sync.WaitGroup
	for _, st := range starters {
		built.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := st.run(ctx); err != nil {
				errs <- err
			}
		})
	}
	built.Wait()
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		return fmt.Errorf("scalesim: start replicas: %w", err)
	}
	deadline := time.NewTimer(subscribeTimeout)
	defer deadline.Stop()
	for p, st := range starters {
		select {
		case <-st.ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("scalesim: replica %d not subscribed after %s", p, subscribeTimeout)
		}
	}
	return nil
}

func collect(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// perReplica divides the heap growth by the replicas plus the writer.
func perReplica(now, before uint64, replicas int) uint64 {
	if now < before {
		return 0
	}
	return (now - before) / uint64(replicas+1)
}

// storeOptions are a replica's Store options: the run's, with its set
// reader (nil: none) and the engine's metrics.
func (s *sim) storeOptions(reader goredis.UniversalClient) revredis.Options {
	o := s.cfg.Store
	o.SetReader, o.Metrics = reader, s.metrics
	return o
}
