package redis

import (
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// putScript records entries, merging each with the stored one, and
// announces those that changed in one message (see encodeBatch).
//
// KEYS: log, exp, seq, then one entry key per entry.
// ARGV: channel ("" = do not announce), then per entry: member, expires,
// before, created.
// Returns how many entries changed.
//
// Numbers are compared with tonumber (exact below 2^53, which covers unix
// seconds and milliseconds) but always written back from the original
// strings, because Lua may format a large number in exponent notation.
var putScript = goredis.NewScript(putSource)

// sputScript is putScript announcing with SPUBLISH, for sharded pub/sub.
var sputScript = goredis.NewScript(strings.Replace(putSource, "'PUBLISH'", "'SPUBLISH'", 1))

const putSource = `
local channel = ARGV[1]
local changed = 0
local parts = {}
for i = 4, #KEYS do
  local a = 2 + (i - 4) * 4
  local m, exp, before, created = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local write = true
  local cur = redis.call('GET', KEYS[i])
  if cur then
    local ce, cb = string.match(cur, '^(%d+):(%d+):%d+$')
    if ce then
      local later = tonumber(exp) > tonumber(ce)
      local wider = tonumber(before) > tonumber(cb)
      if not later and not wider then
        write = false
      else
        if not later then exp = ce end
        if not wider then before = cb end
      end
    end
  end
  if write then
    local v = exp .. ':' .. before .. ':' .. created
    redis.call('SET', KEYS[i], v, 'EXAT', exp)
    local seq = redis.call('INCR', KEYS[3])
    redis.call('ZADD', KEYS[1], seq, m)
    redis.call('ZADD', KEYS[2], exp, m)
    parts[#parts + 1] = seq .. ':' .. v .. ':' .. #m .. ':' .. m
    changed = changed + 1
  end
end
if channel ~= '' and #parts > 0 then
  redis.call('PUBLISH', channel, 'b:' .. table.concat(parts))
end
return changed
`

// headScript returns the dataset's epoch marker, creating it from ARGV[1]
// if it is missing, and the current write sequence number.
//
// KEYS: epoch, seq.
var headScript = goredis.NewScript(`
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local seq = redis.call('GET', KEYS[2]) or '0'
return {epoch, seq}
`)

// deleteScript removes the given members whose expiry is at or before now
// (a member re-put with a later expiry meanwhile is left alone).
//
// KEYS: log, exp, then one entry key per member.
// ARGV: now, then the members.
// Returns how many it removed.
var deleteScript = goredis.NewScript(`
local now = tonumber(ARGV[1])
local n = 0
for i = 3, #KEYS do
  local m = ARGV[i - 1]
  local score = redis.call('ZSCORE', KEYS[2], m)
  if score and tonumber(score) <= now then
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
`)
