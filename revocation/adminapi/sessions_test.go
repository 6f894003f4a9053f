package adminapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/adminapi"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

type sessionsJSON struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	Sessions int    `json:"sessions"`
	Provider string `json:"provider"`
	Exp      int64  `json:"exp"`
}

func ndjson(sids ...string) string {
	var b strings.Builder
	for _, s := range sids {
		q, _ := json.Marshal(s)
		b.Write(q)
		b.WriteByte('\n')
	}
	return b.String()
}

var ndjsonHeader = map[string]string{"Content-Type": adminapi.NDJSONContentType}

func TestCreateSessions(t *testing.T) {
	tests := map[string]struct {
		query, body string
		want        sessionsJSON
		revoked     [][2]string // provider, sid
		allowed     [][2]string
	}{
		"every provider": {
			body:    ndjson("s-1", "s-2", "s-1") + "\n  \n" + `"s\u00e9-3"` + "\n",
			want:    sessionsJSON{Kind: "sid_set", Sessions: 3, Exp: now.Unix() + 3600},
			revoked: [][2]string{{"corp", "s-1"}, {"", "s-2"}, {"self", "sé-3"}},
			allowed: [][2]string{{"corp", "s-4"}},
		},
		"one provider, given expiry, no final newline": {
			query:   "?provider=corp&exp=" + fmt.Sprint(now.Unix()+60),
			body:    `"a"` + "\n" + `"b"`,
			want:    sessionsJSON{Kind: "sid_set", Sessions: 2, Provider: "corp", Exp: now.Unix() + 60},
			revoked: [][2]string{{"corp", "a"}, {"corp", "b"}},
			allowed: [][2]string{{"self", "a"}, {"", "b"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, memory.New(nil), nil)
			rec := s.do(t, http.MethodPost, "/admin/revocations/sessions"+tc.query, tc.body, ndjsonHeader)
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got sessionsJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.ID) != 22 {
				t.Fatalf("id %q, want 22 characters", got.ID)
			}
			tc.want.ID = got.ID
			if got != tc.want {
				t.Fatalf("answer %+v, want %+v", got, tc.want)
			}
			for _, c := range tc.revoked {
				if err := s.svc.Index().Check(c[0], "", c[1], "", 0); err != revocation.ErrRevoked {
					t.Errorf("Check(%q, sid %q) = %v, want revoked", c[0], c[1], err)
				}
			}
			for _, c := range tc.allowed {
				if err := s.svc.Index().Check(c[0], "", c[1], "", 0); err != nil {
					t.Errorf("Check(%q, sid %q) = %v, want allowed", c[0], c[1], err)
				}
			}
			// The set can be looked up by its id.
			q := "?kind=sid_set"
			if tc.want.Provider != "" {
				q += "&provider=" + tc.want.Provider
			}
			rec = s.do(t, http.MethodGet, "/admin/revocations/"+got.ID+q, "", nil)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), fmt.Sprintf(`"sessions":%d`, tc.want.Sessions)) {
				t.Fatalf("GET: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestCreateSessionsRejects(t *testing.T) {
	tests := map[string]struct {
		query, body string
		header      map[string]string
		status      int
		contains    string
	}{
		"plain text":        {body: "s-1\n", header: map[string]string{"Content-Type": "text/plain"}, status: 415, contains: "x-ndjson"},
		"json":              {body: `"s-1"`, header: map[string]string{"Content-Type": "application/json"}, status: 415},
		"bare line":         {body: ndjson("a") + "b\n", header: ndjsonHeader, status: 400, contains: "line 2"},
		"json object":       {body: `{"sid":"a"}` + "\n", header: ndjsonHeader, status: 400, contains: "line 1"},
		"empty sid":         {body: `""` + "\n", header: ndjsonHeader, status: 400, contains: "must not be empty"},
		"sid too long":      {body: ndjson(strings.Repeat("x", revocation.MaxValueBytes+1)), header: ndjsonHeader, status: 400, contains: "longer than"},
		"line too long":     {body: ndjson("a") + `"` + strings.Repeat("x", 7000) + `"` + "\n", header: ndjsonHeader, status: 400, contains: "line 2 is longer"},
		"no sessions":       {body: "\n\n", header: ndjsonHeader, status: 400, contains: "no session"},
		"unknown provider":  {query: "?provider=other", body: ndjson("a"), header: ndjsonHeader, status: 400, contains: "unknown provider"},
		"bad provider":      {query: "?provider=Corp", body: ndjson("a"), header: ndjsonHeader, status: 400},
		"past exp":          {query: fmt.Sprintf("?exp=%d", now.Unix()), body: ndjson("a"), header: ndjsonHeader, status: 400, contains: "future"},
		"exp not a number":  {query: "?exp=soon", body: ndjson("a"), header: ndjsonHeader, status: 400},
		"exp too far":       {query: fmt.Sprintf("?exp=%d", now.Unix()+20*365*86400), body: ndjson("a"), header: ndjsonHeader, status: 400, contains: "ten years"},
		"unknown parameter": {query: "?before=1", body: ndjson("a"), header: ndjsonHeader, status: 400, contains: "unknown parameter"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, memory.New(nil), nil)
			rec := s.do(t, http.MethodPost, "/admin/revocations/sessions"+tc.query, tc.body, tc.header)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.contains) || !strings.Contains(rec.Body.String(), `"error"`) {
				t.Fatalf("status %d %s, want %d with %q", rec.Code, rec.Body, tc.status, tc.contains)
			}
			if n := s.svc.Index().Len(revocation.KindSIDSet); n != 0 {
				t.Fatalf("a refused request recorded %d sets", n)
			}
		})
	}
}

// TestCreateSessionsOverHTTP sends a set of 200,000 sessions over a real
// connection, streamed as it is written.
func TestCreateSessionsOverHTTP(t *testing.T) {
	s := newServer(t, memory.New(nil), nil)
	srv := httptest.NewServer(s.h)
	t.Cleanup(srv.Close)
	const n = 200_000
	pr, pw := newPipe()
	go func() {
		for i := range n {
			fmt.Fprintf(pw, "%q\n", fmt.Sprintf("sess-%d", i))
		}
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/admin/revocations/sessions?provider=self", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", adminapi.NDJSONContentType)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got sessionsJSON
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusCreated || got.Sessions != n {
		t.Fatalf("status %d, %+v, %v", resp.StatusCode, got, err)
	}
	if s.svc.Index().Check("self", "", "sess-199999", "", 0) != revocation.ErrRevoked || s.svc.Index().Check("self", "", "sess-200000", "", 0) != nil {
		t.Fatal("the set does not hold what was sent")
	}
}

func newPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }

// TestCreateSessionsBodyCutShort: a body that ends at a limit in the
// middle of a line is refused as too large, not as a bad line.
func TestCreateSessionsBodyCutShort(t *testing.T) {
	s := newServer(t, memory.New(nil), nil)
	h := s.h
	s.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 100)
		h.ServeHTTP(w, r)
	})
	rec := s.do(t, http.MethodPost, "/admin/revocations/sessions", ndjson(strings.Split("session-a session-b session-c session-d session-e session-f session-g session-h session-i session-j", " ")...), ndjsonHeader)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "request_too_large") {
		t.Fatalf("status %d %s, want 413", rec.Code, rec.Body)
	}
}
