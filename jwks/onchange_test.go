package jwks

import (
	"context"
	"testing"
	"time"
)

// OnChange follows every fetch, after Status shows its outcome, and
// StaleAt tells readiness when the keys stop serving.
func TestOnChangeAndStaleAt(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "P-256", "k1")))
	changes := make(chan Status, 4)
	var src *Source
	env := newTestSource(t, Options{JWKSURI: srv.URL, MaxStale: time.Hour, RefreshInterval: time.Hour,
		OnChange: func() { changes <- src.Status() }})
	src = env.src
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := <-changes
	if !st.Ready || !st.StaleAt.Equal(st.LastSuccess.Add(time.Hour)) || !st.LastSuccess.Equal(clockStart) {
		t.Fatalf("after a fetch: %+v", st)
	}
	srv.fail(500)
	env.clock.Advance(time.Minute)
	if err := src.Refresh(context.Background()); err == nil {
		t.Fatal("a failing fetch succeeded")
	}
	st = <-changes
	if !st.Ready || st.LastError == "" || !st.StaleAt.Equal(clockStart.Add(time.Hour)) {
		t.Fatalf("after a failed fetch: %+v", st)
	}
}
