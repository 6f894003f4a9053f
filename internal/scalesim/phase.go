package scalesim

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// entryMaker returns entry i of a phase; expires is the expiry to give it.
type entryMaker func(i int, expires int64) revocation.Entry

// phase writes entries [lo, hi), made by mk, through the writer, rate per
// second (0: as fast as the writers go), waits until every replica applied
// all of them or the settle window ends, and measures. With set, entry lo
// is a session set, which every raw listener reads once announced.
func (s *sim) phase(ctx context.Context, name string, lo, hi int, rate float64, mk entryMaker, set bool) (Phase, error) {
	p := Phase{Name: name, Entries: hi - lo}
	g := newGoal(lo, hi, len(s.replicas), len(s.listeners)+len(s.raws))
	base, err := s.head(ctx)
	if err != nil {
		return p, err
	}
	for _, l := range s.listeners {
		l.begin(base)
	}
	// The raw listeners' set reads last until the settle window ends.
	setCtx, endSet := context.WithCancel(ctx)
	defer endSet()
	for _, l := range s.raws {
		var sr *setRead
		if set {
			sr = &setRead{ctx: setCtx, base: base, id: s.t.ids.value(lo)}
		}
		l.begin(sr)
	}
	fallbacks0 := s.setFallbacks()
	s.t.phase.Store(g)
	defer s.t.phase.Store(nil)
	s.cfg.Progress("%s: writing %d entries (rate %s)", name, hi-lo, rateText(rate))

	before, err := readUsage(ctx, s.nodes, s.pubs)
	if err != nil {
		return p, err
	}
	cpu0 := processCPU()
	first := time.Now()
	p.WriteErrors = s.write(ctx, lo, hi, rate, mk)
	g.unwritten(p.WriteErrors)
	if err := ctx.Err(); err != nil {
		return p, err
	}
	p.WriteTime = time.Since(first)
	p.Rate = float64(p.Entries) / p.WriteTime.Seconds()
	last, err := s.head(ctx)
	if err != nil {
		return p, err
	}
	for _, l := range s.listeners {
		l.aim(g, last)
	}
	if len(s.raws) > 0 {
		// Every write has returned, so every message of the phase is
		// published: each raw listener waits for as many.
		now, err := readUsage(ctx, s.nodes, s.pubs)
		if err != nil {
			return p, err
		}
		published, _ := now.sub(before)
		for _, l := range s.raws {
			l.aim(g, published.published)
		}
	}
	s.cfg.Progress("%s: written in %s (%.0f/s, %d errors); waiting for %d applies on %d full replicas, %d listeners and %d raw listeners",
		name, p.WriteTime.Round(time.Millisecond), p.Rate, p.WriteErrors, int64(p.Entries-p.WriteErrors)*int64(len(s.replicas)),
		len(s.replicas), len(s.listeners), len(s.raws))

	settle := time.NewTimer(s.cfg.Settle)
	defer settle.Stop()
	select {
	case <-g.done:
	case <-settle.C:
	case <-ctx.Done():
		return p, ctx.Err()
	}
	p.Wall = time.Since(first)
	p.ProcessCPU = processCPU() - cpu0
	if err := s.recordUsage(ctx, &p, before); err != nil {
		return p, err
	}
	endSet()
	var sets []*setRead
	for _, l := range s.raws {
		if sr := l.endSetReads(); sr != nil {
			sets = append(sets, sr)
		}
	}
	p.SetFallbacks = s.setFallbacks() - fallbacks0
	if set {
		n, err := s.wstore.ReadSetContent(ctx, "", s.t.ids.value(lo))
		if err != nil {
			return p, fmt.Errorf("scalesim: read the session set once more: %w", err)
		}
		p.SetContentBytes = n
	}
	s.measure(&p, lo, hi, first)
	if err := s.measureListeners(ctx, &p, lo, hi, base, first); err != nil {
		if ctx.Err() != nil {
			return p, err
		}
		// The full replicas' figures and Redis's stand; say why the
		// listeners' are missing rather than lose the run.
		p.Listeners = Delivery{Unmeasured: err.Error()}
		s.cfg.Progress("%s: listeners not measured: %v", name, err)
	}
	if err := s.measureRaw(ctx, &p, lo, hi, base, last, first, sets); err != nil {
		if ctx.Err() != nil {
			return p, err
		}
		p.Raw.Unmeasured = err.Error()
		s.cfg.Progress("%s: raw listeners' delays not measured: %v", name, err)
	}
	if len(s.raws) > 0 {
		r := p.Raw
		if set {
			s.cfg.Progress("%s: raw listeners received %d to %d of %d messages (missed %d); %d read the set (%d bytes, %d failed reads), %d never did; read p50 %s p99 %s max %s",
				name, r.MinReceived, r.MaxReceived, r.Published, r.Missed, r.SetReads, r.SetBytes, r.SetReadErrors, r.SetUnread, r.P50, r.P99, r.Max)
		} else {
			s.cfg.Progress("%s: raw listeners received %d to %d of %d messages (missed %d), first entry p50 %s p99 %s max %s",
				name, r.MinReceived, r.MaxReceived, r.Published, r.Missed, r.P50, r.P99, r.Max)
		}
	}
	if set {
		s.cfg.Progress("%s: content %d bytes; set reads made again from the primary: %d", name, p.SetContentBytes, p.SetFallbacks)
	}
	for _, n := range p.RedisNodes {
		s.cfg.Progress("%s: Redis node %s (%s): %.3f s of CPU, %.1f MB out, %d commands, %d MGETs",
			name, n.Addr, n.Role, n.CPU, float64(n.Out)/1e6, n.Commands, n.MGets)
	}
	s.cfg.Progress("%s: full replicas p50 %s p99 %s max %s, lost %d, complete in %s",
		name, p.P50, p.P99, p.Max, p.Lost, p.Complete.Round(time.Millisecond))
	if len(s.listeners) > 0 && p.Listeners.Unmeasured == "" {
		d := p.Listeners
		s.cfg.Progress("%s: listeners p50 %s p99 %s max %s, lost %d, complete in %s",
			name, d.P50, d.P99, d.Max, d.Lost, d.Complete.Round(time.Millisecond))
	}
	return p, nil
}

// idle measures Redis and the replicas for d without writes.
func (s *sim) idle(ctx context.Context, d time.Duration) (Phase, error) {
	p := Phase{Name: "idle"}
	s.cfg.Progress("idle: measuring for %s", d)
	before, err := readUsage(ctx, s.nodes, s.pubs)
	if err != nil {
		return p, err
	}
	cpu0 := processCPU()
	start := time.Now()
	wait := time.NewTimer(d)
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-ctx.Done():
		return p, ctx.Err()
	}
	p.Wall = time.Since(start)
	p.ProcessCPU = processCPU() - cpu0
	if err := s.recordUsage(ctx, &p, before); err != nil {
		return p, err
	}
	return p, nil
}

// write revokes entries [lo, hi) from s.cfg.Writers goroutines, paced to
// rate when it is positive, and returns how many failed.
func (s *sim) write(ctx context.Context, lo, hi int, rate float64, mk entryMaker) int {
	next := make(chan int, s.cfg.Writers)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	expires := time.Now().Add(entryLifetime).Unix()
	for range s.cfg.Writers {
		wg.Go(func() {
			for i := range next {
				e := mk(i, expires)
				if err := s.writer.Revoke(ctx, e); err != nil {
					s.written[i] = -1
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				s.written[i] = time.Since(s.t.start).Nanoseconds()
			}
		})
	}
	start := time.Now()
	for i := lo; i < hi && ctx.Err() == nil; i++ {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i-lo) / rate * float64(time.Second)))
			if d := time.Until(due); d > time.Millisecond {
				time.Sleep(d)
			}
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return failed
}

// measure fills p's delays and counts from the replicas' arrival times.
func (s *sim) measure(p *Phase, lo, hi int, first time.Time) {
	h := newHistogram()
	var last uint32
	for _, r := range s.replicas {
		for i := lo; i < hi; i++ {
			w := s.written[i]
			if w < 0 {
				continue
			}
			a := r.arrivals[i].Load()
			if a == 0 {
				p.Lost++
				continue
			}
			p.Applied++
			last = max(last, a)
			h.add(time.Duration(int64(a-1)*1000 - w))
		}
		p.ViaPull += r.viaPull.Load()
		r.viaPull.Store(0)
	}
	p.P50, p.P99, p.Max = h.quantile(0.5), h.quantile(0.99), h.max
	if last > 0 {
		p.Complete = s.t.start.Add(time.Duration(last-1) * time.Microsecond).Sub(first)
	}
}

// measureListeners fills p.Listeners: for every listener and entry, the
// delay from the writer's return to the first delivery of the entry's
// write sequence number (base < number), and the pairs never delivered.
func (s *sim) measureListeners(ctx context.Context, p *Phase, lo, hi int, base uint64, first time.Time) error {
	if len(s.listeners) == 0 {
		return nil
	}
	seqOf, top, err := s.seqs(ctx, lo, hi, base)
	if err != nil {
		return err
	}
	d := &p.Listeners
	h := newHistogram()
	var size uint64
	if top > base {
		size = top - base
	}
	arrival := make([]uint32, size) // per number after base: first delivery
	pulled := make([]bool, size)
	var last uint32
	for _, l := range s.listeners {
		clear(arrival)
		clear(pulled)
		l.mu.Lock()
		for _, sp := range l.spans {
			for n := max(sp.lo, base+1); n <= min(sp.hi, top); n++ {
				if arrival[n-base-1] == 0 {
					arrival[n-base-1], pulled[n-base-1] = sp.at, sp.pulled
				}
			}
		}
		d.ShortMessages += l.short
		d.PullErrors += l.pullErrors
		d.FullListings += l.fullListings
		d.PullReads += l.pullReads
		l.mu.Unlock()
		for i := lo; i < hi; i++ {
			w := s.written[i]
			if w < 0 {
				continue
			}
			n := seqOf[i-lo]
			if n == 0 || arrival[n-base-1] == 0 {
				d.Lost++
				continue
			}
			a := arrival[n-base-1]
			d.Delivered++
			if pulled[n-base-1] {
				d.ViaPull++
			}
			last = max(last, a)
			h.add(time.Duration(int64(a-1)*1000 - w))
		}
	}
	d.P50, d.P99, d.Max = h.quantile(0.5), h.quantile(0.99), h.max
	if last > 0 {
		d.Complete = s.t.start.Add(time.Duration(last-1) * time.Microsecond).Sub(first)
	}
	return nil
}

// measureRaw fills p.Raw: per raw listener, the messages received against
// those published; and, from the change log, the delay from the writer's
// return for each message's first entry (base < number <= last) to its
// arrival, and the entries each message carried. In the session-set
// phase (sets: the raw listeners' reads of it) a raw listener is
// delivered the set when its read of the content ended, and the delays
// run to then.
func (s *sim) measureRaw(ctx context.Context, p *Phase, lo, hi int, base, last uint64, first time.Time, sets []*setRead) error {
	if len(s.raws) == 0 {
		return nil
	}
	r := &p.Raw
	r.Published, r.MinReceived = p.RedisMessages, math.MaxInt64
	var firsts []uint64
	for _, l := range s.raws {
		l.mu.Lock()
		n := int64(len(l.arrivals))
		r.Received += n
		r.MinReceived, r.MaxReceived = min(r.MinReceived, n), max(r.MaxReceived, n)
		r.Missed += max(0, r.Published-n)
		r.Bytes += l.bytes
		r.Probes += l.probes
		r.ProbeErrors += l.probeErrors
		for _, a := range l.arrivals {
			if a.first > base && a.first <= last {
				firsts = append(firsts, a.first)
			}
		}
		l.mu.Unlock()
	}
	if sets != nil {
		s.measureSetReads(r, s.written[lo], first, sets)
		return nil
	}
	slices.Sort(firsts)
	firsts = slices.Compact(firsts)
	// entries[k]: how many entries the message starting at firsts[k] held.
	entries := make(map[uint64]int64, len(firsts))
	for k, f := range firsts {
		next := last + 1
		if k+1 < len(firsts) {
			next = firsts[k+1]
		}
		entries[f] = int64(next - f)
	}
	seqOf, top, err := s.seqs(ctx, lo, hi, base)
	if err != nil {
		return err
	}
	var size uint64
	if top > base {
		size = top - base
	}
	writtenAt := make([]int64, size) // per number after base: the writer's return, or 0
	for i, n := range seqOf {
		if n != 0 && s.written[lo+i] > 0 {
			writtenAt[n-base-1] = s.written[lo+i]
		}
	}
	h := newHistogram()
	var lastAt uint32
	for _, l := range s.raws {
		l.mu.Lock()
		for _, a := range l.arrivals {
			r.Delivered += entries[a.first]
			lastAt = max(lastAt, a.at)
			if a.first <= base || a.first > top {
				continue
			}
			if w := writtenAt[a.first-base-1]; w > 0 {
				h.add(time.Duration(int64(a.at-1)*1000 - w))
			}
		}
		l.mu.Unlock()
	}
	r.P50, r.P99, r.Max = h.quantile(0.5), h.quantile(0.99), h.max
	if lastAt > 0 {
		r.Complete = s.t.start.Add(time.Duration(lastAt-1) * time.Microsecond).Sub(first)
	}
	return nil
}

// numbered returns the maker of entries of kind named by their number.
func (s *sim) numbered(kind revocation.Kind) entryMaker {
	return func(i int, expires int64) revocation.Entry {
		return revocation.Entry{Kind: kind, Value: s.t.ids.value(i), ExpiresAt: expires}
	}
}

// providerCutoff makes the run's provider-wide mass logout: every token
// of the provider issued up to now.
func (s *sim) providerCutoff(_ int, expires int64) revocation.Entry {
	return revocation.Entry{Kind: revocation.KindProvider, Value: s.t.ids.provider, Before: time.Now().Unix(), ExpiresAt: expires}
}

func rateText(rate float64) string {
	if rate <= 0 {
		return "unpaced"
	}
	return fmt.Sprintf("%.0f/s", rate)
}

// recordUsage reads Redis's usage now and records on p what it did since
// before.
func (s *sim) recordUsage(ctx context.Context, p *Phase, before serverUsage) error {
	after, err := readUsage(ctx, s.nodes, s.pubs)
	if err != nil {
		return err
	}
	u, busiest := after.sub(before)
	p.RedisBusiestNodeCPU = busiest
	p.RedisNodes = u.perNode()
	p.RedisCPU, p.RedisIn, p.RedisOut, p.RedisCommands = u.cpuSeconds, u.netIn, u.netOut, u.commands
	p.RedisMGets = u.mgets
	p.RedisMessages = u.published
	return nil
}

// measureSetReads fills r's set figures and delays from the raw
// listeners' reads of the phase's set, written (the writer's return, ns
// since the run's start; -1: failed) at written.
func (s *sim) measureSetReads(r *RawDelivery, written int64, first time.Time, sets []*setRead) {
	h := newHistogram()
	var lastAt uint32
	for _, sr := range sets {
		r.SetReadErrors += sr.errors
		if !sr.done {
			if written >= 0 {
				r.SetUnread++
			}
			continue
		}
		r.SetReads++
		r.SetBytes += sr.bytes
		lastAt = max(lastAt, sr.at)
		if written > 0 {
			h.add(time.Duration(int64(sr.at-1)*1000 - written))
		}
	}
	r.Delivered = r.SetReads
	r.P50, r.P99, r.Max = h.quantile(0.5), h.quantile(0.99), h.max
	if lastAt > 0 {
		r.Complete = s.t.start.Add(time.Duration(lastAt-1) * time.Microsecond).Sub(first)
	}
}
