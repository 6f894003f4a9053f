// Package cache is a bounded, sharded LRU of verified-token results keyed
// by the SHA-256 of the token, with each entry dropped at its own expiry.
//
// It knows nothing of tokens or Envoy: values are opaque. Safe for
// concurrent use; shards keep lock contention low under parallel Checks.
package cache
