package scalesim

import (
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// Config describes one simulation.
type Config struct {
	// NewClient returns a new Redis client; each replica and the writer
	// get their own. The engine closes them.
	NewClient func() goredis.UniversalClient
	// Store configures every replica's and the writer's redis.Store.
	// Simulations sharing a server use distinct key prefixes and channels.
	// Its SetReader and Metrics are the engine's own (see NewSetReader).
	Store revredis.Options
	// NewSetReader, when set, returns a client that spreads reads over the
	// primary and its replicas (revredis.NewSentinelReadClient,
	// NewClusterReadClient): every replica's Store reads session sets'
	// content through one of its own (Options.SetReader), or, for raw
	// listeners with SharedSetReaders, through one of a few shared ones.
	// The engine closes them. Nil: every set is read from the primary.
	NewSetReader func() goredis.UniversalClient
	// SharedSetReaders, when positive, makes the raw listeners share that
	// many set readers, taken in turn, instead of one each: a reader of a
	// Sentinel holds connections to the sentinels and to every node, which
	// a thousand of cost this process more than the reads. Redis serves
	// each raw listener the same reads (one of the whole content each),
	// on fewer connections.
	SharedSetReaders int
	// NewNodesClient, when set, returns the client Redis's usage is read
	// through: a Cluster client (ForEachShard), so that every primary and
	// replica is read, as a Sentinel's read client reaches them. Nil: a
	// client of NewClient (a Cluster client reaches every node; a single
	// server's or a Sentinel's primary client only the primary).
	NewNodesClient func() goredis.UniversalClient

	// Replicas is how many replicas follow the store.
	Replicas int
	// FullReplicas is how many of them run the product's revocation.Service
	// and are timed per (replica, entry); the others are listeners (see
	// listener): the same connections, subscription, pulls and so the same
	// Redis work, without the index. They subscribe interleaved, a full
	// replica at every Replicas/FullReplicas-th place. Zero: all are full.
	FullReplicas int
	// RawListeners makes the replicas that are not full raw listeners
	// (see rawListener) instead of listeners: each receives every message
	// on its own subscription and probes the store, without decoding the
	// entries, pulling or sweeping (in the session-set phase each reads the
	// set's whole content, undecoded); the simulation then costs this
	// process a few µs per message and listener rather than per entry.
	RawListeners bool
	// Revocations is how many single jti revocations are written, at Rate
	// per second.
	Revocations int
	Rate        float64
	// Sessions is how many sid revocations one mass logout writes, as fast
	// as Writers allow (0: no mass logout).
	Sessions int
	// Idle, when positive, adds a phase without writes before the first
	// write and after the last: what the replicas' background work
	// (incremental pulls, full resyncs) costs on its own, with an empty
	// store and with every entry written.
	Idle time.Duration
	// SessionSet is how many sessions one mass logout revokes as one
	// session set (revocation.KindSIDSet): one entry, announced like any
	// other, whose content every replica reads from Redis (0: none). See
	// sessionSet.
	SessionSet int
	// ProviderLogout adds the mass logout as it is meant to be done: one
	// KindProvider entry that cuts off every token of a provider.
	ProviderLogout bool
	// Writers is how many revocations are in flight at once. Default 32.
	Writers int
	// Settle is how long after a phase's last write the engine waits for
	// every replica to apply every entry; what is missing then is lost.
	// Default 60s.
	Settle time.Duration
	// ProbeInterval and SyncInterval set the replicas' incremental pull
	// and full-resync check periods (revocation.Options); zero keeps the
	// product's defaults.
	ProbeInterval, SyncInterval time.Duration
	// StartParallel is how many replicas start at once. Default 32.
	StartParallel int
	// Progress, when set, receives a line at each step.
	Progress func(format string, args ...any)

	// loseMessage, a test's hook, makes a listener withhold the credit of
	// the message numbered (after, through] when it returns true.
	loseMessage func(listener int, after, through uint64) bool
	// withholdRaw, a test's hook, makes a raw listener drop the message
	// whose header's first sequence number is first when it returns true.
	withholdRaw func(listener int, first uint64) bool
	// failSetRead, a test's hook, makes a raw listener's read of the
	// session set fail when it returns true.
	failSetRead func(listener int) bool
}

// maxTracked bounds full replicas × entries: the engine keeps 4 bytes
// per full replica and entry to time each apply.
const maxTracked = 2_000_000_000

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.NewClient == nil:
		return c, errors.New("scalesim: no Redis client constructor")
	case c.Replicas < 1:
		return c, fmt.Errorf("scalesim: replicas %d: want at least 1", c.Replicas)
	case c.FullReplicas < 0 || c.FullReplicas > c.Replicas:
		return c, fmt.Errorf("scalesim: full replicas %d: want 0 (all) to %d", c.FullReplicas, c.Replicas)
	case c.Revocations < 0 || c.Sessions < 0:
		return c, errors.New("scalesim: negative revocation or session count")
	case c.Revocations > 0 && c.Rate <= 0:
		return c, fmt.Errorf("scalesim: rate %v: want a positive rate", c.Rate)
	case c.SharedSetReaders < 0:
		return c, fmt.Errorf("scalesim: shared set readers %d: want 0 (one each) or more", c.SharedSetReaders)
	case c.SessionSet < 0 || c.SessionSet > revocation.MaxSetSessions:
		return c, fmt.Errorf("scalesim: session set of %d: want 0 to %d sessions", c.SessionSet, revocation.MaxSetSessions)
	case c.Revocations+c.Sessions+c.SessionSet == 0 && !c.ProviderLogout && c.Idle <= 0:
		return c, errors.New("scalesim: nothing to measure: set revocations, sessions, a session set, the provider logout or an idle time")
	case int64(max(c.FullReplicas, 1))*int64(c.Revocations+c.Sessions+1) > maxTracked:
		return c, fmt.Errorf("scalesim: %d full replicas × %d entries is more than %d applies to track; lower one of them",
			c.FullReplicas, c.Revocations+c.Sessions, maxTracked)
	}
	if c.FullReplicas == 0 {
		c.FullReplicas = c.Replicas
		if int64(c.Replicas)*int64(c.Revocations+c.Sessions+1) > maxTracked {
			return c, fmt.Errorf("scalesim: %d replicas × %d entries is more than %d applies to track; lower one of them or set full replicas",
				c.Replicas, c.Revocations+c.Sessions, maxTracked)
		}
	}
	if c.Writers <= 0 {
		c.Writers = 32
	}
	if c.Settle <= 0 {
		c.Settle = 60 * time.Second
	}
	if c.StartParallel <= 0 {
		c.StartParallel = 32
	}
	if c.Progress == nil {
		c.Progress = func(string, ...any) {}
	}
	return c, nil
}
