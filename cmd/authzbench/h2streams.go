package main

// h2Stream is one outstanding Check on an HTTP/2 connection. Times are
// nanoseconds since the start of the run.
type h2Stream struct {
	id    uint32
	live  bool  // outstanding; false once the outcome is taken
	sched int64 // when the request was due
	sent  int64 // when its HEADERS were written

	// Send side.
	pending []byte // request bytes still to send (flow control)
	sendWin int64  // the server's window for this stream
	endSent bool   // END_STREAM sent

	// Receive side.
	recvWin     int64  // what the server may still send on this stream
	recvUnacked uint32 // received bytes not yet returned by WINDOW_UPDATE
	gotHeaders  bool
	msg         []byte // response message bytes, when it spans DATA frames
	gotMsg      bool
	result      respResult
}

// maxStreamID is the largest HTTP/2 stream ID.
const maxStreamID = 1<<31 - 1

// streamTable holds a connection's streams by ID. The client opens streams
// 1, 3, 5... in order and they end in about that order, so the table is a
// sliding window over a slice: buf[lo:hi] holds IDs first, first+2, ...;
// ended entries at the front are dropped. Pointers to entries stay valid
// until the next open.
type streamTable struct {
	buf    []h2Stream
	lo, hi int
	first  uint32 // ID of buf[lo]
	next   uint32 // ID of the next stream to open
	live   int
}

// newStreamTable returns an empty table whose first stream will be 1.
func newStreamTable() streamTable { return streamTable{first: 1, next: 1} }

// exhausted reports whether every client stream ID has been used.
func (t *streamTable) exhausted() bool { return t.next > maxStreamID }

// open adds a stream with the next ID.
func (t *streamTable) open() *h2Stream {
	if t.lo == t.hi {
		t.lo, t.hi, t.first = 0, 0, t.next
	}
	if t.hi == len(t.buf) {
		t.makeRoom()
	}
	s := &t.buf[t.hi]
	*s = h2Stream{id: t.next, live: true}
	t.hi++
	t.next += 2
	t.live++
	return s
}

// makeRoom frees the end of buf: it slides the window down when at least
// half of buf is free, else grows buf.
func (t *streamTable) makeRoom() {
	n := t.hi - t.lo
	if t.lo > 0 && t.lo >= len(t.buf)/2 {
		copy(t.buf, t.buf[t.lo:t.hi])
		clear(t.buf[n:t.hi])
		t.lo, t.hi = 0, n
		return
	}
	nb := make([]h2Stream, max(64, 2*len(t.buf)))
	copy(nb, t.buf[t.lo:t.hi])
	t.buf, t.lo, t.hi = nb, 0, n
}

// get returns the live stream id, or nil.
func (t *streamTable) get(id uint32) *h2Stream {
	if id < t.first || (id-t.first)%2 != 0 {
		return nil
	}
	k := int((id - t.first) / 2)
	if k >= t.hi-t.lo {
		return nil
	}
	s := &t.buf[t.lo+k]
	if !s.live {
		return nil
	}
	return s
}

// front returns the oldest live stream, or nil.
func (t *streamTable) front() *h2Stream {
	if t.lo == t.hi {
		return nil
	}
	return &t.buf[t.lo] // live: ended entries at the front are dropped
}

// forEach calls fn for every live stream, oldest first. fn may end the
// stream it is given.
func (t *streamTable) forEach(fn func(*h2Stream)) {
	for i := t.lo; i < t.hi; i++ {
		if t.buf[i].live {
			fn(&t.buf[i])
		}
	}
}

// end marks s ended and drops ended entries from the front of the window.
// (Not from the back: the next stream opened takes the slot after the
// newest one ever opened.)
func (t *streamTable) end(s *h2Stream) {
	if !s.live {
		return
	}
	s.live = false
	s.pending, s.msg, s.result = nil, nil, respResult{}
	t.live--
	for t.lo < t.hi && !t.buf[t.lo].live {
		t.buf[t.lo] = h2Stream{}
		t.lo++
		t.first += 2
	}
}
