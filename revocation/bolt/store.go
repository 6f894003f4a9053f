package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Bucket names; every bucket this package owns starts with "revocation_".
var (
	entriesBucket = []byte("revocation_entries")
	expiryBucket  = []byte("revocation_expiry")
	// setsBucket holds the content of each KindSIDSet entry under the
	// entry's key: its hashes, little-endian, 8 bytes each.
	setsBucket = []byte("revocation_sets")
)

// deleteBatch bounds how many expired entries one write transaction
// removes, so a large sweep does not hold the writer lock for long.
const deleteBatch = 10_000

// Store is a revocation.Store on a bbolt database.
type Store struct {
	db *bbolt.DB
}

var _ revocation.Store = (*Store)(nil)

// New returns a Store on db, creating its buckets if needed. The caller
// keeps ownership of db and closes it after the Store. If db was opened
// with NoSync, Put syncs the file itself, so durability does not depend on
// how the database was opened.
func New(db *bbolt.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("bolt: nil database")
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{entriesBucket, expiryBucket, setsBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: %w", err)
	}
	return &Store{db: db}, nil
}

// Put implements revocation.Store. The entry is committed and fsynced
// before Put returns.
func (s *Store) Put(ctx context.Context, e revocation.Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put revocation: %w", err)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	changed := false
	// Batch coalesces concurrent revocations into one transaction and one
	// fsync; each caller still returns only once its entry is durable. A
	// batch may run fn again on its own, so fn starts from scratch.
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		changed = false
		entries, expiry := tx.Bucket(entriesBucket), tx.Bucket(expiryBucket)
		k := entryKey(e.Kind, e.Provider, e.Value)
		next := e
		if v := entries.Get(k); v == nil && e.Kind == revocation.KindSIDSet {
			// A set's content is written with its first record and never
			// changes: its identifier names one content.
			if err := tx.Bucket(setsBucket).Put(k, encodeSet(e.Set)); err != nil {
				return err
			}
		} else if v != nil {
			cur, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			var ok bool
			if next, ok = cur.Merge(e); !ok {
				return nil
			}
			if next.ExpiresAt != cur.ExpiresAt {
				if err := expiry.Delete(expiryKey(cur.ExpiresAt, k)); err != nil {
					return err
				}
			}
		}
		if err := entries.Put(k, encodeRecord(next)); err != nil {
			return err
		}
		changed = true
		return expiry.Put(expiryKey(next.ExpiresAt, k), []byte{})
	})
	if err != nil {
		return fmt.Errorf("put revocation: %w", err)
	}
	if changed && s.db.NoSync {
		if err := s.db.Sync(); err != nil {
			return fmt.Errorf("sync revocation: %w", err)
		}
	}
	return nil
}

// Get implements revocation.Store.
func (s *Store) Get(ctx context.Context, kind revocation.Kind, provider, value string) (revocation.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return revocation.Entry{}, false, fmt.Errorf("get revocation: %w", err)
	}
	var (
		e     revocation.Entry
		found bool
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		k := entryKey(kind, provider, value)
		v := tx.Bucket(entriesBucket).Get(k)
		if v == nil {
			return nil
		}
		var err error
		e, err = decodeRecord(k, v)
		if err == nil {
			err = loadSet(tx, k, &e)
		}
		found = err == nil
		return err
	})
	if err != nil {
		return revocation.Entry{}, false, fmt.Errorf("get revocation: %w", err)
	}
	return e, found, nil
}

// List implements revocation.Store. fn runs inside a read transaction.
func (s *Store) List(ctx context.Context, now time.Time, fn func(revocation.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list revocations: %w", err)
	}
	nowUnix := now.Unix()
	var fnErr error
	err := s.db.View(func(tx *bbolt.Tx) error {
		// Walk the expiry index from the first unexpired entry, so expired
		// records that were not swept yet cost nothing.
		c := tx.Bucket(expiryBucket).Cursor()
		entries := tx.Bucket(entriesBucket)
		start := make([]byte, 8)
		binary.BigEndian.PutUint64(start, uint64(nowUnix+1))
		for xk, _ := c.Seek(start); xk != nil; xk, _ = c.Next() {
			if len(xk) < 8 {
				return fmt.Errorf("%w: short expiry key", errCorrupt)
			}
			k := xk[8:]
			v := entries.Get(k)
			if v == nil {
				continue
			}
			e, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			if e.ExpiresAt <= nowUnix {
				continue
			}
			if err := loadSet(tx, k, &e); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				fnErr = err
				return err
			}
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("list revocations: %w", err)
	}
	return nil
}

// DeleteExpired implements revocation.Store.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("delete expired revocations: %w", err)
		}
		n, err := s.deleteSome(now.Unix())
		total += n
		if err != nil {
			return total, fmt.Errorf("delete expired revocations: %w", err)
		}
		if n < deleteBatch {
			return total, nil
		}
	}
}

// deleteSome deletes up to deleteBatch entries expired at now in one
// transaction.
func (s *Store) deleteSome(now int64) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		entries, expiry, sets := tx.Bucket(entriesBucket), tx.Bucket(expiryBucket), tx.Bucket(setsBucket)
		// Collect first: deleting under a bbolt cursor skips elements.
		var expired [][]byte
		c := expiry.Cursor()
		for xk, _ := c.First(); xk != nil && len(expired) < deleteBatch; xk, _ = c.Next() {
			if len(xk) < 8 {
				return fmt.Errorf("%w: short expiry key", errCorrupt)
			}
			if int64(binary.BigEndian.Uint64(xk)) > now {
				break
			}
			expired = append(expired, append([]byte(nil), xk...))
		}
		for _, xk := range expired {
			if err := expiry.Delete(xk); err != nil {
				return err
			}
			// The entry's current record always has exactly this expiry
			// key (Put moves it when the expiry changes).
			if entries.Get(xk[8:]) != nil {
				if err := entries.Delete(xk[8:]); err != nil {
					return err
				}
				if err := sets.Delete(xk[8:]); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Close implements revocation.Store. It does not close the database.
func (s *Store) Close() error { return nil }
