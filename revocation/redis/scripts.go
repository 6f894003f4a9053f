package redis

import (
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// putScript records entries, merging each with the stored one, and
// announces those that changed in one message: in the compact form (see
// decodeCompact) when every number has at most 15 digits, so that Lua's
// floating-point numbers hold it exactly; else in the "b:" form.
//
// KEYS: log, exp, seq, then one entry key per entry.
// ARGV: channel ("" = do not announce), then per entry: member, expires,
// before, created, and its compactIdent.
// Returns how many entries changed.
//
// Numbers are compared with tonumber (exact below 2^53, which covers unix
// seconds and milliseconds) but always written back from the original
// strings, because Lua may format a large number in exponent notation.
var putScript = goredis.NewScript(putSource)

// sputScript is putScript announcing with SPUBLISH, for sharded pub/sub.
var sputScript = goredis.NewScript(strings.Replace(putSource, "'PUBLISH'", "'SPUBLISH'", 1))

// putArgs is how many ARGV putScript takes per entry.
const putArgs = 5

const putSource = `
local function uvarint(n)
  local s = ''
  while n >= 128 do
    s = s .. string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  return s .. string.char(n)
end
local function zigzag(d)
  if d >= 0 then return uvarint(d * 2) end
  return uvarint(-d * 2 - 1)
end

local channel = ARGV[1]
local changed = {}
local exact = true
for i = 4, #KEYS do
  local a = 2 + (i - 4) * 5
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
    changed[#changed + 1] = {seq, exp, before, created, m, ARGV[a + 4]}
    if #exp > 15 or #before > 15 or #created > 15 then exact = false end
  end
end
if channel ~= '' and #changed > 0 then
  local parts = {}
  if exact then
    parts[1] = 'c:' .. uvarint(changed[1][1])
    local pe, pb, pc = 0, 0, 0
    for _, c in ipairs(changed) do
      local e, b, cr = tonumber(c[2]), tonumber(c[3]), tonumber(c[4])
      local p = c[6] .. zigzag(e - pe)
      if string.byte(c[6], 1) % 8 >= 3 then
        p = p .. zigzag(b - pb)
        pb = b
      end
      parts[#parts + 1] = p .. zigzag(cr - pc)
      pe, pc = e, cr
    end
  else
    parts[1] = 'b:'
    for _, c in ipairs(changed) do
      parts[#parts + 1] = c[1] .. ':' .. c[2] .. ':' .. c[3] .. ':' .. c[4] .. ':' .. #c[5] .. ':' .. c[5]
    end
  end
  redis.call('PUBLISH', channel, table.concat(parts))
end
return #changed
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
