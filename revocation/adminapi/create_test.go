package adminapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/adminapi"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

func TestCreate(t *testing.T) {
	hour := int64(3600)
	tests := map[string]struct {
		body string
		want entryJSON
		// check is what must now be revoked: jti, sid, sub, iat
		check [4]any
	}{
		"jti": {
			body:  fmt.Sprintf(`{"jti":"j-1","exp":%d}`, now.Unix()+300),
			want:  entryJSON{Kind: "jti", Value: "j-1", ExpiresAt: now.Unix() + 330},
			check: [4]any{"j-1", "", "", int64(0)},
		},
		"jti already expired is kept for the skew": {
			body:  fmt.Sprintf(`{"jti":"j-old","exp":%d}`, now.Unix()-600),
			want:  entryJSON{Kind: "jti", Value: "j-old", ExpiresAt: now.Unix() + 30},
			check: [4]any{"j-old", "", "", int64(0)},
		},
		"sid": {
			body:  `{"sid":"session-9"}`,
			want:  entryJSON{Kind: "sid", Value: "session-9", ExpiresAt: now.Unix() + hour},
			check: [4]any{"", "session-9", "", int64(0)},
		},
		"sub with past cut-off": {
			body:  fmt.Sprintf(`{"sub":"alice","before":%d}`, now.Unix()-10),
			want:  entryJSON{Kind: "sub", Value: "alice", Before: now.Unix() - 10, ExpiresAt: now.Unix() + hour},
			check: [4]any{"", "", "alice", now.Unix() - 11},
		},
		"sub at the cut-off second": {
			body:  fmt.Sprintf(`{"sub":"carol","before":%d}`, now.Unix()-10),
			want:  entryJSON{Kind: "sub", Value: "carol", Before: now.Unix() - 10, ExpiresAt: now.Unix() + hour},
			check: [4]any{"", "", "carol", now.Unix() - 10},
		},
		"sub without before: cut-off is the second of the request": {
			body:  `{"sub":"dave"}`,
			want:  entryJSON{Kind: "sub", Value: "dave", Before: now.Unix(), ExpiresAt: now.Unix() + hour},
			check: [4]any{"", "", "dave", now.Unix()},
		},
		"sub with future cut-off": {
			body:  fmt.Sprintf(`{"sub":"bob","before":%d}`, now.Unix()+100),
			want:  entryJSON{Kind: "sub", Value: "bob", Before: now.Unix() + 100, ExpiresAt: now.Unix() + 100 + hour},
			check: [4]any{"", "", "bob", now.Unix() + 99},
		},
		"expired but well-signed token": {
			body:  `{"token":"leaked.expired.token"}`,
			want:  entryJSON{Kind: "jti", Value: "leaked-jti", ExpiresAt: now.Unix() + 30},
			check: [4]any{"leaked-jti", "", "", int64(0)},
		},
		"live token": {
			body:  `{"token":"live.valid.token"}`,
			want:  entryJSON{Kind: "jti", Value: "live-jti", ExpiresAt: now.Unix() + 330},
			check: [4]any{"live-jti", "", "", int64(0)},
		},
		"token without exp": {
			body:  `{"token":"no.exp.token"}`,
			want:  entryJSON{Kind: "jti", Value: "forever-jti", ExpiresAt: now.Add(10*365*24*time.Hour).Unix() + 30},
			check: [4]any{"forever-jti", "", "", int64(0)},
		},
		"content type with charset": {
			body:  `{"sid":"s-charset"}`,
			want:  entryJSON{Kind: "sid", Value: "s-charset", ExpiresAt: now.Unix() + hour},
			check: [4]any{"", "s-charset", "", int64(0)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, memory.New(nil), inspector)
			rec := s.do(t, http.MethodPost, "/admin/revocations", tc.body, map[string]string{"Content-Type": "application/json; charset=utf-8"})
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d, body %s; want 201", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var got entryJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			tc.want.CreatedAt = now.UnixMilli()
			if got != tc.want {
				t.Fatalf("response %+v, want %+v", got, tc.want)
			}
			c := tc.check
			if err := s.svc.Index().Check("", c[0].(string), c[1].(string), c[2].(string), c[3].(int64)); err != revocation.ErrRevoked {
				t.Fatalf("after 201: Check = %v, want ErrRevoked", err)
			}
			logs := s.logs.String()
			if !strings.Contains(logs, "actor=admin_api") || !strings.Contains(logs, "remote_addr=198.51.100.9:4242") {
				t.Fatalf("audit line lacks actor or address:\n%s", logs)
			}
			if strings.Contains(logs, ".token") || strings.Contains(logs, tc.want.Value) {
				t.Fatalf("log contains a token or identifier:\n%s", logs)
			}
		})
	}
}

func TestCreateRejects(t *testing.T) {
	tooFar := now.Add(11 * 365 * 24 * time.Hour).Unix()
	long := strings.Repeat("x", revocation.MaxValueBytes+1)
	tests := map[string]struct {
		body      string
		header    map[string]string
		inspector adminapi.TokenInspector
		status    int
		code      string
	}{
		"empty body":              {body: "", status: 400, code: "invalid_request"},
		"not JSON":                {body: "jti=abc", status: 400, code: "invalid_request"},
		"array":                   {body: `["jti"]`, status: 400, code: "invalid_request"},
		"empty object":            {body: `{}`, status: 400, code: "invalid_request"},
		"two forms":               {body: `{"jti":"a","exp":1,"sid":"b"}`, status: 400, code: "invalid_request"},
		"unknown field":           {body: `{"sid":"a","reason":"leak"}`, status: 400, code: "invalid_request"},
		"trailing data":           {body: `{"sid":"a"} {"sid":"b"}`, status: 400, code: "invalid_request"},
		"trailing garbage":        {body: `{"sid":"a"}xyz`, status: 400, code: "invalid_request"},
		"jti without exp":         {body: `{"jti":"a"}`, status: 400, code: "invalid_request"},
		"jti with zero exp":       {body: `{"jti":"a","exp":0}`, status: 400, code: "invalid_request"},
		"jti with negative exp":   {body: `{"jti":"a","exp":-5}`, status: 400, code: "invalid_request"},
		"jti with fractional exp": {body: `{"jti":"a","exp":1.5}`, status: 400, code: "invalid_request"},
		"jti with string exp":     {body: `{"jti":"a","exp":"1767225600"}`, status: 400, code: "invalid_request"},
		"jti with huge exp":       {body: `{"jti":"a","exp":1e30}`, status: 400, code: "invalid_request"},
		"exp too far ahead":       {body: fmt.Sprintf(`{"jti":"a","exp":%d}`, tooFar), status: 400, code: "invalid_request"},
		"empty jti":               {body: `{"jti":"","exp":1767225600}`, status: 400, code: "invalid_request"},
		"null jti":                {body: `{"jti":null,"exp":1767225600}`, status: 400, code: "invalid_request"},
		"oversized jti":           {body: fmt.Sprintf(`{"jti":%q,"exp":1767225600}`, long), status: 400, code: "invalid_request"},
		"exp with sid":            {body: `{"sid":"a","exp":1767225600}`, status: 400, code: "invalid_request"},
		"empty sid":               {body: `{"sid":""}`, status: 400, code: "invalid_request"},
		"sub with zero before":    {body: `{"sub":"alice","before":0}`, status: 400, code: "invalid_request"},
		"before too far ahead":    {body: fmt.Sprintf(`{"sub":"alice","before":%d}`, tooFar), status: 400, code: "invalid_request"},
		"before with jti":         {body: `{"jti":"a","exp":1767225600,"before":5}`, status: 400, code: "invalid_request"},
		"badly signed token":      {body: `{"token":"forged.token.sig"}`, inspector: inspector, status: 400, code: "invalid_request"},
		"token without jti":       {body: `{"token":"no.jti.token"}`, inspector: inspector, status: 400, code: "invalid_request"},
		"empty token":             {body: `{"token":""}`, inspector: inspector, status: 400, code: "invalid_request"},
		"token form unavailable":  {body: `{"token":"live.valid.token"}`, status: 501, code: "unsupported"},
		"form encoded":            {body: `jti=a`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type"},
		"no content type":         {body: `{"sid":"a"}`, header: map[string]string{"Content-Type": ""}, status: 415, code: "unsupported_media_type"},
		"text/plain":              {body: `{"sid":"a"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		"bad content type":        {body: `{"sid":"a"}`, header: map[string]string{"Content-Type": ";;;"}, status: 415, code: "unsupported_media_type"},
		"oversized body":          {body: `{"sid":"a","x":"` + strings.Repeat("a", adminapi.MaxBodyBytes) + `"}`, status: 413, code: "request_too_large"},
		"oversized whitespace":    {body: `{"sid":"a"}` + strings.Repeat(" ", adminapi.MaxBodyBytes), status: 413, code: "request_too_large"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			store := memory.New(nil)
			s := newServer(t, store, tc.inspector)
			rec := s.do(t, http.MethodPost, "/admin/revocations", tc.body, tc.header)
			if rec.Code != tc.status {
				t.Fatalf("status %d, body %s; want %d", rec.Code, rec.Body, tc.status)
			}
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error != tc.code || e.Description == "" {
				t.Fatalf("body %s: want JSON error %q with a description", rec.Body, tc.code)
			}
			if strings.Contains(rec.Body.String(), ".token") {
				t.Fatalf("response echoes the token: %s", rec.Body)
			}
			n := 0
			_ = store.List(t.Context(), time.Unix(0, 0), func(revocation.Entry) error { n++; return nil })
			if n != 0 {
				t.Fatalf("a rejected request stored %d entries", n)
			}
		})
	}
}

func TestCreateMergesWithEarlierRevocation(t *testing.T) {
	s := newServer(t, memory.New(nil), nil)
	first := s.do(t, http.MethodPost, "/admin/revocations", fmt.Sprintf(`{"jti":"j","exp":%d}`, now.Unix()+600), nil)
	second := s.do(t, http.MethodPost, "/admin/revocations", fmt.Sprintf(`{"jti":"j","exp":%d}`, now.Unix()+60), nil)
	if first.Code != 201 || second.Code != 201 {
		t.Fatalf("statuses %d, %d", first.Code, second.Code)
	}
	var got entryJSON
	_ = json.Unmarshal(second.Body.Bytes(), &got)
	if got.ExpiresAt != now.Unix()+630 {
		t.Fatalf("second response shows expiry %d, want the stored, later one %d", got.ExpiresAt, now.Unix()+630)
	}
}

func TestCreateKeepsMiddlewareActor(t *testing.T) {
	s := newServer(t, memory.New(nil), nil)
	req := httptest.NewRequestWithContext(
		revocation.WithActor(t.Context(), revocation.Actor{Name: "ops-token"}),
		http.MethodPost, "/admin/revocations", strings.NewReader(`{"sid":"s"}`))
	req.RemoteAddr = "203.0.113.5:1"
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	if rec.Code != 201 {
		t.Fatalf("status %d", rec.Code)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "actor=ops-token") || !strings.Contains(logs, "remote_addr=203.0.113.5:1") {
		t.Fatalf("audit line:\n%s", logs)
	}
}

func FuzzCreate(f *testing.F) {
	for _, s := range []string{`{"jti":"a","exp":1767225900}`, `{"sid":"s"}`, `{"sub":"u","before":1}`, `{"token":"live.valid.token"}`, `{`, `null`, `{"jti":null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s := newServer(t, memory.New(nil), inspector)
		rec := s.do(t, http.MethodPost, "/admin/revocations", body, nil)
		switch rec.Code {
		case 201, 400, 413:
		default:
			t.Fatalf("status %d for body %q", rec.Code, body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("non-JSON response %q", rec.Body)
		}
	})
}

func BenchmarkCreate(b *testing.B) {
	svc, err := revocation.NewService(memory.New(nil), revocation.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := adminapi.New(svc, nil, nil)
	exp := time.Now().Add(time.Hour).Unix()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/admin/revocations", strings.NewReader(fmt.Sprintf(`{"jti":"j-%d","exp":%d}`, i, exp)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatal(rec.Code)
		}
		i++
	}
}
