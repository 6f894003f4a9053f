package bolt

import (
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("database is locked by another process")

// lockTimeout is how long Open waits for the file lock. A replica that is
// being replaced may hold it for a moment while it shuts down.
const lockTimeout = 5 * time.Second

// Open opens (creating if needed) the bbolt database at path, readable and
// writable by the owner only. If another process holds the database, it
// waits a few seconds, then fails with an error wrapping ErrLocked.
func Open(path string) (*bbolt.DB, error) {
	return open(path, lockTimeout)
}

func open(path string, timeout time.Duration) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
