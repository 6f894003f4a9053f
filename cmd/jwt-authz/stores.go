package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/internal/logthrottle"
	"github.com/jwt-authz/jwt-authz/replay"
	"github.com/jwt-authz/jwt-authz/revocation"
	revbolt "github.com/jwt-authz/jwt-authz/revocation/bolt"
	revmemory "github.com/jwt-authz/jwt-authz/revocation/memory"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
	"github.com/jwt-authz/jwt-authz/session"
	sessbolt "github.com/jwt-authz/jwt-authz/session/bolt"
	sessmemory "github.com/jwt-authz/jwt-authz/session/memory"
	sessredis "github.com/jwt-authz/jwt-authz/session/redis"
	"github.com/jwt-authz/jwt-authz/tracing"
)

// stores are the durable parts: the revocation store and the session store
// share one bbolt file or one Redis client.
type stores struct {
	backend string
	db      *bbolt.DB
	redis   goredis.UniversalClient
	// redisReader reads session sets' content from the primary and its
	// replicas, with redis_sentinel or redis_cluster; nil otherwise.
	redisReader goredis.UniversalClient
	revStore    revocation.Store
	sessions    session.Store
	// replay remembers single-use ids (DPoP proof and logout token jti),
	// on the same Redis as the revocation store when there is one.
	replay replay.Cache
	// sentinels are clients of each sentinel, with redis_sentinel: the
	// session store confirms the primary with them.
	sentinels []*goredis.SentinelClient
}

func openStores(cfg *config.Config, log *slog.Logger, tp *tracing.Provider, reg prometheus.Registerer) (*stores, error) {
	st := &stores{backend: cfg.Revocation.Store}
	switch cfg.Revocation.Store {
	case "memory":
		log.Warn("sessions are kept in memory and lost on restart; use bolt or redis in production", "backend", "memory")
		st.revStore = revmemory.New(log)
		st.sessions = sessmemory.New()
	case "redis":
		client, err := openRedis(cfg.Revocation, log)
		if err != nil {
			return nil, err
		}
		goredis.SetLogger(newRedisLogger(log))
		st.redis = client
		if err := traceRedis(client, tp); err != nil {
			st.close()
			return nil, err
		}
		reader, err := openRedisReader(cfg.Revocation)
		if err != nil {
			st.close()
			return nil, err
		}
		st.redisReader = reader
		if reader != nil {
			if err := traceRedis(reader, tp); err != nil {
				st.close()
				return nil, err
			}
		}
		rs, err := revredis.New(st.redis, revredis.Options{Logger: log, Cluster: cfg.Revocation.RedisCluster != nil,
			Metrics: revredis.NewMetrics(reg), SetReader: reader})
		if err != nil {
			st.close()
			return nil, err
		}
		st.revStore = rs
		// With replicas (Sentinel, Cluster) a rotation is acknowledged only
		// once a replica has it, so a failover never lets a refresh token
		// rotate twice; a primary with no replica connected is confirmed
		// with the sentinels (or the other Cluster primaries) instead.
		replicated := cfg.Revocation.RedisSentinel != nil || cfg.Revocation.RedisCluster != nil
		so := sessredis.Options{WaitForReplica: replicated}
		if s := cfg.Revocation.RedisSentinel; s != nil {
			o, err := sentinelOptions(cfg.Revocation)
			if err != nil {
				st.close()
				return nil, err
			}
			st.sentinels = revredis.NewSentinelClients(o)
			so.Sentinel = &sessredis.Sentinel{MasterName: s.MasterName, Clients: st.sentinels}
		}
		ss, err := sessredis.NewWithOptions(st.redis, so)
		if err != nil {
			st.close()
			return nil, err
		}
		st.sessions = ss
	default:
		path := cfg.BoltPath()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		db, err := revbolt.Open(path)
		if err != nil {
			return nil, err
		}
		st.db = db
		rs, err := revbolt.New(db)
		if err != nil {
			st.close()
			return nil, err
		}
		st.revStore = rs
		ss, err := sessbolt.New(db)
		if err != nil {
			st.close()
			return nil, err
		}
		st.sessions = ss
		log.Info("revocation and session store", "backend", "bolt", "path", path)
	}
	st.replay = st.newReplayCache()
	return st, nil
}

func (st *stores) close() {
	if st.redis != nil {
		_ = st.redis.Close()
	}
	if st.redisReader != nil {
		_ = st.redisReader.Close()
	}
	for _, c := range st.sentinels {
		_ = c.Close()
	}
	if st.db != nil {
		_ = st.db.Close()
	}
}

// redisLogger routes go-redis's own messages (a failed dial on every retry
// while Redis is away) into the structured log: the first of a run, then a
// count at a slowing interval.
type redisLogger struct{ th *logthrottle.Throttle }

func newRedisLogger(log *slog.Logger) redisLogger {
	return redisLogger{th: logthrottle.New(log.With("backend", "redis"), slog.LevelWarn, "redis client")}
}

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.th.Error(errors.New(fmt.Sprintf(format, v...)))
}
