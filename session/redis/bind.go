package redis

import (
	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/session"
)

// rotateBindScript is rotateScript for a rotation that carries a DPoP key
// (session.Rotation.JKT): the rotation also binds a session that is not
// bound yet to that key, in the same step. A bound session keeps its key.
// KEYS[1] session key; ARGV as rotateScript's, then the key's thumbprint.
var rotateBindScript = goredis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'jti', 'prev', 'grace', 'revoked', 'expires', 'retain', 'jkt')
if not h[1] then return {'not_found'} end
local now = tonumber(ARGV[2])
if now >= (tonumber(h[6]) or 0) then return {'not_found'} end
if h[4] == '1' then return {'revoked'} end
if now >= (tonumber(h[5]) or 0) then return {'expired'} end
if h[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'jti', ARGV[3], 'prev', ARGV[1], 'retain', ARGV[4],
    'grace', ARGV[5], 'replay', ARGV[6])
  if not h[7] or h[7] == '' then redis.call('HSET', KEYS[1], 'jkt', ARGV[7]) end
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

// rotateCall is the script and arguments of a Rotate: rotateScript, or
// rotateBindScript when the rotation binds a DPoP key.
func rotateCall(presentedJTI string, next session.Rotation, nowMillis int64) (*goredis.Script, []any) {
	args := []any{presentedJTI, nowMillis, next.JTI, millis(next.RetainUntil), millis(next.GraceUntil), next.Replay}
	if next.JKT == "" {
		return rotateScript, args
	}
	return rotateBindScript, append(args, next.JKT)
}
