package replay

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the key prefix cmd/jwt-authz uses, next to the
// revocation store's "jwt-authz:revocation:".
const DefaultKeyPrefix = "jwt-authz:replay:"

// Redis is a Cache shared by every replica using one Redis (single server,
// Sentinel or Cluster). Each claim is one command,
//
//	SET <prefix><scope>:<digest> 1 NX PXAT <until in ms>
//
// so the server decides which of two racing replicas was first, and the
// key expires on its own when the window ends (Redis 6.2 or later, as the
// revocation store requires; with maxmemory-policy noeviction, as it also
// requires, no claim is evicted early). With a Cluster client the digest
// is the key's hash tag, <prefix><scope>:{<digest>}: the slot follows the
// digest, so claims spread evenly over the primaries and no client-chosen
// id can pick its slot. The prefix and scope must not contain '{' then.
//
// A Redis that cannot be reached makes Claim return the error: the caller
// refuses, it never guesses.
type Redis struct {
	client  goredis.UniversalClient
	prefix  string
	cluster bool
}

// NewRedis returns a Cache over client, with keys under keyPrefix
// (DefaultKeyPrefix when empty). The client stays the caller's.
func NewRedis(client goredis.UniversalClient, keyPrefix string) *Redis {
	if keyPrefix == "" {
		keyPrefix = DefaultKeyPrefix
	}
	_, cluster := client.(*goredis.ClusterClient)
	return &Redis{client: client, prefix: keyPrefix, cluster: cluster}
}

// Claim implements Cache.
func (r *Redis) Claim(ctx context.Context, scope, id string, until time.Time) (bool, error) {
	if !until.After(time.Now()) {
		return false, ErrPast
	}
	err := r.client.Do(ctx, "SET", r.key(scope, id), "1", "NX", "PXAT", ceilMillis(until)).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, goredis.Nil):
		return false, nil
	default:
		return false, fmt.Errorf("replay claim: %w", err)
	}
}

func (r *Redis) key(scope, id string) string {
	d := digestOf(scope, id)
	enc := base64.RawURLEncoding.EncodeToString(d[:])
	if r.cluster {
		return r.prefix + scope + ":{" + enc + "}"
	}
	return r.prefix + scope + ":" + enc
}

// ceilMillis rounds up, so that the key outlives until rather than expire
// up to a millisecond before the caller's window closes.
func ceilMillis(t time.Time) string {
	ns := t.UnixNano()
	ms := ns / int64(time.Millisecond)
	if ns%int64(time.Millisecond) > 0 {
		ms++
	}
	return strconv.FormatInt(ms, 10)
}
