package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/config"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// redisProbeTimeout bounds the start-up check of the Redis topology.
const redisProbeTimeout = 5 * time.Second

// openRedis builds the one client of the configured topology and checks
// that the server fits the configuration. A configuration that cannot
// work (a Cluster node given as redis_url, an unknown Sentinel primary, a
// server older than 6.2, a refused password or ACL) is an error naming the
// key; a server that is merely unreachable is logged, and jwt-authz starts
// degraded and keeps reconnecting.
func openRedis(r config.Revocation, log *slog.Logger) (goredis.UniversalClient, error) {
	var (
		client goredis.UniversalClient
		topo   revredis.Topology
		key    string // the topology's key path, for messages
		pwKey  string // the key of the data nodes' password
	)
	ctx, cancel := context.WithTimeout(context.Background(), redisProbeTimeout)
	defer cancel()
	switch {
	case r.RedisSentinel != nil:
		s := r.RedisSentinel
		key, pwKey, topo = "revocation.redis_sentinel", "revocation.redis_sentinel.password_file", revredis.Sentinel
		o, err := sentinelOptions(r)
		if err != nil {
			return nil, err
		}
		if err := revredis.CheckSentinels(ctx, o); err != nil {
			var me *revredis.MisconfigError
			if errors.As(err, &me) {
				k := key + ".master_name"
				if me.Cause == revredis.CauseSentinelPassword {
					k = key + ".sentinel_password_file"
				}
				return nil, fmt.Errorf("%s: %s", k, me.Msg)
			}
			log.Warn("no sentinel reachable at start-up; starting degraded and retrying", "backend", "redis", "err", err)
		}
		client = revredis.NewSentinelClient(o)
		log.Info("revocation and session store", "backend", "redis", "topology", "sentinel", "master_name", s.MasterName, "sentinels", s.Addrs)
	case r.RedisCluster != nil:
		key, pwKey, topo = "revocation.redis_cluster", "revocation.redis_cluster.password_file", revredis.Cluster
		o, err := clusterOptions(r)
		if err != nil {
			return nil, err
		}
		client = revredis.NewClusterClient(o)
		log.Info("revocation and session store", "backend", "redis", "topology", "cluster", "seeds", o.Addrs)
	default:
		key, pwKey, topo = "revocation.redis_url", "revocation.redis_url", revredis.Single
		c, err := revredis.NewClientUser(r.RedisURL, r.RedisUsername)
		if err != nil {
			return nil, fmt.Errorf("revocation.redis_url: %w", err)
		}
		client = c
		log.Info("revocation and session store", "backend", "redis", "topology", "single", "addr", c.Options().Addr, "db", c.Options().DB)
	}
	info, err := revredis.Probe(ctx, client, topo)
	var me *revredis.MisconfigError
	switch {
	case errors.As(err, &me):
		_ = client.Close()
		k := key
		if me.Cause == revredis.CauseAuth {
			k = pwKey
			if r.RedisUsername != "" {
				k += " (user " + r.RedisUsername + " in revocation.redis_username)"
			}
		}
		return nil, fmt.Errorf("%s: %s", k, me.Msg)
	case err != nil:
		log.Warn("redis unreachable at start-up; starting degraded and retrying", "backend", "redis", "err", err)
	default:
		log.Info("redis server", "backend", "redis", "version", info.Version)
	}
	return client, nil
}

// openRedisReader returns, with redis_sentinel or redis_cluster, the client
// that reads session sets' content from the primary and its replicas
// alike (revredis.Options.SetReader), so that every replica reading a
// mass logout at once spreads over the nodes; nil with redis_url.
func openRedisReader(r config.Revocation) (goredis.UniversalClient, error) {
	switch {
	case r.RedisSentinel != nil:
		o, err := sentinelOptions(r)
		if err != nil {
			return nil, err
		}
		return revredis.NewSentinelReadClient(o), nil
	case r.RedisCluster != nil:
		o, err := clusterOptions(r)
		if err != nil {
			return nil, err
		}
		return revredis.NewClusterReadClient(o), nil
	}
	return nil, nil
}

// clusterOptions are the options of revocation.redis_cluster, the
// password read from its file.
func clusterOptions(r config.Revocation) (revredis.ClusterOptions, error) {
	c := r.RedisCluster
	pw, err := readSecretFile("revocation.redis_cluster.password_file", c.PasswordFile)
	if err != nil {
		return revredis.ClusterOptions{}, err
	}
	return revredis.ClusterOptions{Addrs: c.Addrs, Username: r.RedisUsername, Password: pw, TLS: c.TLS}, nil
}

// sentinelOptions are the options of revocation.redis_sentinel, passwords
// read from their files.
func sentinelOptions(r config.Revocation) (revredis.SentinelOptions, error) {
	s := r.RedisSentinel
	pw, err := readSecretFile("revocation.redis_sentinel.password_file", s.PasswordFile)
	if err != nil {
		return revredis.SentinelOptions{}, err
	}
	spw, err := readSecretFile("revocation.redis_sentinel.sentinel_password_file", s.SentinelPasswordFile)
	if err != nil {
		return revredis.SentinelOptions{}, err
	}
	return revredis.SentinelOptions{MasterName: s.MasterName, Addrs: s.Addrs, Username: r.RedisUsername,
		Password: pw, SentinelPassword: spw, TLS: s.TLS}, nil
}

// readSecretFile reads an optional password file, trimmed of surrounding
// white space. Errors name the key and never the content.
func readSecretFile(key, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("%s: %s is empty", key, path)
	}
	return pw, nil
}
