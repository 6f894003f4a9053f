package extauthz

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwt-authz/jwt-authz/internal/urlpath"
)

// DefaultDecisionLogBuffer is how many lines wait for the writer before
// new ones are dropped.
const DefaultDecisionLogBuffer = 4096

// DecisionLogOptions configure a DecisionLog.
type DecisionLogOptions struct {
	// SampleAllow and SampleDeny are the fractions (0 to 1) of allowed and
	// of denied decisions logged; dry-run denials count as denied.
	SampleAllow, SampleDeny float64
	// Buffer is how many lines may wait for the writer; 0 is
	// DefaultDecisionLogBuffer.
	Buffer int
}

// DecisionLog writes one JSON line per sampled Check decision, for SIEM
// pipelines. A line never holds the token or its claims: the subject
// appears only as a hash. Lines are written by a goroutine of their own,
// so a slow writer never holds up a Check: when Buffer lines are waiting,
// new ones are dropped and counted in
// jwt_authz_decision_log_dropped_total.
type DecisionLog struct {
	w           *bufio.Writer
	out         io.Writer
	allow, deny float64
	lines       chan *[]byte
	stop        chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
	dropped     prometheus.Counter
	writeErr    func(error)
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// NewDecisionLog starts a decision log writing to w; drops are counted on
// m. onError, when not nil, hears of write errors (at most one per burst
// of lines). Close it to flush what is buffered.
func NewDecisionLog(w io.Writer, opts DecisionLogOptions, m *Metrics, onError func(error)) *DecisionLog {
	n := opts.Buffer
	if n <= 0 {
		n = DefaultDecisionLogBuffer
	}
	d := &DecisionLog{
		w:        bufio.NewWriterSize(w, 64<<10),
		out:      w,
		allow:    opts.SampleAllow,
		deny:     opts.SampleDeny,
		lines:    make(chan *[]byte, n),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		dropped:  m.decisionLogDropped,
		writeErr: onError,
	}
	go d.run()
	return d
}

// Close writes the lines still waiting, flushes and stops the writer.
// Decisions logged after Close are dropped.
func (d *DecisionLog) Close() {
	d.closeOnce.Do(func() { close(d.stop) })
	<-d.done
}

func (d *DecisionLog) run() {
	defer close(d.done)
	for {
		select {
		case l := <-d.lines:
			d.write(l)
			if len(d.lines) == 0 {
				d.flush()
			}
		case <-d.stop:
			for {
				select {
				case l := <-d.lines:
					d.write(l)
				default:
					d.flush()
					return
				}
			}
		}
	}
}

func (d *DecisionLog) write(l *[]byte) {
	_, _ = d.w.Write(*l)
	*l = (*l)[:0]
	if cap(*l) <= 4<<10 {
		linePool.Put(l)
	}
}

func (d *DecisionLog) flush() {
	if err := d.w.Flush(); err != nil {
		if d.writeErr != nil {
			d.writeErr(err)
		}
		// A failed bufio.Writer keeps failing: start over on a new one.
		d.w.Reset(d.out)
	}
}

// sampled reports whether a decision of this result is logged.
func (d *DecisionLog) sampled(result int) bool {
	rate := d.deny
	if result == resultAllowed {
		rate = d.allow
	}
	switch {
	case rate >= 1:
		return true
	case rate <= 0:
		return false
	}
	return rand.Float64() < rate
}

// record logs one decision, when it is sampled, without blocking: the
// line is built now (the request's strings do not outlive the call) and
// handed to the writer, or dropped when the writer is behind.
//
// tid is the decision's trace id when tracing found one; without it the
// caller's trace headers, if any, are read now, for sampled lines only.
func (d *DecisionLog) record(r *request, o *outcome, result int, start time.Time, latency time.Duration, tid trace.TraceID) {
	if !d.sampled(result) {
		return
	}
	if !tid.IsValid() {
		tid, _ = traceIDOf(r)
	}
	lp := linePool.Get().(*[]byte)
	*lp = appendDecision((*lp)[:0], r, o, result, start, latency, tid)
	select {
	case d.lines <- lp:
	default:
		d.dropped.Inc()
		*lp = (*lp)[:0]
		linePool.Put(lp)
	}
}

// appendDecision renders one decision as a JSON line; see
// docs/decision-log.md for the fields.
// tid, when valid, is the trace the decision belongs to.
func appendDecision(b []byte, r *request, o *outcome, result int, start time.Time, latency time.Duration, tid trace.TraceID) []byte {
	provider := "none"
	if o.st != nil && o.st.p != nil {
		provider = o.st.p.Name()
	}
	b = append(b, `{"time":"`...)
	b = start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","provider":`...)
	b = appendJSONString(b, provider)
	b = append(b, `,"result":"`...)
	b = append(b, resultNames[result]...)
	b = append(b, `","reason":"`...)
	b = append(b, o.reason.String()...)
	b = append(b, `","method":`...)
	b = appendJSONString(b, r.method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.host)
	b = append(b, `,"path":`...)
	if o.reason == ReasonAmbiguousPath {
		// No normalized path exists; the raw one, escaped and bounded.
		b = appendJSONString(b, "")
		b = append(b, `,"raw_path":`...)
		p, _ := urlpath.Split(r.target)
		b = appendJSONString(b, loggedPath(p))
	} else {
		b = appendJSONString(b, r.path)
	}
	b = append(b, `,"rule":`...)
	ruleIndex := -1
	if o.rule != nil {
		ruleIndex = o.rule.index
	}
	b = strconv.AppendInt(b, int64(ruleIndex), 10)
	if o.verified && o.claims.sub != "" {
		b = append(b, `,"sub_hash":"`...)
		b = appendSubHash(b, o.claims.sub)
		b = append(b, '"')
	}
	b = append(b, `,"cache_hit":`...)
	b = strconv.AppendBool(b, o.cacheHit)
	b = append(b, `,"latency_us":`...)
	b = strconv.AppendInt(b, latency.Microseconds(), 10)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, r.id)
	if tid.IsValid() {
		b = append(b, `,"trace_id":"`...)
		b = hex.AppendEncode(b, tid[:])
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendSubHash appends the first 16 hex digits of the SHA-256 of sub:
// enough to follow one subject through the log, never the subject.
func appendSubHash(b []byte, sub string) []byte {
	sum := sha256.Sum256([]byte(sub))
	return hex.AppendEncode(b, sum[:8])
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, so that a
// client's method, host or path can never break a line.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
