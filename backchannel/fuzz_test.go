package backchannel

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// FuzzRequest posts arbitrary form bodies: never a panic, never a 200
// (nothing in them is signed by a trusted key), always a JSON error.
func FuzzRequest(f *testing.F) {
	f.Add("logout_token=eyJhbGciOiJub25lIn0.eyJzaWQiOiJ4In0.")
	f.Add("logout_token=a.b.c&logout_token=d")
	f.Add("logout_token=%zz")
	f.Add("")
	fx := newFixture(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		w := fx.post(body)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		var e map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e["error"] != "invalid_request" {
			t.Fatalf("body %q", w.Body)
		}
	})
}

// FuzzClaims signs arbitrary header and claims JSON with a trusted key:
// the handler must never panic and must accept only what an independent
// reading of the rules accepts.
func FuzzClaims(f *testing.F) {
	f.Add(`{"typ":"logout+jwt"}`, `{"iss":"https://idp.example.com/","aud":"gateway","iat":1800000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)
	f.Add(`{}`, `{"iss":"https://idp.example.com/","aud":["gateway"],"iat":1800000000,"jti":"j","sub":"u","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"nonce":"n"}`)
	fx := newFixture(f, func(o *Options) { o.Replay = testkit.NeverSeen{} })
	f.Fuzz(func(t *testing.T, header, payload string) {
		var hdr, claims map[string]any
		if json.Unmarshal([]byte(header), &hdr) != nil || hdr == nil {
			return
		}
		d := json.NewDecoder(strings.NewReader(payload))
		d.UseNumber()
		if d.Decode(&claims) != nil || claims == nil {
			return
		}
		extra := map[string]any{"alg": fx.key.Alg, "kid": fx.key.KID, "typ": nil}
		for n, v := range hdr {
			if n != "alg" && n != "kid" {
				extra[n] = v
			}
		}
		tok := testkit.Sign(t, fx.key, claims, extra)
		fx.rev.reset()
		w := fx.post(formBody(tok))
		switch w.Code {
		case http.StatusOK:
			if !oracleAccepts(hdr, claims, fx.clock.Now().Unix()) {
				t.Fatalf("accepted header %s claims %s", header, payload)
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}

// oracleAccepts restates the rules for a corp logout token at now.
func oracleAccepts(hdr, c map[string]any, now int64) bool {
	if typ, ok := hdr["typ"]; ok && typ != nil {
		s, _ := typ.(string)
		if !isLogoutTyp(s) {
			return false
		}
	}
	if c["iss"] != corpIssuer {
		return false
	}
	if _, ok := c["nonce"]; ok {
		return false
	}
	ev, _ := c["events"].(map[string]any)
	if _, ok := ev[EventURI].(map[string]any); !ok {
		return false
	}
	switch aud := c["aud"].(type) {
	case string:
		if aud != audience {
			return false
		}
	case []any:
		if !slices.Contains(aud, any(audience)) {
			return false
		}
	default:
		return false
	}
	iat, ok := number(c["iat"])
	if !ok || iat == 0 || iat > now+30 || iat < now-330 {
		return false
	}
	if e, present := c["exp"]; present && e != nil {
		exp, ok := number(e)
		if !ok || now >= exp+30 {
			return false
		}
	}
	jti, _ := c["jti"].(string)
	sid, _ := c["sid"].(string)
	sub, _ := c["sub"].(string)
	return jti != "" && (sid != "" || sub != "")
}

func number(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return int64(f), err == nil
}
