package extauthz

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withDecisionLog replaces e's server with one that logs decisions.
func (e *env) withDecisionLog(opts DecisionLogOptions, w interface{ Write([]byte) (int, error) }, mut func(*PolicyOptions)) *DecisionLog {
	e.t.Helper()
	dl := NewDecisionLog(w, opts, e.m, nil)
	srv, err := NewServer(e.policy(mut), Options{Revocation: e.rev, CacheEntries: 1000, Metrics: e.m, DecisionLog: dl})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	return dl
}

func decisionLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestDecisionLogLines(t *testing.T) {
	e := newEnv(t, nil)
	var out syncBuffer
	dl := e.withDecisionLog(DecisionLogOptions{SampleAllow: 1, SampleDeny: 1}, &out, nil)
	ca := testkit.NewCA(t)
	der := ca.ClientCert(t, "client").Certificate[0]
	tok := e.token(func(c map[string]any) { c["jti"] = "jti-secret-1"; c["email"] = "alice@example.com" })
	bound := e.token(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": testkit.Thumbprint(der)} })
	expired := e.token(func(c map[string]any) { c["exp"] = 1000 })
	otherKey := testkit.Sign(t, testkit.NewKey(t, "ES256", "k1"), testkit.Claims(iss, "mallory", "orders-api"), nil)
	tokens := []string{tok, bound, expired, otherKey}

	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := bearerHdr(tok)
	h["traceparent"] = traceparent
	h["x-request-id"] = "req-1"
	e.check("get", "/orders//1", h)             // allowed, a miss
	e.check("GET", "/orders/1", bearerHdr(tok)) // allowed, a hit
	e.check("GET", "/orders", bearerHdr(expired))
	e.check("GET", "/orders", bearerHdr(otherKey))
	e.check("GET", "/orders", bearerHdr(bound)) // no certificate
	e.check("GET", "/orders", map[string]string{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"})
	e.check("GET", "/a/..%2F\"b\n", bearerHdr(tok))
	req := httptest.NewRequest("POST", "/authz/forward?q=1", nil)
	req.Host = "fa.example.com"
	req.Header.Set("Authorization", "Bearer "+tok)
	e.srv.ForwardAuthHandler().ServeHTTP(httptest.NewRecorder(), req)
	dl.Close()

	raw := out.String()
	for _, tk := range tokens {
		parts := strings.Split(tk, ".")
		for _, p := range append(parts, tk) {
			if strings.Contains(raw, p) {
				t.Fatalf("the log holds a token or a token segment:\n%s", raw)
			}
		}
	}
	for _, claim := range []string{"alice", "mallory", "jti-secret-1", "acme", "admin", testkit.Thumbprint(der)} {
		if strings.Contains(raw, claim) {
			t.Fatalf("the log holds the claim %q:\n%s", claim, raw)
		}
	}
	lines := decisionLines(t, raw)
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8:\n%s", len(lines), raw)
	}
	sum := sha256.Sum256([]byte("alice"))
	alice := hex.EncodeToString(sum[:8])
	first := lines[0]
	for k, want := range map[string]any{
		"provider": "corp", "result": "allowed", "reason": "ok", "method": "GET", "host": "api.example.com",
		"path": "/orders/1", "sub_hash": alice, "cache_hit": false, "request_id": "req-1",
		"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "rule": float64(-1),
	} {
		if first[k] != want {
			t.Errorf("first line %s = %#v, want %#v", k, first[k], want)
		}
	}
	for _, k := range []string{"time", "latency_us"} {
		if _, ok := first[k]; !ok {
			t.Errorf("first line has no %s", k)
		}
	}
	if lines[1]["cache_hit"] != true || lines[1]["trace_id"] != nil {
		t.Errorf("second line: %v", lines[1])
	}
	for i, want := range []string{"ok", "ok", "expired", "bad_signature", "cert_mismatch", "missing", "ambiguous_path", "ok"} {
		if lines[i]["reason"] != want {
			t.Errorf("line %d reason %v, want %s", i, lines[i]["reason"], want)
		}
	}
	if lines[4]["sub_hash"] != alice || lines[4]["result"] != "denied" {
		t.Errorf("cert_mismatch line: %v", lines[4])
	}
	if _, ok := lines[5]["trace_id"]; ok {
		t.Errorf("an all-zero trace id was logged: %v", lines[5])
	}
	if lines[6]["raw_path"] != `/a/..%2F\x22b\x0a` || lines[6]["path"] != "" {
		t.Errorf("ambiguous path line: %v", lines[6])
	}
	if lines[7]["host"] != "fa.example.com" || lines[7]["path"] != "/forward" || lines[7]["method"] != "POST" {
		t.Errorf("forward-auth line: %v", lines[7])
	}
}

func TestDecisionLogSampling(t *testing.T) {
	for _, tc := range []struct {
		allow, deny float64
		want        []string // results logged, in order
	}{
		{0, 0, nil},
		{1, 1, []string{"allowed", "denied", "allowed", "denied"}},
		{0, 1, []string{"denied", "denied"}},
		{1, 0, []string{"allowed", "allowed"}},
	} {
		e := newEnv(t, nil)
		var out syncBuffer
		dl := e.withDecisionLog(DecisionLogOptions{SampleAllow: tc.allow, SampleDeny: tc.deny}, &out, nil)
		tok := e.token(nil)
		for range 2 {
			e.check("GET", "/", bearerHdr(tok))
			e.check("GET", "/", nil)
		}
		dl.Close()
		var got []string
		for _, l := range decisionLines(t, out.String()) {
			got = append(got, l["result"].(string))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("allow %v deny %v: logged %v, want %v", tc.allow, tc.deny, got, tc.want)
		}
	}
}

// dryRunResult checks that dry-run denials are sampled as denials.
func TestDecisionLogDryRun(t *testing.T) {
	e := newEnv(t, nil)
	var out syncBuffer
	dl := e.withDecisionLog(DecisionLogOptions{SampleAllow: 0, SampleDeny: 1}, &out, func(o *PolicyOptions) { o.DryRun = true })
	e.check("GET", "/", nil)
	dl.Close()
	lines := decisionLines(t, out.String())
	if len(lines) != 1 || lines[0]["result"] != "dry_run_denied" || lines[0]["reason"] != "missing" {
		t.Fatalf("lines %v", lines)
	}
}

// blockingWriter holds every write until released, and says when the
// first one has begun.
type blockingWriter struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
	syncBuffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return w.syncBuffer.Write(p)
}

func TestDecisionLogDropsWhenBehind(t *testing.T) {
	e := newEnv(t, nil)
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	dl := e.withDecisionLog(DecisionLogOptions{SampleAllow: 1, SampleDeny: 1, Buffer: 1}, w, nil)
	// The first line reaches the writer, which is then stuck in Write.
	e.check("GET", "/", nil)
	<-w.entered
	const n = 50
	for range n {
		// Check returns although the writer is stuck.
		if got := reasonOf(e.check("GET", "/", nil)); got != "missing" {
			t.Fatal(got)
		}
	}
	// One line fits the buffer; the others are dropped.
	if dropped := testutil.ToFloat64(e.m.decisionLogDropped); dropped != n-1 {
		t.Fatalf("%v of %d lines dropped with the writer stuck, want %d", dropped, n, n-1)
	}
	close(w.release)
	dl.Close()
	if written := len(decisionLines(t, w.String())); written != 2 {
		t.Fatalf("%d lines written, want 2", written)
	}
}

func TestTraceIDOf(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := map[string]struct {
		headers map[string]string
		want    string
	}{
		"traceparent":           {map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-01"}, id},
		"unsampled traceparent": {map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-00"}, id},
		"upper-case hex":        {map[string]string{"traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}, ""},
		"zero trace id":         {map[string]string{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, ""},
		"truncated":             {map[string]string{"traceparent": "00-" + id}, ""},
		"quote inside":          {map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e47\"6-00f067aa0ba902b7-01"}, ""},
		"b3 single":             {map[string]string{"b3": id + "-00f067aa0ba902b7-1"}, id},
		"b3 multi":              {map[string]string{"x-b3-traceid": id, "x-b3-spanid": "00f067aa0ba902b7", "x-b3-sampled": "1"}, id},
		"b3 64-bit trace id":    {map[string]string{"x-b3-traceid": "a3ce929d0e0e4736", "x-b3-spanid": "00f067aa0ba902b7"}, "0000000000000000a3ce929d0e0e4736"},
		"none":                  {map[string]string{"x-request-id": "r1"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := fromCheck(checkReq("GET", "/", tc.headers))
			tid, ok := traceIDOf(&r)
			if got := tid.String(); ok != (tc.want != "") || ok && got != tc.want {
				t.Fatalf("traceIDOf = %s, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", `q"b\s`, "ctl\x00\x1f\x7f", "ümlaut", "bad\xff\xfeutf8", "\u2028"} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); got != want && !strings.Contains(s, "\xff") {
			t.Errorf("%q read back as %q", s, got)
		}
	}
}

// The decision log leaves the cached Check allocation-free when it is
// off, and allocation-free when a decision is not sampled.
func TestDecisionLogOffAllocations(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	e := newEnv(t, nil)
	dl := e.withDecisionLog(DecisionLogOptions{SampleAllow: 0, SampleDeny: 1}, &syncBuffer{}, nil)
	defer dl.Close()
	run := e.wireRun(t, e.token(nil))
	if allocs := testing.AllocsPerRun(200, run); allocs > 0 {
		t.Fatalf("%v allocations per unsampled Check", allocs)
	}
}
