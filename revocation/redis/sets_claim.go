package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A session set's content is uploaded by one writer at a time: the one
// holding its write claim,
//
//	s:<member>:w    "<random token>", set NX with a TTL of setClaimTTL
//
// in the header's slot. Writers of the same set that find neither the
// header nor the claim free (every replica writing back at once after
// Redis lost its data) wait for the header instead of uploading the
// content again.
const (
	// setClaimTTL bounds how long a writer that died holding the claim
	// holds up the others. A live writer slower than that lets a second
	// one upload the same content again: a duplicate, never a loss.
	setClaimTTL = 30 * time.Second
	// The backoff of a writer polling for the header or the claim.
	setClaimPollFirst = 20 * time.Millisecond
	setClaimPollMax   = 200 * time.Millisecond
	// setClaimReleaseTimeout bounds the release of a claim, which runs
	// even when the writer's context has ended.
	setClaimReleaseTimeout = 5 * time.Second
)

// errSetOtherContent refuses a write whose set id names other content.
var errSetOtherContent = errors.New("session set id already names other content")

// setClaimWaiting, when set (by tests), is called each time a writer of
// session set member m finds the claim held by another writer, before
// it waits.
var setClaimWaiting atomic.Pointer[func(s *Store, m string)]

func (s *Store) setClaimKey(m string) string { return s.prefix + "s:" + m + ":w" }

// claimSet waits for the turn of a writer of the content h under member
// m. It returns the stored header when one names the same content (the
// content is there; at most its expiry is to move), or else a release
// function, once this writer holds the claim and is to upload the
// content, calling release when done. It refuses a header that names
// other content, and fails when ctx ends first; it leaves no claim of its
// own behind when it fails.
func (s *Store) claimSet(ctx context.Context, m string, h setHeader) (stored *setHeader, release func(), err error) {
	keys := []string{s.setHeaderKey(m), s.setClaimKey(m)}
	token := rand.Text()
	release = func() { s.releaseSetClaim(ctx, keys[1], token) }
	wait := setClaimPollFirst
	for {
		res, err := claimSetScript.Run(ctx, s.c, keys, token, setClaimTTL.Milliseconds()).Result()
		if err != nil {
			// Without a reply, the call may have taken the claim.
			if rerr := goredis.Error(nil); !errors.As(err, &rerr) {
				release()
			}
			return nil, nil, err
		}
		switch v := res.(type) {
		case string:
			cur, err := parseSetHeader(v)
			if err != nil {
				return nil, nil, err
			}
			if cur.sum != h.sum {
				return nil, nil, errSetOtherContent
			}
			return &cur, nil, nil
		case int64:
			if v == 1 {
				return nil, release, nil
			}
		default:
			return nil, nil, fmt.Errorf("%w: session set claim reply %v", errBadRecord, res)
		}
		if hook := setClaimWaiting.Load(); hook != nil {
			(*hook)(s, m)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("waiting for another writer of the set: %w", context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, setClaimPollMax)
	}
}

// releaseSetClaim deletes the claim key if it still holds token, best
// effort: a claim left behind expires.
func (s *Store) releaseSetClaim(ctx context.Context, key, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), setClaimReleaseTimeout)
	defer cancel()
	if err := releaseSetClaimScript.Run(ctx, s.c, []string{key}, token).Err(); err != nil {
		s.log.Debug("session set write claim not released; it expires", "key", key, "err", err)
	}
}

// claimSetScript returns a session set's header (KEYS[1]) when there is
// one; else it takes the set's write claim (KEYS[2]) with token ARGV[1]
// for ARGV[2] milliseconds unless another writer holds it, returning 1
// when taken and 0 when held.
var claimSetScript = goredis.NewScript(`
local h = redis.call('GET', KEYS[1])
if h then return h end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`)

// releaseSetClaimScript deletes the claim KEYS[1] if it holds ARGV[1].
var releaseSetClaimScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
