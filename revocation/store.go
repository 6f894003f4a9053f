package revocation

import (
	"context"
	"time"
)

// Store is the durable record of revocations. Implementations are safe for
// concurrent use.
//
// Every method honours ctx where the backend can; a method called with a
// done context returns an error and changes nothing.
type Store interface {
	// Put records e durably before it returns: once Put returns nil, the
	// entry survives a crash of this process (for Redis: as durable as the
	// server's persistence settings make it). If an entry with the same
	// Kind, Provider and Value exists, the stored entry becomes their merge (see
	// Entry.Merge); recording the same entry again is a no-op. Callers pass
	// entries that passed Validate.
	Put(ctx context.Context, e Entry) error

	// Get returns the entry for kind, provider ("" for an entry of every
	// provider) and value. The boolean is false, with a nil error, when
	// there is none. An entry past its ExpiresAt may
	// still be returned until it is deleted; callers compare with their
	// clock.
	Get(ctx context.Context, kind Kind, provider, value string) (Entry, bool, error)

	// List calls fn for every entry whose ExpiresAt is after now, in no
	// particular order, and stops at the first error fn returns, returning
	// it. fn must not call back into the store.
	List(ctx context.Context, now time.Time, fn func(Entry) error) error

	// DeleteExpired removes every entry whose ExpiresAt is at or before now
	// and returns how many it removed.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)

	// Close releases what the store holds. It does not close a database or
	// client that was passed to its constructor.
	Close() error
}

// Shared is implemented by a Store that several replicas use at once
// (Redis). The Service then keeps its Index in step with the other replicas
// through it, and writes back what it holds when the store lost data.
type Shared interface {
	Store

	// Pull calls fn for every entry written to the store after position
	// from, in write order, and returns the position to pass next time.
	// When the store's dataset is not the one from was taken in (from is
	// the zero Cursor, the store restarted, failed over, or lost writes),
	// Pull starts from the beginning instead and reports reset as true: the
	// caller then writes back, with Restore, what it holds. Entries that
	// expired in the store are skipped. fn must not call back into the
	// store; an error from fn stops Pull and is returned.
	Pull(ctx context.Context, from Cursor, fn func(Entry) error) (next Cursor, reset bool, err error)

	// Restore records entries like Put does, merging with what is stored,
	// but without announcing them to subscribers: it is the write-back of
	// a replica's copy after the store lost data.
	Restore(ctx context.Context, entries []Entry) error

	// Subscribe delivers every entry put by any replica to onEntry, as soon
	// as it is put, until ctx is done; then it returns nil. It calls
	// onSubscribed each time the subscription is established, including
	// after a reconnect: entries put while it was down were not delivered,
	// so the caller catches up (a Pull from its cursor). It reconnects by
	// itself and returns an error only when it cannot subscribe at all.
	//
	// A store that numbers its writes also calls onCovered(after, through)
	// once every write numbered after `after` up to `through`, in the
	// dataset the subscription is connected to, has been passed to onEntry
	// (an announced batch, or the change log read to fill a gap in the
	// announcements); the Service advances its cursor with it when it
	// continues from there, so that its periodic pull finds nothing new. A
	// store that does not number its announcements never calls it. When
	// the numbers go backwards on one subscription (the server's dataset
	// lost writes while the connection stayed, as on a node that was
	// demoted and resynchronised), it calls onCovered(0, 0): the caller's
	// cursor is then from another dataset, and its next pull starts over
	// and writes back.
	// Callbacks run on Subscribe's goroutine and must not block for long.
	Subscribe(ctx context.Context, onEntry func(Entry), onCovered func(after, through uint64), onSubscribed func()) error
}

// Cursor is a position in a Shared store's stream of writes. The zero
// Cursor is "before everything".
type Cursor struct {
	// Generation identifies the store's dataset. It changes when the store
	// lost, or may have lost, data: a restart without persistence, a
	// restart at all, or a fail-over.
	Generation string
	// Seq is the store's sequence number of the last write seen.
	Seq uint64
}

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c == Cursor{} }
