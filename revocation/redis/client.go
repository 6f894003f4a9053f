package redis

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
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
	opts.ClientName = "jwt-authz"
	return goredis.NewClient(opts), nil
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
