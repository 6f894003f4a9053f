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

	"github.com/jwt-authz/jwt-authz/internal/scalesim"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// runScaleCmd simulates many replicas following one Redis (or Cluster)
// and prints how revocations reached them, as Markdown.
func runScaleCmd(ctx context.Context, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg             scalesim.Config
		redisAddr       string
		cluster, prefix string
		cpuProfile      string
	)
	fs.StringVar(&redisAddr, "redis", "", "address (host:port, loopback) of the Redis every replica connects to")
	fs.StringVar(&cluster, "cluster", "", "comma-separated loopback seed addresses of a Redis Cluster, instead of --redis")
	fs.StringVar(&prefix, "prefix", "authzbench-scale:", "key prefix and channel name (a Cluster hash-tags it)")
	fs.IntVar(&cfg.Replicas, "replicas", 10, "replicas, each on its own connections and subscription")
	fs.IntVar(&cfg.FullReplicas, "full-replicas", 0, "of those, how many run the product's revocation service, timed per (replica, entry); "+
		"the others are listeners: the same subscription and pulls, so the same Redis work, without the index (0: all full)")
	fs.BoolVar(&cfg.RawListeners, "raw-listeners", false, "make the replicas that are not full raw listeners: each receives every message on "+
		"its own subscription (read up to its header's first sequence number) and probes the store's position, without decoding entries, "+
		"pulling or sweeping; for runs whose listeners would need more CPU than the machine has")
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
	newClient, isCluster, err := scaleClients(redisAddr, cluster)
	if err != nil {
		return usageError{err}
	}
	cfg.NewClient = newClient
	cfg.Store.Cluster, cfg.Store.KeyPrefix, cfg.Store.Channel = isCluster, prefix, prefix+"announce"
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

// scaleClients returns the constructor of one replica's client: the
// product's own, for a single server or a Cluster.
func scaleClients(redisAddr, cluster string) (func() goredis.UniversalClient, bool, error) {
	if (redisAddr == "") == (cluster == "") {
		return nil, false, errors.New("scale: give exactly one of --redis and --cluster")
	}
	if cluster != "" {
		addrs := strings.Split(cluster, ",")
		for _, a := range addrs {
			if err := checkLoopback(a); err != nil {
				return nil, false, fmt.Errorf("scale: --cluster: %w", err)
			}
		}
		return func() goredis.UniversalClient {
			return revredis.NewClusterClient(revredis.ClusterOptions{Addrs: addrs})
		}, true, nil
	}
	if err := checkLoopback(redisAddr); err != nil {
		return nil, false, fmt.Errorf("scale: --redis: %w", err)
	}
	redisURL := "redis://" + redisAddr
	if _, err := revredis.NewClient(redisURL); err != nil {
		return nil, false, fmt.Errorf("scale: --redis: %w", err)
	}
	return func() goredis.UniversalClient {
		c, _ := revredis.NewClient(redisURL) // parsed above
		return c
	}, false, nil
}
