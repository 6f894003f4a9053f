package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/jwt-authz/jwt-authz/internal/logthrottle"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// The content of a session set (revocation.KindSIDSet) is stored apart
// from its entry, before it, under the key prefix:
//
//	s:<member>:h    header: "<count>:<chunks>:<sha256 hex>:<expiry>"
//	s:<member>:<i>  chunk i (from 0): up to setChunkHashes hashes,
//	                ascending, Rice-coded (see encodeChunk)
//
// every key expiring (EXAT) with the set. The entry's own write, the
// usual putScript call, announces it afterwards like any other entry; a
// replica that receives it (announcement, change log or full listing)
// loads the content, checks its SHA-256 and only then hands the entry on.
const (
	setChunkHashes = 8192               // at most 64 KiB per chunk coded
	setChunkBytes  = 8 * setChunkHashes // bytes of a full chunk, uncoded
	// setChunksPerCall bounds the chunks one script call writes or one
	// MGET reads (256 KiB), so that no single command holds Redis for
	// long. When a thousand replicas read a set at once, a reply of 1 MiB
	// each took past the client's read timeout on a loaded machine, and
	// every failed read was read again.
	setChunksPerCall = 4
)

// errSetGone says that a set's content has expired with it: the entry is
// skipped, not an error.
var errSetGone = errors.New("session set expired")

func (s *Store) setHeaderKey(m string) string { return s.prefix + "s:" + m + ":h" }
func (s *Store) setChunkKey(m string, i int) string {
	return s.prefix + "s:" + m + ":" + strconv.Itoa(i)
}

// setHeader is a set's stored header.
type setHeader struct {
	count, chunks int
	sum           string // SHA-256 of the content, hex
	expires       int64
}

func (h setHeader) String() string {
	return strconv.Itoa(h.count) + ":" + strconv.Itoa(h.chunks) + ":" + h.sum + ":" + strconv.FormatInt(h.expires, 10)
}

func parseSetHeader(v string) (setHeader, error) {
	parts := strings.Split(v, ":")
	bad := fmt.Errorf("%w: session set header %q", errBadRecord, truncate(v))
	if len(parts) != 4 {
		return setHeader{}, bad
	}
	var h setHeader
	var err1, err2, err3 error
	h.count, err1 = strconv.Atoi(parts[0])
	h.chunks, err2 = strconv.Atoi(parts[1])
	h.expires, err3 = strconv.ParseInt(parts[3], 10, 64)
	h.sum = parts[2]
	if err1 != nil || err2 != nil || err3 != nil || h.count <= 0 || h.count > revocation.MaxSetSessions ||
		h.chunks != (h.count+setChunkHashes-1)/setChunkHashes || len(h.sum) != 2*sha256.Size {
		return setHeader{}, bad
	}
	return h, nil
}

// setContent is the stored form of set: its chunks and header.
func setContent(set *revocation.SIDSet, expires int64) ([]string, setHeader) {
	hs := set.Hashes()
	sum := sha256.New()
	chunks := make([]string, 0, (len(hs)+setChunkHashes-1)/setChunkHashes)
	buf := make([]byte, 0, setChunkBytes)
	for len(hs) > 0 {
		n := min(len(hs), setChunkHashes)
		buf = encodeChunk(buf[:0], hs[:n])
		sum.Write(buf)
		chunks = append(chunks, string(buf))
		hs = hs[n:]
	}
	return chunks, setHeader{count: set.Len(), chunks: len(chunks), sum: hex.EncodeToString(sum.Sum(nil)), expires: expires}
}

// setCache remembers the sets this Store wrote or loaded, by member and
// checksum, so that a set delivered again (by a pull after its
// announcement, a full listing, a write-back) costs one GET of its
// header, and concurrent loads of one set fetch it once.
type setCache struct {
	mu     sync.Mutex
	sets   map[string]cachedSet
	flight singleflight.Group
	// fails logs sets that could not be loaded: the first failure of a
	// run, then a count now and then, since every pull retries.
	fails *logthrottle.Throttle
}

// failures returns the Store's throttle of load failures.
func (s *Store) setFailures() *logthrottle.Throttle {
	s.sets.mu.Lock()
	defer s.sets.mu.Unlock()
	if s.sets.fails == nil {
		s.sets.fails = logthrottle.New(s.log, slog.LevelWarn, "session set not loaded; every pull tries again")
	}
	return s.sets.fails
}

type cachedSet struct {
	set     *revocation.SIDSet
	expires int64
}

func (c *setCache) get(key string) *revocation.SIDSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sets[key].set
}

func (c *setCache) put(key string, set *revocation.SIDSet, expires int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = make(map[string]cachedSet)
	}
	now := time.Now().Unix()
	for k, v := range c.sets {
		if v.expires <= now {
			delete(c.sets, k)
		}
	}
	if cur, ok := c.sets[key]; ok {
		expires = max(expires, cur.expires)
	}
	c.sets[key] = cachedSet{set: set, expires: expires}
}

// writeSet stores the content of e, a KindSIDSet entry, unless it is
// stored already (the header names the same content and expires no
// earlier). One writer at a time uploads it, holding the set's claim (see
// claimSet); the others wait for its header. Chunks go first, in calls of
// setChunksPerCall; the header last, in a call that checks every chunk is
// there and moves them all to the header's expiry: the latest any writer
// of the set asked for. A header that names other content is refused: a
// set id names one set.
func (s *Store) writeSet(ctx context.Context, e revocation.Entry) error {
	m := member(e.Kind, e.Provider, e.Value)
	chunks, h := setContent(e.Set, e.ExpiresAt)
	hk := s.setHeaderKey(m)
	keys := make([]string, 0, 1+len(chunks))
	keys = append(keys, hk)
	for i := range chunks {
		keys = append(keys, s.setChunkKey(m, i))
	}
	cur, release, err := s.claimSet(ctx, m, h)
	switch {
	case err != nil:
		return fmt.Errorf("write session set: %w", err)
	case cur != nil:
		// Stored already (a write-back, a set recorded again): at most
		// the expiry moves, and the chunks stay; a chunk missing under
		// the header is written again.
		if cur.expires >= e.ExpiresAt ||
			setHeaderScript.Run(ctx, s.c, keys, e.ExpiresAt, h.count, h.chunks, h.sum).Err() == nil {
			s.sets.put(m+":"+h.sum, e.Set, max(cur.expires, e.ExpiresAt))
			return nil
		}
	default:
		defer release()
	}
	for i := 0; i < len(chunks); i += setChunksPerCall {
		j := min(i+setChunksPerCall, len(chunks))
		args := make([]any, 0, 2+j-i)
		args = append(args, e.ExpiresAt, h.sum)
		for _, c := range chunks[i:j] {
			args = append(args, c)
		}
		callKeys := append([]string{hk}, keys[1+i:1+j]...)
		if err := setChunksScript.Run(ctx, s.c, callKeys, args...).Err(); err != nil {
			return fmt.Errorf("write session set: %w", err)
		}
	}
	if err := setHeaderScript.Run(ctx, s.c, keys, e.ExpiresAt, h.count, h.chunks, h.sum).Err(); err != nil {
		return fmt.Errorf("write session set: %w", err)
	}
	s.sets.put(m+":"+h.sum, e.Set, e.ExpiresAt)
	return nil
}

// loadSet attaches to e, a KindSIDSet entry read from the store, its
// content: from the cache when the header names a set already known,
// else read (MGET of setChunksPerCall chunks at a time) and checked
// against the header's count and SHA-256. It returns errSetGone when the
// content expired with the set.
func (s *Store) loadSet(ctx context.Context, e *revocation.Entry) error {
	m := member(e.Kind, e.Provider, e.Value)
	v, err := s.c.Get(ctx, s.setHeaderKey(m)).Result()
	if errors.Is(err, goredis.Nil) {
		if e.ExpiresAt <= time.Now().Unix()+1 {
			return errSetGone
		}
		return fmt.Errorf("load session set %s: %w: content missing", e.Value, errBadRecord)
	}
	if err != nil {
		return fmt.Errorf("load session set %s: %w", e.Value, err)
	}
	h, err := parseSetHeader(v)
	if err != nil {
		return fmt.Errorf("load session set %s: %w", e.Value, err)
	}
	key := m + ":" + h.sum
	if set := s.sets.get(key); set != nil {
		e.Set = set
		s.setLoaded()
		return nil
	}
	got, err, _ := s.sets.flight.Do(key, func() (any, error) {
		set, err := s.fetchSet(ctx, m, h)
		if err != nil {
			return nil, err
		}
		s.sets.put(key, set, h.expires)
		return set, nil
	})
	if err != nil {
		err = fmt.Errorf("load session set %s: %w", e.Value, err)
		if ctx.Err() == nil {
			s.setFailures().Error(err)
		}
		return err
	}
	e.Set = got.(*revocation.SIDSet)
	s.setLoaded()
	return nil
}

// setLoaded ends a run of load failures, logging the recovery once.
func (s *Store) setLoaded() {
	if n, lasted := s.setFailures().Resolve(); n > 0 {
		s.log.Info("session set loaded after failures", "failures", n, "failing_for", lasted.Round(time.Second).String())
	}
}

// setHeaderCheck is the start of the two scripts that write a session
// set: a stored header (KEYS[1]) that names other content than ARGV[SUM]
// refuses the write, and one that expires later moves exp to its expiry.
const setHeaderCheck = `local h = redis.call('GET', KEYS[1])
if h then
  local sum, hexp = string.match(h, '^%d+:%d+:(%x+):(%d+)$')
  if sum ~= ARGV[SUM] then
    return redis.error_reply('ERR session set id already names other content')
  end
  if tonumber(hexp) > tonumber(exp) then exp = hexp end
end`

// setChunksScript writes chunks of a session set, expiring at the later
// of the given expiry and the stored header's, and refuses when a stored
// header names other content.
//
// KEYS: header, then the chunk keys. ARGV: expiry, sha256 hex, then the
// chunks.
var setChunksScript = goredis.NewScript(`
local exp, SUM = ARGV[1], 2
` + setHeaderCheck + `
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'EXAT', exp)
end
return #KEYS - 1
`)

// setHeaderScript completes a session set's write: it checks that every
// chunk is stored, moves them all to the header's expiry (the later of
// the given one and the stored header's) and writes the header.
//
// KEYS: header, then every chunk key. ARGV: expiry, count, chunks, sha256
// hex.
var setHeaderScript = goredis.NewScript(`
local exp, SUM = ARGV[1], 4
` + setHeaderCheck + `
for i = 2, #KEYS do
  if redis.call('EXPIREAT', KEYS[i], exp) == 0 then
    return redis.error_reply('ERR session set chunk missing')
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4] .. ':' .. exp, 'EXAT', exp)
return 1
`)
