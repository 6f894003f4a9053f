package revocation_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// fakeShared is an in-process revocation.Shared with the behaviour of the
// Redis store (sequence numbers, generations, announcements) and switches
// to make it unreachable, drop announcements or lose its data.
type fakeShared struct {
	mu          sync.Mutex
	generation  int
	seq         uint64
	log         []fakeWrite
	entries     map[string]revocation.Entry
	down        bool
	quiet       bool // drop announcements
	subscribers map[int]func(revocation.Entry)
	onSub       map[int]func()
	nextSub     int
}

type fakeWrite struct {
	seq uint64
	e   revocation.Entry
}

var errDown = fmt.Errorf("fake shared store: connection refused")

func newFakeShared() *fakeShared {
	return &fakeShared{
		generation:  1,
		entries:     map[string]revocation.Entry{},
		subscribers: map[int]func(revocation.Entry){},
		onSub:       map[int]func(){},
	}
}

func fakeKey(k revocation.Kind, p, v string) string { return string(k) + "@" + p + ":" + v }

func (f *fakeShared) setDown(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = v
}

func (f *fakeShared) setQuiet(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quiet = v
}

// wipe simulates a restart without persistence: a new, empty dataset.
func (f *fakeShared) wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.generation++
	f.seq = 0
	f.log = nil
	f.entries = map[string]revocation.Entry{}
}

// reconnect makes every subscription report that it was re-established.
func (f *fakeShared) reconnect() {
	f.mu.Lock()
	subs := make([]func(), 0, len(f.onSub))
	for _, fn := range f.onSub {
		subs = append(subs, fn)
	}
	f.mu.Unlock()
	for _, fn := range subs {
		fn()
	}
}

func (f *fakeShared) has(k revocation.Kind, v string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.entries[fakeKey(k, "", v)]
	return ok
}

// write merges e and returns the announcement to deliver, if any.
func (f *fakeShared) write(e revocation.Entry, announce bool) (revocation.Entry, []func(revocation.Entry), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return e, nil, errDown
	}
	k := fakeKey(e.Kind, e.Provider, e.Value)
	if cur, ok := f.entries[k]; ok {
		merged, changed := cur.Merge(e)
		if !changed {
			return e, nil, nil
		}
		e = merged
	}
	f.entries[k] = e
	f.seq++
	f.log = append(f.log, fakeWrite{f.seq, e})
	if !announce || f.quiet {
		return e, nil, nil
	}
	subs := make([]func(revocation.Entry), 0, len(f.subscribers))
	for _, fn := range f.subscribers {
		subs = append(subs, fn)
	}
	return e, subs, nil
}

func (f *fakeShared) Put(ctx context.Context, e revocation.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, subs, err := f.write(e, true)
	for _, fn := range subs {
		fn(e)
	}
	return err
}

func (f *fakeShared) Restore(ctx context.Context, entries []revocation.Entry) error {
	for _, e := range entries {
		if _, _, err := f.write(e, false); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeShared) Get(ctx context.Context, k revocation.Kind, p, v string) (revocation.Entry, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return revocation.Entry{}, false, errDown
	}
	e, ok := f.entries[fakeKey(k, p, v)]
	return e, ok, nil
}

func (f *fakeShared) List(ctx context.Context, now time.Time, fn func(revocation.Entry) error) error {
	_, _, err := f.Pull(ctx, revocation.Cursor{}, func(e revocation.Entry) error {
		if e.ExpiresAt > now.Unix() {
			return fn(e)
		}
		return nil
	})
	return err
}

func (f *fakeShared) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errDown
	}
	n := 0
	for k, e := range f.entries {
		if e.ExpiresAt <= now.Unix() {
			delete(f.entries, k)
			n++
		}
	}
	return n, nil
}

func (f *fakeShared) Close() error { return nil }

func (f *fakeShared) Pull(ctx context.Context, from revocation.Cursor, fn func(revocation.Entry) error) (revocation.Cursor, bool, error) {
	f.mu.Lock()
	if f.down {
		f.mu.Unlock()
		return from, false, errDown
	}
	gen := fmt.Sprint("gen-", f.generation)
	reset := from.Generation != gen || f.seq < from.Seq
	start := from.Seq
	if reset {
		start = 0
	}
	var out []revocation.Entry
	next := revocation.Cursor{Generation: gen, Seq: start}
	for _, w := range f.log {
		if w.seq > start {
			out = append(out, w.e)
			next.Seq = w.seq
		}
	}
	f.mu.Unlock()
	for _, e := range out {
		if err := fn(e); err != nil {
			return from, reset, err
		}
	}
	return next, reset, nil
}

func (f *fakeShared) Subscribe(ctx context.Context, onEntry func(revocation.Entry), _ func(after, through uint64), onSubscribed func()) error {
	f.mu.Lock()
	id := f.nextSub
	f.nextSub++
	f.subscribers[id] = onEntry
	f.onSub[id] = onSubscribed
	f.mu.Unlock()
	onSubscribed()
	<-ctx.Done()
	f.mu.Lock()
	delete(f.subscribers, id)
	delete(f.onSub, id)
	f.mu.Unlock()
	return nil
}
