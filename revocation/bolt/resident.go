package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// ReleaseMapped drops this process's resident copy of db's file pages.
//
// bbolt reads the database through a read-only shared memory map, so every
// page a transaction touched stays counted in the process's resident set:
// after loading a million revocations at start-up, or writing them, that
// is the whole file, about 130 MiB. Check never reads the file (it asks
// the in-memory index), so those pages only sit there. Dropping them
// loses nothing: they are clean pages of the file, still in the kernel's
// page cache, and the next transaction that needs one maps it again. Call
// it after a bulk load, and from time to time after writes.
//
// It holds a read transaction while it works, so the map cannot move
// under it. On systems other than Linux it does nothing.
func ReleaseMapped(db *bbolt.DB) error {
	err := db.View(func(tx *bbolt.Tx) error {
		return releasePages(db.Info().Data, tx.Size())
	})
	if err != nil {
		return fmt.Errorf("release mapped database pages: %w", err)
	}
	return nil
}

// ReleaseMappedEvery calls ReleaseMapped at once, then every interval in
// which a write transaction committed, until ctx is done. Errors go to
// onErr; they cost memory, never data.
func ReleaseMappedEvery(ctx context.Context, db *bbolt.DB, every time.Duration, onErr func(error)) {
	released := -1
	release := func() {
		id, err := lastTxID(db)
		if err == nil && id == released {
			return
		}
		if err == nil {
			err = ReleaseMapped(db)
		}
		if err != nil {
			onErr(err)
			return
		}
		released = id
	}
	release()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			release()
		}
	}
}

// lastTxID returns the id of db's last committed write transaction.
func lastTxID(db *bbolt.DB) (int, error) {
	var id int
	err := db.View(func(tx *bbolt.Tx) error {
		id = tx.ID()
		return nil
	})
	return id, err
}
