package memory

import (
	"context"
	"sync"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
)

// Store is a session.Store held in a map under one mutex. The zero value is
// not usable; call New.
type Store struct {
	mu      sync.Mutex
	records map[string]*session.Record
}

var (
	_ session.Store   = (*Store)(nil)
	_ session.Sweeper = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{records: make(map[string]*session.Record)}
}

// Create implements session.Store.
func (s *Store) Create(ctx context.Context, sess session.Session) error {
	if err := session.ValidateCreate(sess); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.records[sess.ID]; ok {
		if r.IsCreateOf(sess) {
			return nil
		}
		return session.ErrExists
	}
	sess.Claims = clone(sess.Claims)
	s.records[sess.ID] = &session.Record{Session: sess}
	return nil
}

// Get implements session.Store.
func (s *Store) Get(ctx context.Context, sid string) (session.Session, error) {
	if err := ctx.Err(); err != nil {
		return session.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[sid]
	if !ok {
		return session.Session{}, session.ErrNotFound
	}
	out := r.Session
	out.Claims = clone(out.Claims)
	return out, nil
}

// Rotate implements session.Store.
func (s *Store) Rotate(ctx context.Context, sid, presentedJTI string, next session.Rotation, now time.Time) (session.Outcome, error) {
	if err := session.ValidateRotate(sid, presentedJTI, next); err != nil {
		return session.Outcome{}, err
	}
	if err := ctx.Err(); err != nil {
		return session.Outcome{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[sid]
	if !ok {
		return session.Outcome{Result: session.NotFound}, nil
	}
	out, _ := r.Apply(presentedJTI, next, now)
	return out, nil
}

// Revoke implements session.Store.
func (s *Store) Revoke(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.records[sid]; ok {
		r.Revoke()
	}
	return nil
}

// Sweep implements session.Sweeper.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sid, r := range s.records {
		if !r.Live(now) {
			delete(s.records, sid)
			n++
		}
	}
	return n, nil
}

// Len returns the number of records held, expired ones included until the
// next Sweep.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
