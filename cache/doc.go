// Package cache is a bounded, sharded LRU of verified-token results keyed
// by the SHA-256 of the token, with each entry dropped at its own expiry.
//
// An entry is laid out for a million of them: its shard map is keyed by
// the first 8 bytes of the hash and the entry keeps the next 20, so it
// matches on 224 bits while a map slot takes 16 bytes; with a pointer as
// its value, golang-lru's list element for it is 96 bytes.
//
// It knows nothing of tokens or Envoy: values are opaque. Safe for
// concurrent use; shards keep lock contention low under parallel Checks.
package cache
