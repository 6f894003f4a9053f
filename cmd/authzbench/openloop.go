package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// The open loop: a scheduler, on a locked thread, hands each request at its
// scheduled time to one of maxInFlight callers, which send it with
// grpc-go's client. Each latency is measured from the scheduled time.

// checkMethod is the gRPC method of ext_authz v3 Check.
const checkMethod = "/envoy.service.auth.v3.Authorization/Check"

// maxSchedulerSleep bounds one sleep of the scheduler, so that it notices a
// cancelled run soon even at low rates.
const maxSchedulerSleep = 50 * time.Millisecond

// Receive windows of the open loop's connections: fixed, and large enough
// that the server never waits for them. Fixed windows also turn off
// grpc-go's bandwidth estimation, a PING for nearly every request when
// requests are spread out in time.
const (
	openStreamWindow = 16 << 20
	openConnWindow   = 256 << 20
)

// openJob is one request handed from the scheduler to a caller.
type openJob struct {
	sched time.Duration // since the start of the run
	msg   premarshalled
}

// marshalRequests marshals every request of src once, before the run.
func marshalRequests(src *requestSource) ([]premarshalled, error) {
	msgs := make([]premarshalled, len(src.reqs))
	for i, r := range src.reqs {
		b, err := proto.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("marshal request %d: %w", i, err)
		}
		msgs[i] = b
	}
	return msgs, nil
}

// runOpen schedules requests at rate for d over conns and measures each
// latency from its scheduled time, not from when it was actually sent: when
// the server (or the client) falls behind, the wait is part of the latency,
// as it is for a user. maxInFlight callers send the requests; a request due
// while all of them wait for answers waits for the first free one, still
// on the clock. A request not answered timeout after it was sent is a
// DeadlineExceeded error. The run ends when every request scheduled has an
// outcome; a cancelled ctx stops the schedule and cancels the calls.
func runOpen(ctx context.Context, conns []*grpc.ClientConn, src *requestSource, msgs []premarshalled, maxInFlight int, rate float64, d, timeout time.Duration, expect expectation) []tally {
	jobs := make(chan openJob) // unbuffered: a due request waits for a free caller
	tallies := make([]tally, maxInFlight)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range maxInFlight {
		wg.Go(func() {
			t, cc := &tallies[w], conns[w%len(conns)]
			var resp authv3.CheckResponse
			for j := range jobs {
				sent := time.Since(start)
				resp.Reset()
				err := invokeCheck(ctx, cc, j.msg, &resp, timeout)
				done := time.Since(start)
				t.first, t.last = start, start.Add(done)
				t.lag = append(t.lag, sent-j.sched)
				var r *authv3.CheckResponse
				if err == nil {
					r = &resp
				}
				t.observe(expect, done-j.sched, r, err)
			}
		})
	}
	total := int64(math.Round(d.Seconds() * rate))
	schedule(ctx, start, jobs, total, float64(time.Second)/rate, func() (premarshalled, bool) {
		i, ok := src.pickIndex()
		if !ok {
			return nil, false
		}
		return msgs[i], true
	})
	close(jobs)
	wg.Wait()
	return tallies
}

// invokeCheck sends one marshalled Check with its own deadline.
func invokeCheck(ctx context.Context, cc *grpc.ClientConn, msg premarshalled, resp *authv3.CheckResponse, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return cc.Invoke(ctx, checkMethod, msg, resp)
}

// schedule hands total requests from next to jobs, request i at i×interval
// nanoseconds after start, until next has none left or ctx is done. It runs
// on a thread of its own: a Go timer wakes up to a millisecond late when
// the process is idle, which would add up to a millisecond to every
// latency; nanosleep on a locked thread with a small timer slack wakes
// within microseconds.
func schedule(ctx context.Context, start time.Time, jobs chan<- openJob, total int64, interval float64, next func() (premarshalled, bool)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread goes back to the pool with its timer slack restored
		// rather than exiting with this goroutine: a thread's exit would
		// send the parent-death signal to any server it happened to start.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer setTimerSlack(10 * time.Microsecond)()
		for i := range total {
			due := time.Duration(float64(i) * interval)
			for wait := due - time.Since(start); wait > 0; wait = due - time.Since(start) {
				if ctx.Err() != nil {
					return
				}
				preciseSleep(min(wait, maxSchedulerSleep))
			}
			msg, ok := next()
			if !ok {
				return // Each without Wrap: the tokens are used up
			}
			select {
			case jobs <- openJob{sched: due, msg: msg}:
			case <-ctx.Done():
				return
			}
		}
	}()
	<-done
}
