package redis

import (
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// putScript records entries, merging each with the stored one, and
// queues those that changed for announcement on the pending list, which
// every writer shares; it announces the pending entries (every writer's,
// in the order of their sequence numbers) unless a message went out
// within the interval, so that the whole system sends at most one message
// per interval under load. The messages are in the compact form (see
// decodeCompact) when every number has at most 15 digits, so that Lua's
// floating-point numbers hold it exactly; else in the "b:" form.
//
// KEYS: seq, pending, pending-state, marker, log, exp, then one entry key per
// entry.
// ARGV: channel ("" = do not announce: a write-back), interval in
// milliseconds (0: set no marker), pending bound in bytes, then per entry:
// member, expires, before, created, its compactIdent and its
// announceSize.
// Returns how many entries changed and, when this call's entries are the
// first left pending, the milliseconds until the marker expires (else 0):
// the writer then runs flushScript. The writers of later pending entries
// leave it to that one (and to every later write, which announces what is
// pending once the interval is over): one flush per interval rather than
// one per writer.
//
// Numbers are compared with tonumber (exact below 2^53, which covers unix
// seconds and milliseconds) but always written back from the original
// strings, because Lua may format a large number in exponent notation.
var putScript = goredis.NewScript(announceSource + putSource)

// sputScript is putScript announcing with SPUBLISH, for sharded pub/sub.
var sputScript = goredis.NewScript(sharded(announceSource) + putSource)

// flushScript announces the pending entries when no message went out
// within the interval, for a writer whose entries putScript left pending
// and that no later write announced.
//
// KEYS: seq, pending, pending-state, marker. ARGV: channel, interval in
// milliseconds.
// Returns 0 when nothing is left pending, else the milliseconds until the
// marker expires, when the writer runs it again.
var flushScript = goredis.NewScript(announceSource + flushSource)

// sflushScript is flushScript announcing with SPUBLISH.
var sflushScript = goredis.NewScript(sharded(announceSource) + flushSource)

func sharded(src string) string { return strings.Replace(src, "'PUBLISH'", "'SPUBLISH'", 1) }

// putArgs is how many ARGV putScript takes per entry.
const putArgs = 6

// luaVarints defines the Lua functions that write the compact form's
// numbers: uvarint (unsigned LEB128) and zigzag (a signed difference).
const luaVarints = `
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
`

// pendingTTL is how long the pending list and pending-state outlive the
// last script call that wrote them; while entries are pending, counted
// from when the marker expires (the scripts add its remaining time, which
// an Options.AnnounceInterval longer than MaxAnnounceInterval may make
// long). Every call that writes them sets it again. A live writer flushes
// what it left pending when the marker expires, so the keys expire only
// once every writer has stopped, or the deployment is gone. Entries the
// expiry drops are stored and in the change log: the next message's gap
// sends them to subscribers, or their next pull reads them (see
// announceSource).
const pendingTTL = 60 * time.Second

// announceSource is the part putScript and flushScript share: the pending
// list and the messages made of it.
//
// The pending list is one string of records, one per changed entry, in
// the order of their sequence numbers:
//
//	<seq>:<exp>:<before>:<created>:<len member>:<len ident>:<member><ident>
//
// pending-state holds the write counter as the last of these scripts left
// it, and the size of the pending entries (the sum of their announceSize):
// "<seq>:<bytes>". When
// the counter moved on without them (an earlier version wrote, and
// announced its writes at once), the pending entries are older than a
// message already sent: they are dropped rather than announced out of
// order, and subscribers get them from the change log, where the gap that
// message made sends them (or from their periodic pull).
//
// Both keys expire (see pendingTTL), and may be found expired apart:
// without pending-state, the pending list is dropped as above; without
// the pending list, nothing is pending, whatever pending-state says, and
// the writer of the next pending entries flushes them. Either way the
// dropped entries are older than any this call announces, and reach
// subscribers as above.
var announceSource = luaVarints + `
local channel = ARGV[1]
local interval = tonumber(ARGV[2])
local SEQ, PENDING, STATE, MARKER = 1, 2, 3, 4
local PENDING_TTL = ` + strconv.FormatInt(pendingTTL.Milliseconds(), 10) + `

-- records parses a pending list.
local function records(s)
  local out, pos = {}, 1
  while pos <= #s do
    local _, e, seq, exp, before, created, ml, il = string.find(s, '^(%d+):(%d+):(%d+):(%d+):(%d+):(%d+):', pos)
    if not e then break end
    ml, il = tonumber(ml), tonumber(il)
    out[#out + 1] = {seq, exp, before, created, string.sub(s, e + 1, e + ml), string.sub(s, e + ml + 1, e + ml + il)}
    pos = e + ml + il + 1
  end
  return out
end

-- message encodes the records rs[i..j], numbered without a hole.
local function message(rs, i, j)
  local parts = {}
  local exact = true
  for k = i, j do
    local c = rs[k]
    if #c[2] > 15 or #c[3] > 15 or #c[4] > 15 then exact = false end
  end
  if exact then
    parts[1] = 'c:' .. uvarint(tonumber(rs[i][1]))
    local pe, pb, pc = 0, 0, 0
    for k = i, j do
      local c = rs[k]
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
    for k = i, j do
      local c = rs[k]
      parts[#parts + 1] = c[1] .. ':' .. c[2] .. ':' .. c[3] .. ':' .. c[4] .. ':' .. #c[5] .. ':' .. c[5]
    end
  end
  return table.concat(parts)
end

-- announce publishes the pending list s, one message per run of
-- consecutive sequence numbers (a write-back, which is not announced,
-- splits runs), and sets the marker.
local function announce(s)
  local rs = records(s)
  local i = 1
  for j = 1, #rs do
    if j == #rs or tonumber(rs[j + 1][1]) ~= tonumber(rs[j][1]) + 1 then
      redis.call('PUBLISH', channel, message(rs, i, j))
      i = j + 1
    end
  end
  if interval > 0 then
    redis.call('SET', KEYS[MARKER], '1', 'PX', interval)
  end
end

-- due returns 0 when no message went out within the interval, else the
-- milliseconds until then (at least 1).
local function due()
  local ttl = redis.call('PTTL', KEYS[MARKER])
  if ttl == -2 or ttl == -1 then return 0 end
  return math.max(ttl, 1)
end

-- checkPending drops the pending list when the counter moved on without
-- these scripts, or pending-state expired (see announceSource in
-- scripts.go), and returns the size of what is pending: the bytes its
-- entries take at most in a compact message (0 when the list expired).
local function checkPending()
  local seq = redis.call('GET', KEYS[SEQ]) or '0'
  local state = redis.call('GET', KEYS[STATE]) or ''
  local at, size = string.match(state, '^(%d+):(%d+)$')
  if at ~= seq then
    redis.call('DEL', KEYS[PENDING])
    return 0
  end
  size = tonumber(size)
  if size > 0 and redis.call('EXISTS', KEYS[PENDING]) == 0 then return 0 end
  return size
end

-- setState records the counter and the pending size, and keeps
-- pending-state and the pending list (if any) PENDING_TTL past the marker.
local function setState(size)
  local ttl = PENDING_TTL
  if size > 0 then
    ttl = ttl + due()
    redis.call('PEXPIRE', KEYS[PENDING], ttl)
  end
  redis.call('SET', KEYS[STATE], (redis.call('GET', KEYS[SEQ]) or '0') .. ':' .. size, 'PX', ttl)
end
`

const putSource = `
local bound = tonumber(ARGV[3])
local plen = checkPending()
local buf, blen = {}, 0
-- sendAll announces what is pending and this call's entries so far.
local function sendAll()
  announce((redis.call('GET', KEYS[PENDING]) or '') .. table.concat(buf))
  redis.call('DEL', KEYS[PENDING])
  plen, buf, blen = 0, {}, 0
end
local changed = 0
for i = 7, #KEYS do
  local a = 4 + (i - 7) * 6
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
    local seq = redis.call('INCR', KEYS[SEQ])
    redis.call('ZADD', KEYS[5], seq, m)
    redis.call('ZADD', KEYS[6], exp, m)
    changed = changed + 1
    if channel ~= '' then
      local ident = ARGV[a + 4]
      local r = string.format('%d', seq) .. ':' .. exp .. ':' .. before .. ':' .. created .. ':' .. #m .. ':' .. #ident .. ':' .. m .. ident
      local size = tonumber(ARGV[a + 5])
      -- At the bound, announce at once, whatever the interval.
      if plen + blen + size > bound and plen + blen > 0 then
        sendAll()
      end
      buf[#buf + 1] = r
      blen = blen + size
      if plen + blen >= bound then
        sendAll()
      end
    end
  end
end
local wait = 0
if channel ~= '' and plen + blen > 0 then
  wait = due()
  if wait == 0 then
    sendAll()
  else
    redis.call('APPEND', KEYS[PENDING], table.concat(buf))
    -- The writer of the first pending entries flushes them.
    if plen > 0 then wait = 0 end
  end
end
setState(plen + blen)
return {changed, wait}
`

const flushSource = `
if checkPending() == 0 then return 0 end
local wait = due()
if wait > 0 then return wait end
announce(redis.call('GET', KEYS[PENDING]) or '')
redis.call('DEL', KEYS[PENDING])
setState(0)
return 0
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
