package redis

import goredis "github.com/redis/go-redis/v9"

// Hash fields of a session key. Times are Unix milliseconds.
const (
	fieldSubject  = "sub"
	fieldScope    = "scope"
	fieldClaims   = "claims"
	fieldCreated  = "created"
	fieldExpires  = "expires"
	fieldJTI      = "jti"
	fieldRetain   = "retain"
	fieldRevoked  = "revoked"
	fieldPrevious = "prev"
	fieldGrace    = "grace"
	fieldReplay   = "replay"
	fieldJKT      = "jkt"
)

// createScript stores a new session unless the key exists. A key that
// holds this very session, not rotated yet, is a retry of this call (the
// client resends a script whose reply was lost, after a timeout or a
// dropped connection): it succeeds again (session.Record.IsCreateOf).
// KEYS[1] session key; ARGV sub, scope, claims, created, expires, jti, retain, jkt.
// Returns 1 when created, 0 when the key exists.
var createScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'jti', 'prev')
if cur[1] then
  if cur[1] == ARGV[6] and cur[2] == '' then return 1 end
  return 0
end
redis.call('HSET', KEYS[1],
  'sub', ARGV[1], 'scope', ARGV[2], 'claims', ARGV[3], 'created', ARGV[4],
  'expires', ARGV[5], 'jti', ARGV[6], 'retain', ARGV[7], 'revoked', '0',
  'prev', '', 'grace', '0', 'replay', '', 'jkt', ARGV[8])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
return 1
`)

// rotateScript mirrors session.Record.Apply, a retry of a rotation that
// already happened included (the client resends a script whose reply was
// lost; without the check the retry would look like a reuse and revoke the
// session): a rotation that carries a
// DPoP key (session.Rotation.JKT) also binds a session not bound yet to
// that key, in the same step; a bound session keeps its key.
// KEYS[1] session key; ARGV presented jti, now, next jti, next retain,
// grace until, replay, the key's thumbprint or "". Returns {result} or
// {"replayed", replay}.
var rotateScript = goredis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'jti', 'prev', 'grace', 'revoked', 'expires', 'retain', 'jkt')
if not h[1] then return {'not_found'} end
local now = tonumber(ARGV[2])
if now >= (tonumber(h[6]) or 0) then return {'not_found'} end
if h[4] == '1' then return {'revoked'} end
if now >= (tonumber(h[5]) or 0) then return {'expired'} end
if h[2] == ARGV[1] and h[1] == ARGV[3] then return {'rotated'} end
if h[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'jti', ARGV[3], 'prev', ARGV[1], 'retain', ARGV[4],
    'grace', ARGV[5], 'replay', ARGV[6])
  if ARGV[7] ~= '' and (not h[7] or h[7] == '') then redis.call('HSET', KEYS[1], 'jkt', ARGV[7]) end
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
  return {'rotated'}
end
if h[2] == ARGV[1] and now < (tonumber(h[3]) or 0) then
  local replay = redis.call('HGET', KEYS[1], 'replay')
  if replay and replay ~= '' then return {'replayed', replay} end
end
redis.call('HSET', KEYS[1], 'revoked', '1', 'replay', '', 'grace', '0')
return {'reused'}
`)

// revokeScript marks an existing session revoked.
// KEYS[1] session key. Returns 1 when the session exists.
var revokeScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1', 'replay', '', 'grace', '0')
return 1
`)
