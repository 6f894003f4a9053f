package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// ConfirmPrimaryOn runs the check that a write acknowledged by node with
// no replica connected gets, for key.
func (s *Store) ConfirmPrimaryOn(ctx context.Context, node *goredis.Client, key string) error {
	conn := node.Conn()
	id, err := s.identify(ctx, conn, node, key)
	_ = conn.Close()
	if err != nil || id == nil {
		return err
	}
	return s.confirmPrimary(ctx, *id)
}
