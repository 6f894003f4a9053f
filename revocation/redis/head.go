package redis

import (
	"context"
	"fmt"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Head returns the store's position: its dataset and the sequence number
// of its last write, as the Cursor a Pull that read everything would
// return. It reads no entry; the Service's probe uses it to leave to the
// subscription what the subscription is on its way to deliver.
func (s *Store) Head(ctx context.Context) (revocation.Cursor, error) {
	gen, seq, err := s.head(ctx)
	if err != nil {
		return revocation.Cursor{}, fmt.Errorf("read the write sequence: %w", err)
	}
	return revocation.Cursor{Generation: gen, Seq: seq}, nil
}
