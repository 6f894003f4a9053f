package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/logthrottle"
	"github.com/jwt-authz/jwt-authz/internal/scalesim"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// runScaleCmd simulates many replicas following one Redis (a single
// server, a Cluster or a Sentinel primary with its replicas) and prints how revocations reached them, as Markdown.
func runScaleCmd(ctx context.Context, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg             scalesim.Config
		redisAddr       string
		cluster, prefix string
		sentinel        string
		replicaReads    bool
		cpuProfile      string
	)
	fs.StringVar(&redisAddr, "redis", "", "address (host:port, loopback) of the Redis every replica connects to")
	fs.StringVar(&cluster, "cluster", "", "comma-separated loopback seed addresses of a Redis Cluster, instead of --redis")
	fs.StringVar(&sentinel, "sentinel", "", "a primary managed by Redis Sentinel, as <master-name>@<sentinel-addr>[,<addr>...] (loopback), "+
		"instead of --redis: every replica follows the primary the sentinels name, as the product does")
	fs.BoolVar(&replicaReads, "replica-reads", true, "with --sentinel or --cluster, every replica (full, listener or raw) reads session sets' "+
		"content through a reader of its own that spreads the reads over the primary and its replicas, as the product does; "+
		"false: every read from the primary")
	fs.IntVar(&cfg.SharedSetReaders, "raw-set-readers", 0, "with replica reads, the raw listeners share this many set readers instead of "+
		"one each (a reader holds connections to the sentinels and to every node); Redis serves each raw listener the same reads "+
		"(0: one each)")
	fs.StringVar(&prefix, "prefix", "authzbench-scale:", "key prefix and channel name (a Cluster hash-tags it)")
	fs.IntVar(&cfg.Replicas, "replicas", 10, "replicas, each on its own connections and subscription")
	fs.IntVar(&cfg.FullReplicas, "full-replicas", 0, "of those, how many run the product's revocation service, timed per (replica, entry); "+
		"the others are listeners: the same subscription and pulls, so the same Redis work, without the index (0: all full)")
	fs.BoolVar(&cfg.RawListeners, "raw-listeners", false, "make the replicas that are not full raw listeners: each receives every message on "+
		"its own subscription (read up to its header's first sequence number) and probes the store's position, without decoding entries, "+
		"pulling or sweeping, and reads a session set's whole content (not decoded) once announced; "+
		"for runs whose listeners would need more CPU than the machine has")
	fs.IntVar(&cfg.Revocations, "revocations", 10_000, "single jti revocations, written at --rate")
	fs.Float64Var(&cfg.Rate, "rate", 1000, "single revocations per second")
	fs.IntVar(&cfg.Sessions, "sessions", 0, "sessions of one mass logout written as sid entries (0: none)")
	fs.DurationVar(&cfg.Idle, "idle", 0, "measure this long without writes before and after them (the replicas' background cost)")
	fs.IntVar(&cfg.SessionSet, "session-set", 0, "sessions of one mass logout written as one session set (sid_set), its content read by every replica (0: none)")
	fs.BoolVar(&cfg.ProviderLogout, "provider-logout", true, "also log a whole provider out with one cut-off entry")
	fs.IntVar(&cfg.Writers, "writers", 32, "revocations in flight")
	fs.DurationVar(&cfg.Settle, "settle", time.Minute, "wait this long after a phase's last write; entries not applied then are lost")
	fs.DurationVar(&cfg.Store.AnnounceDelay, "announce-delay", 0, "writer's announcement batching delay (0: the product default; negative: one message per entry)")
	fs.DurationVar(&cfg.Store.AnnounceInterval, "announce-interval", 0, "writer's least time between two batches under load (0: the product default, 20µs per subscriber; negative: none)")
	fs.DurationVar(&cfg.ProbeInterval, "probe-interval", 0, "replicas' incremental pull period (0: the product default)")
	fs.DurationVar(&cfg.SyncInterval, "sync-interval", 0, "replicas' full-resync check period (0: the product default)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write this process's CPU profile over the run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("scale: unexpected argument %q", fs.Arg(0))}
	}
	if cfg.FullReplicas < 0 || cfg.FullReplicas > cfg.Replicas {
		return usageError{fmt.Errorf("scale: --full-replicas %d: want 0 (all) to --replicas (%d)", cfg.FullReplicas, cfg.Replicas)}
	}
	if cfg.SharedSetReaders < 0 {
		return usageError{fmt.Errorf("scale: --raw-set-readers %d: want 0 (one each) or more", cfg.SharedSetReaders)}
	}
	topo, err := scaleTopology(redisAddr, cluster, sentinel)
	if err != nil {
		return usageError{err}
	}
	isCluster := topo.cluster
	cfg.NewClient, cfg.NewNodesClient = topo.newClient, topo.newNodes
	if replicaReads {
		cfg.NewSetReader = topo.newReader
	}
	cfg.Store.Cluster, cfg.Store.KeyPrefix, cfg.Store.Channel = isCluster, prefix, prefix+"announce"
	// A thousand clients of the sentinels each log their choice of
	// primary: go-redis's log goes to this one, at most once in a while.
	goredis.SetLogger(redisLogger{logthrottle.New(logger.With("backend", "redis"), slog.LevelWarn, "redis client")})
	if isCluster {
		tag := "{" + strings.TrimSuffix(prefix, ":") + "}:"
		cfg.Store.KeyPrefix, cfg.Store.Channel = tag, tag+"announce"
	}
	cfg.Progress = func(format string, args ...any) { logger.Info(fmt.Sprintf(format, args...)) }
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := scalesim.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return res.WriteMarkdown(stdout)
}

// topology is how the simulated replicas reach Redis: each one's client,
// its set reader (nil: none) and the client Redis's usage is read
// through (nil: one of newClient).
type topology struct {
	newClient, newReader, newNodes func() goredis.UniversalClient
	cluster                        bool
}

// scaleTopology returns the product's own clients for a single server, a
// Cluster or a Sentinel primary; with replicas (a Cluster's, a
// Sentinel's), a set reader that spreads reads over every node, and for a
// Sentinel a client that reaches the primary and its replicas for INFO.
func scaleTopology(redisAddr, cluster, sentinel string) (topology, error) {
	given := 0
	for _, v := range []string{redisAddr, cluster, sentinel} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return topology{}, errors.New("scale: give exactly one of --redis, --cluster and --sentinel")
	}
	switch {
	case cluster != "":
		addrs, err := loopbackList("--cluster", cluster)
		if err != nil {
			return topology{}, err
		}
		o := revredis.ClusterOptions{Addrs: addrs}
		return topology{
			newClient: func() goredis.UniversalClient { return revredis.NewClusterClient(o) },
			newReader: func() goredis.UniversalClient { return revredis.NewClusterReadClient(o) },
			cluster:   true,
		}, nil
	case sentinel != "":
		name, list, ok := strings.Cut(sentinel, "@")
		if !ok || name == "" {
			return topology{}, fmt.Errorf("scale: --sentinel %q: want <master-name>@<sentinel-addr>[,<addr>...]", sentinel)
		}
		addrs, err := loopbackList("--sentinel", list)
		if err != nil {
			return topology{}, err
		}
		o := revredis.SentinelOptions{MasterName: name, Addrs: addrs}
		read := func() goredis.UniversalClient { return revredis.NewSentinelReadClient(o) }
		return topology{
			newClient: func() goredis.UniversalClient { return revredis.NewSentinelClient(o) },
			newReader: read,
			newNodes:  read,
		}, nil
	}
	if err := checkLoopback(redisAddr); err != nil {
		return topology{}, fmt.Errorf("scale: --redis: %w", err)
	}
	redisURL := "redis://" + redisAddr
	if _, err := revredis.NewClient(redisURL); err != nil {
		return topology{}, fmt.Errorf("scale: --redis: %w", err)
	}
	return topology{newClient: func() goredis.UniversalClient {
		c, _ := revredis.NewClient(redisURL) // parsed above
		return c
	}}, nil
}

// loopbackList splits a comma-separated list of loopback addresses.
func loopbackList(flag, list string) ([]string, error) {
	addrs := strings.Split(list, ",")
	for _, a := range addrs {
		if err := checkLoopback(a); err != nil {
			return nil, fmt.Errorf("scale: %s: %w", flag, err)
		}
	}
	return addrs, nil
}

// redisLogger hands go-redis's log lines to a throttled slog logger.
type redisLogger struct{ th *logthrottle.Throttle }

// Printf implements go-redis's logger.
func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.th.Error(errors.New(fmt.Sprintf(format, v...)))
}
