package jsontape

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	docs := []string{
		`{"a":{"b":{"c":1}},"a.b":{"c":2},"x":null,"y":{"z":null},"s":"str","arr":[{"k":1}],"":{"":3},"d":{"":4},"dup":1,"dup":{"in":2}}`,
		`{"a":{"b":1},"a":{"c":2}}`,
		`{"realm_access":{"roles":["admin"]},"realm_access.roles":"flat"}`,
		`{"a.":1,"a":{"":5},".a":2,"b":{"c.d":{"e":3}}}`,
		`{"\u0073ub":"escaped","n\u00e9":{"x":true}}`,
		`{}`,
	}
	paths := []string{
		"", ".", "..", "a", "a.b", "a.b.c", "a.b.c.d", "a.b.", "a..b", ".a", "a.", "x", "x.y", "y.z", "y.z.w",
		"s", "s.t", "arr", "arr.0", "arr.k", "missing", "missing.x", "d.", "d", "dup", "dup.in", "a.c",
		"realm_access.roles", "realm_access", "b.c.d", "b.c.d.e", "b.c", "sub", "né.x", "né",
	}
	var tp Tape
	for _, doc := range docs {
		if err := tp.Parse([]byte(doc)); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		decoded, err := oracleDecode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		m := decoded.(map[string]any)
		for _, path := range paths {
			want, wantOK := oracleLookup(m, path)
			got, gotOK := tp.Root().Lookup(path)
			if gotOK != wantOK || got.Exists() != gotOK {
				t.Errorf("%s: Lookup(%q) ok = %v (exists %v), want %v", doc, path, gotOK, got.Exists(), wantOK)
				continue
			}
			if gotOK {
				checkValue(t, doc+" "+path, got, want)
			}
		}
	}
	if _, ok := (Value{}).Lookup(""); ok {
		t.Error("absent value: Lookup found something")
	}
	if err := tp.Parse([]byte(`[1]`)); err != nil {
		t.Fatal(err)
	}
	if v, ok := tp.Root().Lookup(""); !ok || v.Kind() != Array {
		t.Error("non-object root: empty path should yield the root")
	}
	if _, ok := tp.Root().Lookup("0"); ok {
		t.Error("non-object root: path into array found something")
	}
}

func TestField(t *testing.T) {
	var tp Tape
	doc := `{"sub":"plain","\u0073ub":"escaped-later","a\"b":1,"\ud83d\ude00":2,"caf\u00e9":3,"x":1,"x":2,"\u00e9\/":4,"bad\xff":5}`
	doc = strings.ReplaceAll(doc, `\xff`, "\xff")
	if err := tp.Parse([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	root := tp.Root()
	tests := []struct {
		name string
		raw  string
	}{
		{"sub", `"escaped-later"`},
		{`a"b`, "1"},
		{"😀", "2"},
		{"café", "3"},
		{"x", "2"},
		{"é/", "4"},
		{"bad\uFFFD", "5"},
		{"su", ""},
		{"subb", ""},
		{"caf", ""},
		{"café!", ""},
		{"bad\xff", ""},
		{"", ""},
	}
	for _, tt := range tests {
		v, ok := root.Field(tt.name)
		if ok != (tt.raw != "") || string(v.Raw()) != tt.raw {
			t.Errorf("Field(%q) = %q, %v; want %q", tt.name, v.Raw(), ok, tt.raw)
		}
	}
	sub, _ := root.Field("sub")
	if _, ok := sub.Field("x"); ok {
		t.Error("Field on a string found something")
	}
	if _, ok := (Value{}).Field("x"); ok {
		t.Error("Field on an absent value found something")
	}
}

func TestString(t *testing.T) {
	cases := []string{
		`""`, `"plain"`, `"é ü 😀"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u0000"`, `"a\u0000b"`,
		`"\u0041\u00e9\u20ac"`, `"\ud83d\ude00"`, `"\uD83D\uDE00x"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`,
		`"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\ude00\ud83d"`, `"\ud83d\\"`, `"\ud83d\n"`, `"\uFFFD"`, `"\uffff"`,
		"\"\xff\"", "\"a\xffb\"", "\"\xe2\x82\"", "\"\xe2\x82\xac\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"",
		"\"\xf4\x90\x80\x80\"", "\"\xff\\n\"", "\"\x7f\"", `"` + strings.Repeat("long ", 100) + `\n"`,
	}
	var tp Tape
	for _, doc := range cases {
		if err := tp.Parse([]byte(doc)); err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		var want string
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := tp.Root().String()
		if !ok || got != want {
			t.Errorf("String(%q) = %q, %v; want %q", doc, got, ok, want)
		}
	}
	if err := tp.Parse([]byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := tp.Root().String(); ok {
		t.Error("String of a number")
	}
	if _, ok := (Value{}).String(); ok {
		t.Error("String of an absent value")
	}
}

func TestFloat(t *testing.T) {
	var tp Tape
	for _, doc := range []string{"0", "-0", "1", "-1.5", "1.5E-3", "1e400", "-1e400", "1e-400", "123456789012345678901234567890", "4.9e-324", `"1"`, "null", "[1]"} {
		if err := tp.Parse([]byte(doc)); err != nil {
			t.Fatal(err)
		}
		want, err := strconv.ParseFloat(doc, 64)
		wantOK := err == nil
		got, ok := tp.Root().Float()
		if ok != wantOK || math.Float64bits(got) != math.Float64bits(want) && ok {
			t.Errorf("Float(%s) = %v, %v; want %v, %v", doc, got, ok, want, wantOK)
		}
	}
	if _, ok := (Value{}).Float(); ok {
		t.Error("Float of an absent value")
	}
}

func TestAbsent(t *testing.T) {
	var v Value
	if v.Exists() || v.Kind() != Invalid || v.Raw() != nil || v.Len() != 0 || v.AppendValue(nil) != nil || v.AppendStruct(nil) != nil {
		t.Fatal("zero Value is not absent")
	}
	var tp Tape
	if tp.Root().Exists() {
		t.Fatal("empty tape has a root")
	}
}

func TestAllocs(t *testing.T) {
	doc := []byte(typical)
	var tp Tape
	dst := make([]byte, 0, 1024)
	if err := tp.Parse(doc); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := tp.Parse(doc); err != nil {
			t.Fatal(err)
		}
		root := tp.Root()
		for _, name := range []string{"jti", "sub", "scope", "iss"} {
			v, ok := root.Field(name)
			if !ok {
				t.Fatal(name)
			}
			if s, ok := v.String(); !ok || s == "" {
				t.Fatal(name)
			}
		}
		if v, ok := root.Lookup("ctx.tenant"); !ok || v.Kind() != String {
			t.Fatal("ctx.tenant")
		}
		if f, ok := mustLookup(root, "iat").Float(); !ok || f != 1764200000 {
			t.Fatal("iat")
		}
		for it := mustLookup(root, "roles").Iter(); it.Next(); {
			if _, ok := it.Value().String(); !ok {
				t.Fatal("roles")
			}
		}
		dst = root.AppendStruct(dst[:0])
	})
	if allocs != 0 {
		t.Fatalf("Parse+Field+String+AppendStruct: %v allocs per run, want 0", allocs)
	}
	// Escaped member names are matched without allocating too.
	doc = []byte(`{"\u0073ub":"x"}`)
	if err := tp.Parse(doc); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { mustLookup(tp.Root(), "sub") }); n != 0 {
		t.Fatalf("escaped Field: %v allocs", n)
	}
}

func mustLookup(v Value, path string) Value {
	f, ok := v.Lookup(path)
	if !ok {
		panic("missing " + path)
	}
	return f
}
