package main

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The open-loop run. One writer, on a locked thread, sends every request at
// its scheduled time over the driver's HTTP/2 connections; each
// connection's reader ends the streams as their responses arrive; a reaper
// ends those that time out. Each of them records into a tally of its own.

// maxWriterSleep bounds one sleep of the writer, so that it notices a
// cancelled run soon even at low rates.
const maxWriterSleep = 50 * time.Millisecond

// openRun is the state the writer, the readers and the reaper share during
// one open-loop run.
type openRun struct {
	start    time.Time
	expect   expectation
	timeout  time.Duration
	inflight atomic.Int64  // requests admitted (waiting for a stream, or on one) and not yet recorded
	wake     chan struct{} // the writer waits here for room to send
	recs     []recorder    // one per connection's reader, then the reaper's, then the writer's
}

// now returns the time since the start of the run in nanoseconds.
func (r *openRun) now() int64 { return int64(time.Since(r.start)) }

// signal wakes the writer if it waits.
func (r *openRun) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// complete records the outcomes of streams that were in flight and tells
// the writer there is room.
func (r *openRun) complete(rec *recorder, outs []h2Outcome) {
	if len(outs) == 0 {
		return
	}
	for i := range outs {
		rec.record(r, &outs[i])
	}
	r.inflight.Add(-int64(len(outs)))
	r.signal()
}

// recorder is a tally and what its owner needs to fill it without
// allocating.
type recorder struct {
	t      tally
	status rpcstatus.Status
	resp   authv3.CheckResponse // stands in for a status-only decoded response
}

// record adds one outcome to the tally, as a grpc-go call's would be.
func (rec *recorder) record(r *openRun, o *h2Outcome) {
	t := &rec.t
	t.last = r.start.Add(time.Duration(o.done))
	t.lag = append(t.lag, time.Duration(o.sent-o.sched))
	t.observe(r.expect, time.Duration(o.done-o.sched), rec.response(o), o.err)
}

// response returns the CheckResponse an outcome stands for.
func (rec *recorder) response(o *h2Outcome) *authv3.CheckResponse {
	if o.err != nil {
		return nil
	}
	if o.res.full != nil {
		return o.res.full
	}
	rec.resp.Status = nil
	if o.res.hasStatus {
		rec.status.Code = o.res.code
		rec.resp.Status = &rec.status
	}
	return &rec.resp
}

// runOpen schedules requests at rate for d over conns and measures each
// latency from its scheduled time, not from when it was actually sent: when
// the server (or the client) falls behind, the wait is part of the latency,
// as it is for a user. At most maxInFlight requests are outstanding, and no
// more on a connection than the server allows; the rest wait in order,
// still on the clock. A request not answered timeout after it was sent is a
// DeadlineExceeded error. The run ends when every request has an outcome,
// or no connection can take the next one, or ctx is done.
func runOpen(ctx context.Context, conns []*h2Conn, reqs *wireRequests, maxInFlight int, rate float64, d, timeout time.Duration, expect expectation) []tally {
	r := &openRun{
		expect: expect, timeout: timeout,
		wake: make(chan struct{}, 1),
		recs: make([]recorder, len(conns)+2),
	}
	w := &openWriter{
		r: r, conns: conns, reqs: reqs, rec: &r.recs[len(conns)+1],
		interval:    float64(time.Second) / rate,
		total:       int64(math.Round(d.Seconds() * rate)),
		maxInFlight: int64(maxInFlight),
		dirty:       make([]bool, len(conns)),
	}
	r.start = time.Now()
	for _, c := range conns {
		c.attach(r)
	}
	stopReaper := r.startReaper(conns)
	w.runLocked(ctx)
	r.drain(ctx, conns, w.rec)
	stopReaper()
	for _, c := range conns {
		c.detach(r)
	}
	tallies := make([]tally, len(r.recs))
	for i := range r.recs {
		tallies[i] = r.recs[i].t
		if len(tallies[i].lat) > 0 {
			tallies[i].first = r.start
		}
	}
	return tallies
}

// drain waits until every stream opened has an outcome. When ctx is done
// first, it cancels them.
func (r *openRun) drain(ctx context.Context, conns []*h2Conn, rec *recorder) {
	for r.inflight.Load() > 0 {
		select {
		case <-r.wake:
		case <-ctx.Done():
			var out []h2Outcome
			err := contextError(ctx)
			for _, c := range conns {
				out = c.cancelAll(r, err, out[:0])
				r.complete(rec, out)
			}
			// Outcomes a reader took before the cancel are being recorded.
			for r.inflight.Load() > 0 {
				<-r.wake
			}
			return
		}
	}
}

// contextError is the error of a call whose context is done, as grpc-go
// gives it: Canceled or DeadlineExceeded.
func contextError(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}

// startReaper starts the goroutine that ends timed-out streams; stop ends
// it.
func (r *openRun) startReaper(conns []*h2Conn) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		r.reap(conns, quit)
	}()
	return func() {
		close(quit)
		<-done
	}
}

// reap ends, as DeadlineExceeded, every stream outstanding timeout after it
// was sent. It sleeps until the oldest stream is due: streams sent later are
// due later.
func (r *openRun) reap(conns []*h2Conn, quit <-chan struct{}) {
	rec := &r.recs[len(conns)]
	t := time.NewTimer(r.timeout)
	defer t.Stop()
	var out []h2Outcome
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		now := r.now()
		next := now + int64(r.timeout)
		for _, c := range conns {
			var due int64
			out, due = c.expire(r, now, out[:0])
			next = min(next, due)
			r.complete(rec, out)
		}
		t.Reset(time.Duration(next - now))
	}
}

// openWriter sends the requests of a run on schedule. A due request is
// admitted when fewer than maxInFlight are in flight; until then it waits,
// still on the clock, as with a pool of maxInFlight blocking callers. An
// admitted request waits in pending until a connection can open a stream
// for it (the server's MAX_CONCURRENT_STREAMS, send windows); if none can
// for timeout, it fails with DeadlineExceeded, as a grpc-go call waiting
// for stream quota does.
type openWriter struct {
	r           *openRun
	conns       []*h2Conn
	reqs        *wireRequests
	rec         *recorder
	interval    float64 // nanoseconds between scheduled requests
	total       int64   // requests to schedule
	maxInFlight int64
	next        int64            // the next request to admit
	pending     []pendingRequest // admitted, waiting for a stream, in order
	rr          int              // the connection to try first
	dirty       []bool           // connections written since the last flush
	timer       *time.Timer      // the oldest pending request's deadline
	out         []h2Outcome      // scratch
}

// pendingRequest is a request admitted but not yet sent.
type pendingRequest struct {
	sched, admitted int64
	msg             []byte
}

// sendState is what sendDue left.
type sendState int

const (
	sendCaughtUp sendState = iota // every due request is sent
	sendBlocked                   // a due request waits for room
	sendEnded                     // nothing more can be sent
)

// runLocked runs the writer on a thread of its own. A Go timer wakes up to a
// millisecond late when the process is idle, which would add up to a
// millisecond to every latency; nanosleep on a locked thread with a small
// timer slack wakes within microseconds.
func (w *openWriter) runLocked(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread goes back to the pool with its timer slack restored
		// rather than exiting with this goroutine: a thread's exit would
		// send the parent-death signal to any server it happened to start.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer setTimerSlack(10 * time.Microsecond)()
		w.timer = time.NewTimer(time.Hour)
		defer w.timer.Stop()
		w.loop(ctx)
	}()
	<-done
}

// loop sleeps until the next request is due, then sends every request due,
// in order, flushing each connection once per batch.
func (w *openWriter) loop(ctx context.Context) {
	for w.next < w.total || len(w.pending) > 0 {
		if ctx.Err() != nil {
			w.failWaiting(contextError(ctx))
			return
		}
		now := w.r.now()
		if len(w.pending) == 0 {
			if due := w.sched(w.next); due > now {
				preciseSleep(min(time.Duration(due-now), maxWriterSleep))
				continue
			}
		}
		switch w.sendDue(now) {
		case sendBlocked:
			w.wait(ctx, now)
		case sendEnded:
			return
		}
	}
}

// wait waits for room to send: a stream or window freed, or the oldest
// pending request's deadline.
func (w *openWriter) wait(ctx context.Context, now int64) {
	var deadline <-chan time.Time
	if len(w.pending) > 0 {
		w.timer.Reset(time.Duration(w.pending[0].admitted + int64(w.r.timeout) - now))
		deadline = w.timer.C
		defer w.timer.Stop()
	}
	select {
	case <-w.r.wake:
	case <-ctx.Done():
	case <-deadline:
	}
}

// sched returns when request i is due, in nanoseconds since the start.
func (w *openWriter) sched(i int64) int64 { return int64(float64(i) * w.interval) }

// sendDue admits the requests due by now while there is room for them and
// sends those it can.
func (w *openWriter) sendDue(now int64) sendState {
	defer w.flush()
	for w.next < w.total && w.sched(w.next) <= now && w.r.inflight.Load() < w.maxInFlight {
		msg, ok := w.reqs.pick()
		if !ok {
			w.total = w.next // Each without Wrap: the tokens are used up
			break
		}
		w.pending = append(w.pending, pendingRequest{sched: w.sched(w.next), admitted: now, msg: msg})
		w.r.inflight.Add(1)
		w.next++
	}
	w.expirePending(now)
	sent := 0
	for ; sent < len(w.pending); sent++ {
		st := w.open(&w.pending[sent])
		if st == sendEnded {
			w.pending = w.pending[sent:]
			w.failWaiting(w.noConnection())
			return sendEnded
		}
		if st == sendBlocked {
			break
		}
	}
	w.pending = w.pending[:copy(w.pending, w.pending[sent:])]
	if len(w.pending) > 0 || (w.next < w.total && w.sched(w.next) <= now) {
		return sendBlocked
	}
	return sendCaughtUp
}

// expirePending fails the pending requests admitted timeout or more before
// now.
func (w *openWriter) expirePending(now int64) {
	n := 0
	for n < len(w.pending) && w.pending[n].admitted+int64(w.r.timeout) <= now {
		n++
	}
	if n == 0 {
		return
	}
	w.out = w.out[:0]
	for _, p := range w.pending[:n] {
		w.out = append(w.out, h2Outcome{sched: p.sched, sent: now, done: now, err: errNoStream})
	}
	w.pending = w.pending[:copy(w.pending, w.pending[n:])]
	w.r.complete(w.rec, w.out)
}

// open sends p on the first connection, round-robin, that can take it:
// sendCaughtUp when one did, sendBlocked when none can yet, sendEnded when
// none ever will.
func (w *openWriter) open(p *pendingRequest) sendState {
	usable := false
	for k := range w.conns {
		i := (w.rr + k) % len(w.conns)
		opened, ok := w.conns[i].tryOpen(w.r, p.msg, p.sched)
		if opened {
			w.dirty[i] = true
			w.rr = (i + 1) % len(w.conns)
			return sendCaughtUp
		}
		usable = usable || ok
	}
	if usable {
		return sendBlocked
	}
	return sendEnded
}

// flush writes out every connection written to.
func (w *openWriter) flush() {
	for i, d := range w.dirty {
		if d {
			w.conns[i].flushWrites()
			w.dirty[i] = false
		}
	}
}

// noConnection is the error of requests no connection can take.
func (w *openWriter) noConnection() error {
	for _, c := range w.conns {
		if err := c.reason(); err != nil {
			return status.Errorf(codes.Unavailable, "no connection left to send on: %v", err)
		}
	}
	return status.Error(codes.Unavailable, "no connection left to send on")
}

// failWaiting records err for every request admitted or due but not sent
// (they were scheduled, so they count), then stops the schedule.
func (w *openWriter) failWaiting(err error) {
	now := w.r.now()
	w.out = w.out[:0]
	for _, p := range w.pending {
		w.out = append(w.out, h2Outcome{sched: p.sched, sent: now, done: now, err: err})
	}
	w.pending = w.pending[:0]
	w.r.complete(w.rec, w.out)
	for ; w.next < w.total && w.sched(w.next) <= now; w.next++ {
		if _, ok := w.reqs.pick(); !ok {
			break
		}
		o := h2Outcome{sched: w.sched(w.next), sent: now, done: now, err: err}
		w.rec.record(w.r, &o)
	}
	w.total = w.next
}
