package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

func segment(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }

// The header rules: exact, case-sensitive names, the last of duplicates,
// strings where strings belong, no crit, nothing else read.
func TestDecodeHeaderRules(t *testing.T) {
	tests := map[string]struct {
		json string
		want error
		alg  Algorithm
		kid  string
		typ  string
	}{
		"plain":             {`{"alg":"ES256","kid":"k1","typ":"JWT"}`, nil, ES256, "k1", "JWT"},
		"no kid":            {`{"alg":"EdDSA"}`, nil, EdDSA, "", ""},
		"null kid":          {`{"alg":"EdDSA","kid":null}`, nil, EdDSA, "", ""},
		"escaped":           {`{"alg":"RS\u0032\u00356","kid":"k\"1"}`, nil, RS256, `k"1`, ""},
		"escaped name":      {`{"\u0061lg":"RS256"}`, nil, RS256, "", ""},
		"duplicate alg":     {`{"alg":"none","alg":"ES256"}`, nil, ES256, "", ""},
		"unknown members":   {`{"alg":"ES256","x":{"y":[1,2]},"jku":"https://evil","jwk":{}}`, nil, ES256, "", ""},
		"whitespace":        {" {\n\"alg\" : \"ES256\" } ", nil, ES256, "", ""},
		"upper-case ALG":    {`{"ALG":"ES256"}`, ErrUnsupportedAlg, 0, "", ""},
		"alg none":          {`{"alg":"none"}`, ErrUnsupportedAlg, 0, "", ""},
		"alg HS256":         {`{"alg":"HS256"}`, ErrUnsupportedAlg, 0, "", ""},
		"no alg":            {`{"kid":"k1"}`, ErrUnsupportedAlg, 0, "", ""},
		"numeric alg":       {`{"alg":256}`, ErrMalformed, 0, "", ""},
		"numeric kid":       {`{"alg":"ES256","kid":1}`, ErrMalformed, 0, "", ""},
		"object typ":        {`{"alg":"ES256","typ":{}}`, ErrMalformed, 0, "", ""},
		"crit":              {`{"alg":"ES256","crit":["exp"],"exp":1}`, ErrMalformed, 0, "", ""},
		"crit null":         {`{"alg":"ES256","crit":null}`, ErrMalformed, 0, "", ""},
		"array":             {`["alg","ES256"]`, ErrMalformed, 0, "", ""},
		"null":              {`null`, ErrMalformed, 0, "", ""},
		"trailing data":     {`{"alg":"ES256"}x`, ErrMalformed, 0, "", ""},
		"two objects":       {`{"alg":"ES256"}{}`, ErrMalformed, 0, "", ""},
		"truncated":         {`{"alg":"ES256"`, ErrMalformed, 0, "", ""},
		"empty":             {``, ErrMalformed, 0, "", ""},
		"invalid utf-8 kid": {"{\"alg\":\"ES256\",\"kid\":\"k\xff\"}", nil, ES256, "k\uFFFD", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, alg, err := decodeHeader(segment(tc.json), nil)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if alg != tc.alg || h.Alg != tc.alg.String() || h.Kid != tc.kid || h.Typ != tc.typ {
				t.Fatalf("got %v %+v, want %v kid %q typ %q", alg, h, tc.alg, tc.kid, tc.typ)
			}
		})
	}
	if _, _, err := decodeHeader("e30*", nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad base64: %v", err)
	}
}

// A header whose kid no provider can have is refused without allocating
// and, at its first sighting, without entering the header cache; at its
// second it is cached, and refused from there. A flood of made-up kids,
// each seen once, leaves the cached headers in place.
func TestSplitHeaderCachesRefusedKidsOnSecondSighting(t *testing.T) {
	hc := newHeaderCache()
	known := map[string]bool{"k1": true}
	mayHave := func(kid string) bool { return known[kid] }
	cachedSeg := func(raw string) bool {
		e, _ := hc.get(raw[:len(raw)-len(".e30.sig")])
		return e != nil
	}

	good := segment(`{"alg":"ES256","kid":"k1"}`) + ".e30.sig"
	h, err := splitHeader(good, hc, mayHave)
	if err != nil || h.header.Kid != "k1" || h.alg != ES256 {
		t.Fatalf("known kid: %+v, %v", h, err)
	}
	if !cachedSeg(good) {
		t.Fatal("the header of a known kid was not cached")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = splitHeader(good, hc, mayHave) }); n != 0 {
		t.Fatalf("a cached header allocates %v times", n)
	}

	for i := range 2000 {
		flood := segment(`{"alg":"ES256","kid":"made-up-`+strconv.Itoa(i)+`"}`) + ".e30.sig"
		if _, err := splitHeader(flood, hc, mayHave); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("made-up kid %d: %v", i, err)
		}
		if cachedSeg(flood) {
			t.Fatalf("made-up kid %d cached at its first sighting", i)
		}
	}
	if !cachedSeg(good) {
		t.Fatal("a flood of made-up kids evicted the header in use")
	}

	unknown := segment(`{"alg":"ES256","kid":"nope"}`) + ".e30.sig"
	if n := testing.AllocsPerRun(1, func() {
		hc.refusal[hc.hash(unknown[:len(unknown)-len(".e30.sig")])%headerCacheSlots].Store(0)
		_, _ = splitHeader(unknown, hc, mayHave)
	}); n != 0 && !testkit.RaceEnabled {
		t.Fatalf("refusing an unknown kid at its first sighting allocates %v times", n)
	}
	if cachedSeg(unknown) {
		t.Fatal("cached at the first sighting")
	}
	if _, err := splitHeader(unknown, hc, mayHave); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("second sighting: %v", err)
	}
	if !cachedSeg(unknown) {
		t.Fatal("not cached at the second sighting")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = splitHeader(unknown, hc, mayHave) }); n != 0 {
		t.Fatalf("refusing a cached header allocates %v times", n)
	}
	if _, err := splitHeader(unknown, hc, mayHave); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("from the cache: %v", err)
	}
	// The kid appears: the cached header now passes.
	known["nope"] = true
	if _, err := splitHeader(unknown, hc, mayHave); err != nil {
		t.Fatalf("kid added: %v", err)
	}
	// A cached header of a removed kid is refused.
	delete(known, "k1")
	if _, err := splitHeader(good, hc, mayHave); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("cached header of a removed kid: %v", err)
	}
	// Without a filter (parse), any decodable header is accepted.
	if _, err := splitHeader(unknown, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// referenceHeader applies the header rules with encoding/json: exact member
// names, the last of duplicates, crit refused, alg, kid and typ strings or
// null.
func referenceHeader(doc []byte) (header, Algorithm, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil || m == nil {
		return header{}, algInvalid, errHeaderJSON
	}
	if _, ok := m["crit"]; ok {
		return header{}, algInvalid, errCrit
	}
	var f [3]string
	for i, name := range []string{"alg", "kid", "typ"} {
		raw, ok := m[name]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, &f[i]); err != nil {
			return header{}, algInvalid, errHeaderJSON
		}
	}
	alg, ok := ParseAlgorithm(f[0])
	if !ok {
		return header{}, algInvalid, ErrUnsupportedAlg
	}
	return header{Alg: f[0], Kid: f[1], Typ: f[2]}, alg, nil
}

// errClass names the reason a header error maps to.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnsupportedAlg):
		return "unsupported_alg"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	}
	return err.Error()
}

// decodeHeader agrees with encoding/json under the header rules on any
// input, and never panics.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{
		`{"alg":"ES256","kid":"k1","typ":"JWT"}`, `{"alg":"RS\u0032\u00356","kid":"k\"1"}`,
		`{"\u0061lg":"RS256"}`, `{"alg":"none","alg":"ES256"}`, `{"ALG":"ES256"}`,
		`{"alg":"ES256","crit":null}`, `{"alg":256}`, `["alg"]`, `null`, `{"alg":"ES256"}x`,
		"{\"alg\":\"ES256\",\"kid\":\"k\xff\"}", ` {"alg" : "EdDSA" , "x":[1,{"y":null}]} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		h, alg, err := decodeHeader(base64.RawURLEncoding.EncodeToString(doc), nil)
		wh, walg, werr := referenceHeader(doc)
		if errClass(err) != errClass(werr) {
			t.Fatalf("%q: %v, encoding/json %v", doc, err, werr)
		}
		if err == nil && (h != wh || alg != walg) {
			t.Fatalf("%q: %+v %v, encoding/json %+v %v", doc, h, alg, wh, walg)
		}
	})
}
