package scalesim

import (
	"encoding/binary"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// messageEntries is what a message carries at 5,000 revocations a second
// with the 20 ms interval of 1,000 subscribers.
const messageEntries = 100

// BenchmarkFullReplicaMessage is what a full replica's recording adds to
// the Service's apply for one message: per entry the number's lookup, per
// message one clock reading and the first-apply marks.
func BenchmarkFullReplicaMessage(b *testing.B) {
	const ring = 1 << 16
	t := &tracker{ids: newIDs(ring), start: time.Now()}
	entries := make([]revocation.Entry, ring)
	for i := range entries {
		entries[i] = revocation.Entry{Kind: revocation.KindJTI, Value: t.ids.value(i)}
	}
	r := &replica{t: t, arrivals: make([]atomic.Uint32, ring)}
	b.ReportAllocs()
	at := 0
	for b.Loop() {
		if at+messageEntries > ring {
			at = 0
			for i := range r.arrivals {
				r.arrivals[i].Store(0)
			}
		}
		for _, e := range entries[at : at+messageEntries] {
			r.applied = r.pend(r.applied, e)
		}
		r.note(r.applied, false)
		r.applied = r.applied[:0]
		at += messageEntries
	}
}

// BenchmarkListenerMessage is what a listener adds to the Store's decoding
// for one message: a count per entry, and per message one clock reading,
// the cursor and one recorded range.
func BenchmarkListenerMessage(b *testing.B) {
	t := &tracker{ids: newIDs(1), start: time.Now()}
	l := newListener(0, t, nil, nil, Config{})
	l.cursor = revocation.Cursor{Generation: "g"}
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		for range messageEntries {
			l.entries++
		}
		l.covered(seq, seq+messageEntries)
		seq += messageEntries
		if len(l.spans) == 1<<16 {
			l.begin(seq)
		}
	}
}

// BenchmarkRawListenerMessage is what a raw listener does with one
// message go-redis has received: read the header's first sequence number,
// take the clock, record the arrival.
func BenchmarkRawListenerMessage(b *testing.B) {
	t := &tracker{ids: newIDs(1), start: time.Now()}
	l := newRawListener(0, t, nil, nil, "", false, Config{})
	// A 100-entry compact message: the header, then about 27 bytes an entry.
	payload := string(binary.AppendUvarint([]byte("c:"), 1_000_000)) + strings.Repeat("x", 27*messageEntries)
	b.ReportAllocs()
	for b.Loop() {
		l.received(payload, time.Now())
		if len(l.arrivals) == 1<<16 {
			l.begin(nil)
		}
	}
}
