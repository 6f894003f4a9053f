package main

import (
	"github.com/jwt-authz/jwt-authz/replay"
)

// replayMemoryEntries bounds the in-process replay cache used without
// Redis: room for about 4,300 single-use ids per second over a one-minute
// window (900 per second over five minutes), in about 25 MiB when full.
// When it is full, new ids are refused (fail closed) until some expire.
const replayMemoryEntries = 1 << 18

// newReplayCache builds the one seen-once cache of single-use ids (DPoP
// proof and logout token jti): shared through the revocation store's
// Redis client when there is one, so that an id used at one replica is
// refused at every other; in memory otherwise, since bolt and memory
// stores mean one replica.
func (st *stores) newReplayCache() replay.Cache {
	if st.redis != nil {
		return replay.NewRedis(st.redis, replay.DefaultKeyPrefix)
	}
	return replay.NewMemory(replayMemoryEntries)
}
