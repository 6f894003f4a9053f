package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/session"
)

// Bucket names; both carry the "session_" prefix so they never collide
// with the revocation store's buckets in the shared file.
var (
	recordsBucket = []byte("session_records")
	expiryBucket  = []byte("session_expiry")
)

// Store is a session.Store in a bbolt database.
type Store struct {
	db *bbolt.DB
}

var (
	_ session.Store   = (*Store)(nil)
	_ session.Sweeper = (*Store)(nil)
)

// New returns a Store in db, creating its buckets. The caller opens and
// closes db.
func New(db *bbolt.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("session bolt store: nil database")
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{recordsBucket, expiryBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session bolt store: create buckets: %w", err)
	}
	return &Store{db: db}, nil
}

// Create implements session.Store.
func (s *Store) Create(ctx context.Context, sess session.Session) error {
	if err := session.ValidateCreate(sess); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rec := &session.Record{Session: sess}
	val, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		records := tx.Bucket(recordsBucket)
		if cur := records.Get([]byte(sess.ID)); cur != nil {
			if r, err := decodeRecord(sess.ID, cur); err == nil && r.IsCreateOf(sess) {
				return nil
			}
			return session.ErrExists
		}
		if err := records.Put([]byte(sess.ID), val); err != nil {
			return err
		}
		return tx.Bucket(expiryBucket).Put(expiryKey(sess.RetainUntil, sess.ID), nil)
	})
	if err != nil && !errors.Is(err, session.ErrExists) {
		return fmt.Errorf("create session: %w", err)
	}
	return err
}

// Get implements session.Store.
func (s *Store) Get(ctx context.Context, sid string) (session.Session, error) {
	if err := ctx.Err(); err != nil {
		return session.Session{}, err
	}
	var rec *session.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(recordsBucket).Get([]byte(sid))
		if v == nil {
			return session.ErrNotFound
		}
		var err error
		rec, err = decodeRecord(sid, v)
		return err
	})
	if err != nil {
		return session.Session{}, err
	}
	return rec.Session, nil
}

// Rotate implements session.Store in one read-write transaction; bbolt
// runs one at a time, which makes the compare-and-swap atomic.
func (s *Store) Rotate(ctx context.Context, sid, presentedJTI string, next session.Rotation, now time.Time) (session.Outcome, error) {
	if err := session.ValidateRotate(sid, presentedJTI, next); err != nil {
		return session.Outcome{}, err
	}
	if err := ctx.Err(); err != nil {
		return session.Outcome{}, err
	}
	var out session.Outcome
	err := s.db.Update(func(tx *bbolt.Tx) error {
		records := tx.Bucket(recordsBucket)
		v := records.Get([]byte(sid))
		if v == nil {
			out = session.Outcome{Result: session.NotFound}
			return nil
		}
		rec, err := decodeRecord(sid, v)
		if err != nil {
			return err
		}
		oldRetain := rec.RetainUntil
		var changed bool
		out, changed = rec.Apply(presentedJTI, next, now)
		if !changed {
			return nil
		}
		return s.put(tx, rec, oldRetain)
	})
	if err != nil {
		return session.Outcome{}, fmt.Errorf("rotate session: %w", err)
	}
	return out, nil
}

// Revoke implements session.Store.
func (s *Store) Revoke(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		v := tx.Bucket(recordsBucket).Get([]byte(sid))
		if v == nil {
			return nil
		}
		rec, err := decodeRecord(sid, v)
		if err != nil {
			return err
		}
		if rec.Revoked {
			return nil
		}
		rec.Revoke()
		return s.put(tx, rec, rec.RetainUntil)
	})
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// put writes rec and moves its expiry index entry from oldRetain.
func (s *Store) put(tx *bbolt.Tx, rec *session.Record, oldRetain time.Time) error {
	val, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	if err := tx.Bucket(recordsBucket).Put([]byte(rec.ID), val); err != nil {
		return err
	}
	if oldRetain.Equal(rec.RetainUntil) {
		return nil
	}
	idx := tx.Bucket(expiryBucket)
	if err := idx.Delete(expiryKey(oldRetain, rec.ID)); err != nil {
		return err
	}
	return idx.Put(expiryKey(rec.RetainUntil, rec.ID), nil)
}

// Sweep implements session.Sweeper: it walks the expiry index up to now
// and drops the records found there.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	limit := make([]byte, 8)
	binary.BigEndian.PutUint64(limit, uint64(max(now.UnixNano(), 0)))
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		records, idx := tx.Bucket(recordsBucket), tx.Bucket(expiryBucket)
		// Collect first: deleting under a moving cursor can skip entries.
		var expired [][]byte
		c := idx.Cursor()
		for k, _ := c.First(); len(k) >= 8 && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
			expired = append(expired, bytes.Clone(k))
		}
		for _, k := range expired {
			sid := k[8:]
			if v := records.Get(sid); v != nil {
				rec, err := decodeRecord(string(sid), v)
				if err == nil && rec.Live(now) {
					// A stale index entry; the record has a newer one.
					if err := idx.Delete(k); err != nil {
						return err
					}
					continue
				}
				if err := records.Delete(sid); err != nil {
					return err
				}
				n++
			}
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep sessions: %w", err)
	}
	return n, nil
}
