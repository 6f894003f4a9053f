package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The open-loop driver's HTTP/2 connection: plaintext HTTP/2 with prior
// knowledge (h2c), as Envoy speaks to an ext_authz sidecar, and only what a
// client of unary calls needs.

const (
	// defaultStreamWindow and defaultConnWindow are the receive windows
	// the driver advertises: large enough that the server never waits for
	// them (a response is at most maxResponseSize).
	defaultStreamWindow = 16 << 20
	defaultConnWindow   = 256 << 20

	h2DefaultWindow   = 65535     // every window's size until SETTINGS or WINDOW_UPDATE say otherwise
	h2DefaultMaxFrame = 16384     // MAX_FRAME_SIZE until SETTINGS say otherwise
	h2MaxWindow       = 1<<31 - 1 // the largest flow-control window
	h2BufSize         = 64 << 10  // read and write buffer of a connection
)

// h2Options configure the driver's connections.
type h2Options struct {
	target       string
	timeout      time.Duration // per request; also bounds the handshake and a stalled write
	decodeFull   bool
	streamWindow uint32 // receive window of each stream (>= 4)
	connWindow   uint32 // receive window of the connection (>= 65535)
	block        []byte // the request header block
}

// newH2Options returns the options of a run against target.
func newH2Options(target string, timeout time.Duration, decodeFull bool) *h2Options {
	return &h2Options{
		target: target, timeout: timeout, decodeFull: decodeFull,
		streamWindow: defaultStreamWindow, connWindow: defaultConnWindow,
		block: requestHeaderBlock(target, timeout),
	}
}

// stallTimeout bounds a write that makes no progress, so that a server that
// stops reading cannot hang the run.
func (o *h2Options) stallTimeout() time.Duration { return max(o.timeout, time.Second) }

// h2Outcome is how one request ended. Times are nanoseconds since the
// start of the run.
type h2Outcome struct {
	sched, sent, done int64
	res               respResult
	err               error
}

// h2ConnError is a connection error the driver found in what the server
// sent; it is reported to the server in a GOAWAY.
type h2ConnError struct {
	code   http2.ErrCode
	reason string
}

func (e h2ConnError) Error() string { return fmt.Sprintf("connection error %v: %s", e.code, e.reason) }

// h2Conn is one connection of the driver. The writer opens streams on it
// (tryOpen), its reader goroutine handles what the server sends, and the
// run's reaper ends streams that time out. mu guards the state below it and
// every write to the connection.
type h2Conn struct {
	idx        int // the reader's recorder in a run
	opts       *h2Options
	nc         net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	fr         *http2.Framer
	readerDone chan struct{}

	mu          sync.Mutex
	run         *openRun // the run whose streams these are; nil between runs
	streams     streamTable
	blocked     []uint32  // streams with request bytes waiting for send windows, in order
	maxStreams  uint32    // the server's MAX_CONCURRENT_STREAMS
	maxFrame    uint32    // the server's MAX_FRAME_SIZE
	initWin     int64     // the server's INITIAL_WINDOW_SIZE: a new stream's send window
	sendWin     int64     // the connection's send window
	recvWin     int64     // what the server may still send on the connection
	recvUnacked uint32    // received bytes not yet returned by WINDOW_UPDATE
	goaway      bool      // the server sent GOAWAY: no new streams
	closed      bool      // the reader has ended
	err         error     // why the connection takes no new streams
	unflushed   bool      // frames were written to bw since the last flush
	rearmAt     time.Time // when the write deadline must be moved on
	wake        bool      // the reader changed something the writer may wait for
}

// dialH2Conns opens n connections to opts.target.
func dialH2Conns(ctx context.Context, opts *h2Options, n int) ([]*h2Conn, error) {
	conns := make([]*h2Conn, 0, n)
	for i := range n {
		c, err := dialH2(ctx, i, opts)
		if err != nil {
			closeH2Conns(conns)
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// closeH2Conns closes conns and waits for their readers.
func closeH2Conns(conns []*h2Conn) {
	for _, c := range conns {
		c.close()
	}
}

// dialH2 connects to opts.target, which must be a loopback address,
// exchanges SETTINGS and starts the reader.
func dialH2(ctx context.Context, idx int, opts *h2Options) (*h2Conn, error) {
	if err := checkLoopback(opts.target); err != nil {
		return nil, err
	}
	hs := opts.stallTimeout()
	dctx, cancel := context.WithTimeout(ctx, hs)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", opts.target)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", opts.target, err)
	}
	if ra, ok := nc.RemoteAddr().(*net.TCPAddr); !ok || !ra.IP.IsLoopback() {
		nc.Close()
		return nil, fmt.Errorf("connect %s: %v: %w", opts.target, nc.RemoteAddr(), errNotLoopback)
	}
	c := &h2Conn{
		idx: idx, opts: opts, nc: nc,
		br:         bufio.NewReaderSize(nc, h2BufSize),
		bw:         bufio.NewWriterSize(nc, h2BufSize),
		readerDone: make(chan struct{}),
		streams:    newStreamTable(),
		maxStreams: math.MaxUint32,
		maxFrame:   h2DefaultMaxFrame,
		initWin:    h2DefaultWindow,
		sendWin:    h2DefaultWindow,
		recvWin:    int64(opts.connWindow),
	}
	c.fr = http2.NewFramer(c.bw, c.br)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.SetMaxReadFrameSize(h2DefaultMaxFrame)
	c.fr.SetReuseFrames()
	if err := c.handshake(time.Now().Add(hs)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect %s: %w", opts.target, err)
	}
	go c.readLoop()
	return c, nil
}

// handshake sends the client preface, SETTINGS and the connection's window
// increase, and applies (and acknowledges) the server's first SETTINGS.
func (c *h2Conn) handshake(deadline time.Time) error {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := io.WriteString(c.bw, http2.ClientPreface); err != nil {
		return err
	}
	err := c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: c.opts.streamWindow},
	)
	if err != nil {
		return err
	}
	if c.opts.connWindow > h2DefaultWindow {
		if err := c.fr.WriteWindowUpdate(0, c.opts.connWindow-h2DefaultWindow); err != nil {
			return err
		}
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	f, err := c.fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("read the server's SETTINGS: %w", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return fmt.Errorf("the server's first frame is %v, not SETTINGS", f.Header().Type)
	}
	c.mu.Lock()
	err = c.onSettings(sf)
	if err == nil {
		c.flush()
		err = c.err
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.rearmAt = time.Time{} // the next write sets the write deadline again
	return c.nc.SetDeadline(time.Time{})
}

// close says GOAWAY, closes the connection and waits for the reader.
func (c *h2Conn) close() {
	c.mu.Lock()
	if !c.closed {
		c.markWrite()
		_ = c.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		c.flush()
	}
	c.mu.Unlock()
	c.nc.Close()
	<-c.readerDone
}

// attach makes r the run of c's streams.
func (c *h2Conn) attach(r *openRun) {
	c.mu.Lock()
	c.run = r
	c.mu.Unlock()
}

// detach ends r on c; r has no stream left.
func (c *h2Conn) detach(r *openRun) {
	c.mu.Lock()
	if c.run == r {
		c.run = nil
	}
	c.mu.Unlock()
}

// usable reports whether c may take new streams at all, whatever its
// limits allow at the moment. Called with mu held.
func (c *h2Conn) usable() bool {
	return !c.closed && c.err == nil && !c.goaway && !c.streams.exhausted()
}

// reason says why c takes no new streams.
func (c *h2Conn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.streams.exhausted() {
		return errors.New("stream IDs used up")
	}
	return nil
}

// tryOpen sends msg on a new stream of r when c can take one now. It
// reports whether it did, and whether c can take streams at all. The
// request already counts in r.inflight.
func (c *h2Conn) tryOpen(r *openRun, msg []byte, sched int64) (opened, usable bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run != r || !c.usable() {
		return false, false
	}
	if uint32(c.streams.live) >= c.maxStreams || len(c.blocked) > 0 {
		return false, true
	}
	st := c.streams.open()
	st.sched, st.sent = sched, r.now()
	st.sendWin, st.recvWin = c.initWin, int64(c.opts.streamWindow)
	st.pending = msg
	c.markWrite()
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: c.opts.block, EndHeaders: true})
	if err == nil {
		err = c.sendData(st)
	}
	if err != nil {
		c.breakConn(err) // the reader ends the stream
		return true, false
	}
	if len(st.pending) > 0 {
		c.blocked = append(c.blocked, st.id)
	}
	return true, true
}

// flushWrites sends what the writer has buffered.
func (c *h2Conn) flushWrites() {
	c.mu.Lock()
	c.flush()
	c.mu.Unlock()
}

// expire ends as DeadlineExceeded the streams of r sent at least timeout
// before now, and returns when the oldest remaining one will be due.
func (c *h2Conn) expire(r *openRun, now int64, out []h2Outcome) ([]h2Outcome, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := int64(math.MaxInt64)
	if c.run != r {
		return out, next
	}
	timeout := int64(r.timeout)
	for st := c.streams.front(); st != nil; st = c.streams.front() {
		if due := st.sent + timeout; due > now {
			next = due
			break
		}
		out = c.abort(st, http2.ErrCodeCancel, errDeadline, out)
	}
	c.flush()
	return out, next
}

// cancelAll ends every stream of r with err.
func (c *h2Conn) cancelAll(r *openRun, err error, out []h2Outcome) []h2Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run != r {
		return out
	}
	for st := c.streams.front(); st != nil; st = c.streams.front() {
		out = c.abort(st, http2.ErrCodeCancel, err, out)
	}
	c.flush()
	return out
}

// markWrite notes a write to bw. At the first write after a flush it makes
// sure the write deadline is at least half the stall timeout away; moving
// it only then keeps the timer work off most writes. Called with mu held.
func (c *h2Conn) markWrite() {
	if c.unflushed {
		return
	}
	c.unflushed = true
	if now := time.Now(); now.After(c.rearmAt) {
		stall := c.opts.stallTimeout()
		_ = c.nc.SetWriteDeadline(now.Add(stall))
		c.rearmAt = now.Add(stall / 2)
	}
}

// flush writes out bw. Called with mu held.
func (c *h2Conn) flush() {
	if !c.unflushed {
		return
	}
	c.unflushed = false
	if err := c.bw.Flush(); err != nil {
		c.breakConn(err)
	}
}

// breakConn gives up on c after a write error: closing it makes the reader
// end every stream left. Called with mu held.
func (c *h2Conn) breakConn(err error) {
	if c.err == nil {
		c.err = err
	}
	c.nc.Close()
}

// sendData writes as much of st's request as the send windows allow.
// Called with mu held.
func (c *h2Conn) sendData(st *h2Stream) error {
	for len(st.pending) > 0 {
		n := min(int64(len(st.pending)), int64(c.maxFrame), c.sendWin, st.sendWin)
		if n <= 0 {
			return nil
		}
		end := n == int64(len(st.pending))
		if err := c.fr.WriteData(st.id, end, st.pending[:n]); err != nil {
			return err
		}
		st.pending = st.pending[n:]
		c.sendWin -= n
		st.sendWin -= n
		if end {
			st.pending, st.endSent = nil, true
		}
	}
	return nil
}

// drainBlocked sends what the send windows now allow of the requests
// waiting for them. Called with mu held.
func (c *h2Conn) drainBlocked() {
	if len(c.blocked) == 0 {
		return
	}
	c.markWrite()
	kept := c.blocked[:0]
	for _, id := range c.blocked {
		st := c.streams.get(id)
		if st == nil {
			continue
		}
		if err := c.sendData(st); err != nil {
			c.breakConn(err)
			return
		}
		if len(st.pending) > 0 {
			kept = append(kept, id)
		}
	}
	c.blocked = kept
	c.wake = true
}

// finish ends st with its outcome, sending nothing. Called with mu held.
func (c *h2Conn) finish(st *h2Stream, res respResult, err error, out []h2Outcome) []h2Outcome {
	o := h2Outcome{sched: st.sched, sent: st.sent, res: res, err: err}
	if c.run != nil {
		o.done = c.run.now()
	}
	if len(st.pending) > 0 {
		c.unblock(st.id)
	}
	c.streams.end(st)
	return append(out, o)
}

// abort ends st with an error and resets it. Called with mu held.
func (c *h2Conn) abort(st *h2Stream, code http2.ErrCode, err error, out []h2Outcome) []h2Outcome {
	c.markWrite()
	if werr := c.fr.WriteRSTStream(st.id, code); werr != nil {
		c.breakConn(werr)
	}
	return c.finish(st, respResult{}, err, out)
}

// finishClosed ends st, which the server has closed, resetting it if the
// request was not all sent. Called with mu held.
func (c *h2Conn) finishClosed(st *h2Stream, res respResult, err error, out []h2Outcome) []h2Outcome {
	if !st.endSent {
		return c.abort(st, http2.ErrCodeCancel, err, out)
	}
	return c.finish(st, res, err, out)
}

// unblock forgets that stream id waits for send windows.
func (c *h2Conn) unblock(id uint32) {
	for i, b := range c.blocked {
		if b == id {
			c.blocked = append(c.blocked[:i], c.blocked[i+1:]...)
			return
		}
	}
}
