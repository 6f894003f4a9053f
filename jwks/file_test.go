package jwks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	// Written beside and renamed, as Kubernetes updates a mounted ConfigMap.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileSourceReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeFile(t, path, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{File: path})
	env.src.pollInterval = time.Millisecond
	env.src.Start(t.Context())
	eventually(t, "the first load", env.src.Ready)
	a := mustKey(t, env.src, "a")

	// A new key appears.
	writeFile(t, path, setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "b", "b")))
	eventually(t, "the reload", func() bool { _, err := env.src.Key(t.Context(), "b"); return err == nil })
	if mustKey(t, env.src, "a") != a {
		t.Fatal("a got a new *Key")
	}

	// A broken file keeps the keys; the error is logged once, and counted
	// once, however often the file is polled.
	writeFile(t, path, []byte(`{"keys": [`))
	eventually(t, "the broken file to be noticed", func() bool { return env.src.Status().LastError != "" })
	polls := env.logs.Count("level=DEBUG msg=\"jwks fetch failed")
	eventually(t, "more polls", func() bool {
		return env.logs.Count("level=DEBUG msg=\"jwks fetch failed") >= polls+3
	})
	if n := testutil.ToFloat64(env.metrics.fetches.WithLabelValues("test", resultError)); n != 1 {
		t.Fatalf("one broken file counted as %v failed fetches", n)
	}
	mustKey(t, env.src, "a")
	mustKey(t, env.src, "b")
	if got := env.logs.Count("level=WARN msg=\"jwks fetch failed"); got != 1 {
		t.Fatalf("%d warnings for one broken file, want 1:\n%s", got, env.logs)
	}

	// Fixed again, with b removed.
	writeFile(t, path, setJSON(t, ecJWK(t, "a", "a")))
	eventually(t, "the fix", func() bool { return env.src.Status().LastError == "" })
	eventually(t, "b to be removed", func() bool { return len(env.src.Keys()) == 1 })
	if !strings.Contains(env.logs.String(), "jwks keys updated") {
		t.Fatal("no update logged")
	}
}

func TestFileSourceRefresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwks.json")
	env := newTestSource(t, Options{File: path})
	env.src.pollInterval = 0 // every poll is due at once
	ctx := t.Context()

	steps := []struct {
		name     string
		write    []byte // nil: leave the file as it is
		touch    bool
		remove   bool
		wantErr  bool
		wantKIDs string
		result   string // "": the poll reads nothing and is not counted
	}{
		{name: "missing file", wantErr: true, result: resultError},
		{name: "first content", write: setJSON(t, ecJWK(t, "a", "a")), wantKIDs: "a", result: resultSuccess},
		{name: "unchanged", wantKIDs: "a"},
		{name: "touched, same content", touch: true, wantKIDs: "a", result: resultNotModified},
		{name: "no usable key", write: setJSON(t, map[string]any{"kty": "oct", "k": "c2VjcmV0"}), wantErr: true, wantKIDs: "a", result: resultError},
		{name: "still broken", wantErr: true, wantKIDs: "a"},
		{name: "removed", remove: true, wantErr: true, wantKIDs: "a", result: resultError},
		{name: "rotated", write: setJSON(t, ecJWK(t, "b", "b")), wantKIDs: "b", result: resultSuccess},
	}
	for _, st := range steps {
		if st.write != nil {
			writeFile(t, path, st.write)
		}
		if st.touch {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Fatal(err)
			}
		}
		if st.remove {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
		before := fetchCount(env.metrics, "test")
		var counted float64
		if st.result != "" {
			counted = testutil.ToFloat64(env.metrics.fetches.WithLabelValues("test", st.result))
		}
		pollOnce(t, env.src)
		after := fetchCount(env.metrics, "test")
		switch {
		case st.result == "" && after != before:
			t.Fatalf("%s: a poll that read nothing was counted", st.name)
		case st.result != "" && testutil.ToFloat64(env.metrics.fetches.WithLabelValues("test", st.result)) != counted+1:
			t.Fatalf("%s: the poll was not counted as %s", st.name, st.result)
		}
		// Still missing, the file is not counted again.
		if st.remove {
			pollOnce(t, env.src)
			if again := fetchCount(env.metrics, "test"); again != after {
				t.Fatalf("%s: a file missing the same way was counted again", st.name)
			}
		}
		err := env.src.Refresh(ctx)
		if st.wantErr != (err != nil) {
			t.Fatalf("%s: Refresh err = %v, want error %v", st.name, err, st.wantErr)
		}
		if got := strings.Join(env.src.Status().KeyIDs, ","); got != st.wantKIDs {
			t.Fatalf("%s: kids %q, want %q", st.name, got, st.wantKIDs)
		}
	}
}

func TestFileSourceRejectsADirectory(t *testing.T) {
	env := newTestSource(t, Options{File: t.TempDir()})
	if err := env.src.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "regular file") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileSourceSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwks.json")
	doc := setJSON(t, ecJWK(t, "a", "a"))
	writeFile(t, path, append(doc, make([]byte, maxDocumentBytes)...))
	env := newTestSource(t, Options{File: path})
	if err := env.src.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v", err)
	}
}

// pollOnce makes the poll the refresh loop would make, and waits for it.
func pollOnce(t *testing.T, s *Source) {
	t.Helper()
	c, started := s.begin(modeLoop)
	if !started {
		t.Fatal("no poll started")
	}
	<-c.done
}

// fetchCount is the provider's fetches of every result.
func fetchCount(m *Metrics, provider string) float64 {
	var n float64
	for _, r := range fetchResults {
		n += testutil.ToFloat64(m.fetches.WithLabelValues(provider, r))
	}
	return n
}
