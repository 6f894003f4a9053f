package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/session"
)

// KeyPrefix prefixes every session key.
const KeyPrefix = "jwt-authz:session:"

// Store is a session.Store in Redis.
type Store struct {
	client  goredis.UniversalClient
	cluster *goredis.ClusterClient // client, when it is one
	opts    Options
}

var _ session.Store = (*Store)(nil)

// New returns a Store using client (a *redis.Client, or any universal
// client: every command touches one key, so Redis Cluster works too). The
// caller owns and closes client.
func New(client goredis.UniversalClient) (*Store, error) {
	return NewWithOptions(client, Options{})
}

// NewWithOptions is New with Options.
func NewWithOptions(client goredis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("session redis store: nil client")
	}
	if sn := opts.Sentinel; sn != nil && (sn.MasterName == "" || len(sn.Clients) == 0) {
		return nil, errors.New("session redis store: Options.Sentinel needs a master name and at least one sentinel client")
	}
	s := &Store{client: client, opts: opts}
	s.cluster, _ = client.(*goredis.ClusterClient)
	return s, nil
}

func key(sid string) string { return KeyPrefix + sid }

// Create implements session.Store. With Options.WaitForReplica the
// session is acknowledged as a rotation is: once it survives a failover.
func (s *Store) Create(ctx context.Context, sess session.Session) error {
	if err := session.ValidateCreate(sess); err != nil {
		return err
	}
	cmd, err := s.runReplicated(ctx, createScript, key(sess.ID),
		sess.Subject, sess.Scope, sess.Claims,
		millis(sess.CreatedAt), millis(sess.ExpiresAt), sess.RefreshJTI, millis(sess.RetainUntil), sess.JKT)
	var n int
	if err == nil {
		n, err = cmd.Int()
	}
	if err != nil {
		return unavailable("create session", err)
	}
	if n == 0 {
		return session.ErrExists
	}
	return nil
}

// Get implements session.Store.
func (s *Store) Get(ctx context.Context, sid string) (session.Session, error) {
	m, err := s.client.HGetAll(ctx, key(sid)).Result()
	if err != nil {
		return session.Session{}, unavailable("get session", err)
	}
	if len(m) == 0 {
		return session.Session{}, session.ErrNotFound
	}
	out := session.Session{
		ID:         sid,
		Subject:    m[fieldSubject],
		Scope:      m[fieldScope],
		RefreshJTI: m[fieldJTI],
		Revoked:    m[fieldRevoked] == "1",
		JKT:        m[fieldJKT],
	}
	if c := m[fieldClaims]; c != "" {
		out.Claims = []byte(c)
	}
	for _, f := range []struct {
		dst  *time.Time
		name string
	}{{&out.CreatedAt, fieldCreated}, {&out.ExpiresAt, fieldExpires}, {&out.RetainUntil, fieldRetain}} {
		ms, err := strconv.ParseInt(m[f.name], 10, 64)
		if err != nil {
			return session.Session{}, fmt.Errorf("get session %s: field %s: %w", sid, f.name, err)
		}
		*f.dst = fromMillis(ms)
	}
	return out, nil
}

// Rotate implements session.Store with one Lua script.
func (s *Store) Rotate(ctx context.Context, sid, presentedJTI string, next session.Rotation, now time.Time) (session.Outcome, error) {
	if err := session.ValidateRotate(sid, presentedJTI, next); err != nil {
		return session.Outcome{}, err
	}
	cmd, err := s.runReplicated(ctx, rotateScript, key(sid),
		presentedJTI, millis(now), next.JTI, millis(next.RetainUntil), millis(next.GraceUntil), next.Replay, next.JKT)
	var res []any
	if err == nil {
		res, err = cmd.Slice()
	}
	if err != nil {
		return session.Outcome{}, unavailable("rotate session", err)
	}
	if len(res) == 0 {
		return session.Outcome{}, fmt.Errorf("rotate session: empty script result")
	}
	name, _ := res[0].(string)
	switch name {
	case "rotated":
		return session.Outcome{Result: session.Rotated}, nil
	case "replayed":
		replay, _ := res[1].(string)
		return session.Outcome{Result: session.Replayed, Replay: []byte(replay)}, nil
	case "reused":
		return session.Outcome{Result: session.Reused}, nil
	case "revoked":
		return session.Outcome{Result: session.Revoked}, nil
	case "expired":
		return session.Outcome{Result: session.Expired}, nil
	case "not_found":
		return session.Outcome{Result: session.NotFound}, nil
	default:
		return session.Outcome{}, fmt.Errorf("rotate session: unexpected script result %q", name)
	}
}

// Revoke implements session.Store.
func (s *Store) Revoke(ctx context.Context, sid string) error {
	if _, err := s.runReplicated(ctx, revokeScript, key(sid)); err != nil {
		return unavailable("revoke session", err)
	}
	return nil
}

// unavailable wraps a client error with session.ErrUnavailable, except a
// cancellation of the caller's own context.
func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, session.ErrUnavailable, err)
}

// millis encodes an instant as Unix milliseconds; the zero time is 0.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
