package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Timeouts of clients made by NewClient. They are short because every
// caller has a fallback: the local index keeps serving, and the next probe
// retries.
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second
)

// NewClient returns a Redis client for a revocation.redis_url:
// redis://[user:password@]host:port[/db] or rediss://… for TLS (verified
// against the system roots, TLS 1.2 or later), with the query options
// go-redis understands (dial_timeout, pool_size, …) and short timeouts
// unless the URL sets them. The caller closes the client after the Store.
//
// Errors never repeat the URL, which may hold a password.
func NewClient(redisURL string) (*goredis.Client, error) {
	return NewClientUser(redisURL, "")
}

// NewClientUser is NewClient with an ACL user for a URL that names none.
func NewClientUser(redisURL, username string) (*goredis.Client, error) {
	if redisURL == "" {
		return nil, errors.New("redis: empty URL")
	}
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse URL: %w", redactURLError(err))
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = dialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = ioTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = ioTimeout
	}
	if opts.Username == "" {
		opts.Username = username
	}
	opts.ClientName = clientName
	opts.MaintNotificationsConfig = noMaintNotifications()
	return goredis.NewClient(opts), nil
}

// noMaintNotifications turns off go-redis's maintenance notifications
// (a handshake on every new connection, for servers that announce their
// maintenance; the failover client never sends it). By default go-redis
// tries it and, when the server refuses, rewrites the client's options
// from the connection being opened without the lock that guards them from
// a dedicated connection (Client.Conn, which the session store uses to
// wait for a replica on the connection that wrote): a data race. Redis
// Sentinel, Cluster and the managed services named in CONFIGURATION.md
// announce failovers in their own way, which the clients follow.
func noMaintNotifications() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// clientName is sent with CLIENT SETNAME on every connection.
const clientName = "jwt-authz"

// SentinelOptions name a primary managed by Redis Sentinel.
type SentinelOptions struct {
	MasterName string
	Addrs      []string // the sentinels, host:port
	// Username and Password authenticate to the data nodes.
	Username, Password string
	// SentinelPassword authenticates to the sentinels (AUTH <password>).
	SentinelPassword string
	// TLS connects to the sentinels and the data nodes over TLS 1.2 or
	// later, verified against the system roots, or against TLSConfig's
	// when it is set.
	TLS       bool
	TLSConfig *tls.Config
}

// NewSentinelClient returns a client of the primary the sentinels name,
// which follows it across failovers (go-redis's failover client).
func NewSentinelClient(o SentinelOptions) *goredis.Client {
	return goredis.NewFailoverClient(failoverOptions(o))
}

// failoverOptions are the go-redis options of o.
func failoverOptions(o SentinelOptions) *goredis.FailoverOptions {
	return &goredis.FailoverOptions{
		MasterName:       o.MasterName,
		SentinelAddrs:    o.Addrs,
		SentinelPassword: o.SentinelPassword,
		Username:         o.Username,
		Password:         o.Password,
		ClientName:       clientName,
		DialTimeout:      dialTimeout,
		ReadTimeout:      ioTimeout,
		WriteTimeout:     ioTimeout,
		TLSConfig:        tlsConfig(o.TLS, o.TLSConfig),
	}
}

// NewSentinelReadClient returns a client for Options.SetReader: it sends
// each read command to a random node among the primary the sentinels name
// and the replicas they know of it (go-redis's failover Cluster client,
// routing randomly), and follows failovers and replicas coming and going.
// Writes through it go to the primary.
func NewSentinelReadClient(o SentinelOptions) *goredis.ClusterClient {
	opts := failoverOptions(o)
	opts.RouteRandomly = true
	return goredis.NewFailoverClusterClient(opts)
}

// NewSentinelClients returns a client of each sentinel of o, for asking
// them directly (the failover client keeps its own). The caller closes
// them.
func NewSentinelClients(o SentinelOptions) []*goredis.SentinelClient {
	out := make([]*goredis.SentinelClient, len(o.Addrs))
	for i, addr := range o.Addrs {
		out[i] = goredis.NewSentinelClient(&goredis.Options{
			Addr:         addr,
			Password:     o.SentinelPassword,
			DialTimeout:  dialTimeout,
			ReadTimeout:  ioTimeout,
			WriteTimeout: ioTimeout,
			MaxRetries:   -1,
			TLSConfig:    tlsConfig(o.TLS, o.TLSConfig),
		})
	}
	return out
}

// ClusterOptions name a Redis Cluster.
type ClusterOptions struct {
	Addrs              []string // seed nodes, host:port
	Username, Password string
	// TLS connects to every node over TLS 1.2 or later, verified against
	// the system roots, or against TLSConfig's when it is set.
	TLS       bool
	TLSConfig *tls.Config
}

// NewClusterClient returns a Redis Cluster client, which learns the slot
// map from the seeds and follows redirections and node failovers.
func NewClusterClient(o ClusterOptions) *goredis.ClusterClient {
	c := goredis.NewClusterClient(goClusterOptions(o))
	c.AddHook(reloadOnConnError{c})
	return c
}

// goClusterOptions are the go-redis options of o.
func goClusterOptions(o ClusterOptions) *goredis.ClusterOptions {
	return &goredis.ClusterOptions{
		ClusterStateReloadInterval: clusterReloadInterval,
		Addrs:                      o.Addrs,
		Username:                   o.Username,
		Password:                   o.Password,
		ClientName:                 clientName,
		DialTimeout:                dialTimeout,
		ReadTimeout:                ioTimeout,
		WriteTimeout:               ioTimeout,
		TLSConfig:                  tlsConfig(o.TLS, o.TLSConfig),
		MaintNotificationsConfig:   noMaintNotifications(),
	}
}

// NewClusterReadClient returns a Cluster client for Options.SetReader: it
// sends each read command to a random node, primary or replica, among
// those serving the key's slot (READONLY on replicas).
func NewClusterReadClient(o ClusterOptions) *goredis.ClusterClient {
	opts := goClusterOptions(o)
	opts.RouteRandomly = true
	c := goredis.NewClusterClient(opts)
	c.AddHook(reloadOnConnError{c})
	return c
}

// clusterReloadInterval bounds how old the client's slot map gets while
// commands keep succeeding.
const clusterReloadInterval = 10 * time.Second

// reloadOnConnError refreshes a Cluster client's slot map when a command
// fails without a reply from the server: the node may have died and a
// replica taken over its slots, which the client would otherwise learn
// only at the next periodic reload. Reloads are deduplicated by go-redis.
type reloadOnConnError struct{ c *goredis.ClusterClient }

func (h reloadOnConnError) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h reloadOnConnError) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnConnError) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnConnError) check(ctx context.Context, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	var reply goredis.Error // a reply from a server, Nil included
	if errors.As(err, &reply) {
		return
	}
	h.c.ReloadState(ctx)
}

// tlsConfig is nil without TLS; else a copy of custom, or TLS 1.2 or
// later verified against the system roots. Without a ServerName, each
// connection verifies the host of the address it dials.
func tlsConfig(on bool, custom *tls.Config) *tls.Config {
	switch {
	case !on:
		return nil
	case custom != nil:
		c := custom.Clone()
		c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
		return c
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// errBadURL stands in for a URL syntax error, whose text would quote the
// URL, password included.
var errBadURL = errors.New("malformed URL; want redis://[user:password@]host:port[/db] or rediss://")

func redactURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return errBadURL
	}
	return err
}
