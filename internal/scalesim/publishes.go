package scalesim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// sentinelHello is the channel Redis Sentinel publishes its hello
// messages on, on the primary and every replica it monitors, every two
// seconds per sentinel: PUBLISH calls that are not announcements.
const sentinelHello = "__sentinel__:hello"

// foreignPublishes tells a primary's PUBLISH calls that are not the
// store's announcements: the sentinels' hello messages, and the engine's
// own markers. A subscription of its own on the primary receives both;
// each reading of the primary's PUBLISH count is made in one transaction
// with a marker (INFO commandstats, then PUBLISH of the marker), so the
// messages received before that marker are exactly the foreign PUBLISH
// calls the count includes, whatever their timing.
type foreignPublishes struct {
	ps      *goredis.PubSub
	channel string // the markers'
	next    int

	mu   sync.Mutex
	seen int64 // hello and marker messages received so far
	// waiting holds, per marker not yet received, where to send seen
	// when it comes.
	waiting map[string]chan int64
	done    chan struct{}
}

// markerWait bounds how long a reading waits for its own marker.
const markerWait = 30 * time.Second

// newForeignPublishes subscribes on node to the sentinels' hellos and to
// a marker channel of its own.
func newForeignPublishes(ctx context.Context, node *goredis.Client) (*foreignPublishes, error) {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	f := &foreignPublishes{channel: "scalesim-marker:" + hex.EncodeToString(b[:]), waiting: map[string]chan int64{}, done: make(chan struct{})}
	f.ps = node.Subscribe(ctx, sentinelHello, f.channel)
	for confirmed := 0; confirmed < 2; {
		msg, err := f.ps.Receive(ctx)
		if err != nil {
			_ = f.ps.Close()
			return nil, fmt.Errorf("subscribe to count foreign PUBLISH calls: %w", err)
		}
		if _, ok := msg.(*goredis.Subscription); ok {
			confirmed++
		}
	}
	go f.receive()
	return f, nil
}

// receive counts the messages until the subscription is closed.
func (f *foreignPublishes) receive() {
	defer close(f.done)
	for {
		msg, err := f.ps.Receive(context.Background())
		if err != nil {
			return
		}
		m, ok := msg.(*goredis.Message)
		if !ok {
			continue
		}
		f.mu.Lock()
		if m.Channel == f.channel {
			if c, ok := f.waiting[m.Payload]; ok {
				c <- f.seen
				delete(f.waiting, m.Payload)
			}
		}
		f.seen++
		f.mu.Unlock()
	}
}

// publishes reads node's INFO commandstats in one transaction with a new
// marker and returns the commandstats and the foreign PUBLISH calls the
// count includes.
func (f *foreignPublishes) publishes(ctx context.Context, node *goredis.Client) (string, int64, error) {
	arrived := make(chan int64, 1)
	f.mu.Lock()
	f.next++
	token := strconv.Itoa(f.next)
	f.waiting[token] = arrived
	f.mu.Unlock()
	var info *goredis.StringCmd
	_, err := node.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		info = p.Info(ctx, "commandstats")
		p.Publish(ctx, f.channel, token)
		return nil
	})
	if err != nil {
		f.forget(token)
		return "", 0, fmt.Errorf("INFO commandstats: %w", err)
	}
	wait := time.NewTimer(markerWait)
	defer wait.Stop()
	select {
	case seen := <-arrived:
		return info.Val(), seen, nil
	case <-ctx.Done():
		f.forget(token)
		return "", 0, ctx.Err()
	case <-wait.C:
		f.forget(token)
		return "", 0, fmt.Errorf("scalesim: marker %s not received in %s", token, markerWait)
	case <-f.done:
		return "", 0, fmt.Errorf("scalesim: the subscription counting foreign PUBLISH calls ended")
	}
}

func (f *foreignPublishes) forget(token string) {
	f.mu.Lock()
	delete(f.waiting, token)
	f.mu.Unlock()
}

// close ends the subscription.
func (f *foreignPublishes) close() {
	_ = f.ps.Close()
	<-f.done
}

// primaries holds a foreignPublishes per primary address, made at its
// first reading.
type primaries struct {
	mu sync.Mutex
	by map[string]*foreignPublishes
}

// of returns node's, subscribing at the first call.
func (p *primaries) of(ctx context.Context, addr string, node *goredis.Client) (*foreignPublishes, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.by[addr]; ok {
		return f, nil
	}
	f, err := newForeignPublishes(ctx, node)
	if err != nil {
		return nil, err
	}
	if p.by == nil {
		p.by = map[string]*foreignPublishes{}
	}
	p.by[addr] = f
	return f, nil
}

// close ends every subscription.
func (p *primaries) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.by {
		f.close()
	}
	p.by = nil
}
