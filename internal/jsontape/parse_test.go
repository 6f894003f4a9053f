package jsontape

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

var validityCases = []string{
	// Scalars and whitespace.
	``, ` `, `null`, `true`, `false`, `nul`, `nulll`, `tru`, `truex`, `falsy`, `True`, `NULL`,
	" \t\r\n{} \t\r\n", "\f{}", "\v1", "\u00a01", `{}x`, `{} {}`, `1 2`, `"a" "b"`, `[] ,`,
	// Numbers.
	`0`, `-0`, `1`, `-1`, `01`, `-01`, `00`, `+1`, `.5`, `5.`, `-`, `-.5`, `1.5E-3`, `1.5e+3`, `1e400`,
	`-1e400`, `1e-400`, `1E5`, `1e`, `1e+`, `1e-`, `1.e5`, `0.0`, `0e0`, `-0.0e-0`, `123456789012345678901234567890`,
	`1_000`, `0x10`, `Infinity`, `NaN`, `1.5.5`, `1ee5`, `--1`, `[01]`, `[-]`, `[1.]`, `{"a":01}`,
	// Strings.
	`""`, `"a"`, `"`, `"abc`, `"\"`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\a"`, `"\x41"`, `"\u0041"`, `"\u004"`,
	`"\u00zz"`, `"\uD83D\uDE00"`, `"\uD83D"`, `"\uDE00"`, `"\u0000"`, "\"\x00\"", "\"\x1f\"", "\"\t\"", "\"\n\"",
	"\"\x7f\"", "\"\xff\"", "\"\xe2\x82\"", "\"é\"", `"\U0041"`, `"\`, `"\u`, `'a'`,
	// Arrays.
	`[]`, `[`, `]`, `[1`, `[1,`, `[1,]`, `[,1]`, `[,]`, `[1 2]`, `[1,,2]`, `[[[]]]`, `[[[]]`, `[]]`, `[{}]`,
	`[ 1 , 2 ]`, `[null,true,false,"x",1.5,{},[]]`, `[}`, `[1}`,
	// Objects.
	`{`, `}`, `{"a"}`, `{"a":}`, `{"a":1`, `{"a":1,}`, `{,}`, `{"a":1,,"b":2}`, `{"a" 1}`, `{"a"::1}`,
	`{a:1}`, `{1:1}`, `{"a":1 "b":2}`, `{"a":1}`, `{ "a" : 1 , "b" : [ ] }`, `{"a":{"b":{"c":[1,{"d":null}]}}}`,
	`{"a":1]`, `{"a":[1}]`, `{"":""}`, `{"a":1,"a":2}`, `{"\u0061":1}`, `{"a\"b":1}`,
	typical,
}

func TestParseValidity(t *testing.T) {
	var tp Tape
	for _, in := range validityCases {
		err := tp.Parse([]byte(in))
		if want := json.Valid([]byte(in)); (err == nil) != want {
			t.Errorf("Parse(%q) error = %v, json.Valid = %v", in, err, want)
		}
		if err != nil && tp.Root().Exists() {
			t.Errorf("Parse(%q) failed but Root exists", in)
		}
		if err == nil {
			if got, want := string(tp.Root().Raw()), strings.Trim(in, " \t\r\n"); got != want {
				t.Errorf("Parse(%q): Root().Raw() = %q, want %q", in, got, want)
			}
		}
	}
}

func TestParseDepth(t *testing.T) {
	var tp Tape
	for _, open := range []string{"[", `{"a":`} {
		closer := "]"
		if open != "[" {
			closer = "}"
		}
		doc := strings.Repeat(open, MaxDepth) + "1" + strings.Repeat(closer, MaxDepth)
		if err := tp.Parse([]byte(doc)); err != nil {
			t.Errorf("depth %d: %v", MaxDepth, err)
		}
		doc = strings.Repeat(open, MaxDepth+1) + "1" + strings.Repeat(closer, MaxDepth+1)
		if err := tp.Parse([]byte(doc)); !errors.Is(err, ErrTooDeep) {
			t.Errorf("depth %d: got %v, want ErrTooDeep", MaxDepth+1, err)
		}
	}
	// Unbalanced deep input must fail cleanly too.
	if err := tp.Parse([]byte(strings.Repeat("[", 100000))); err == nil {
		t.Error("deep unterminated array accepted")
	}
}

func TestParseStructure(t *testing.T) {
	var tp Tape
	doc := []byte(` {"a": [1, {"b": null}, "x"], "c": {}, "d": [] } `)
	if err := tp.Parse(doc); err != nil {
		t.Fatal(err)
	}
	root := tp.Root()
	if root.Kind() != Object || root.Len() != 3 {
		t.Fatalf("root: kind %v len %d", root.Kind(), root.Len())
	}
	var names []string
	var kinds []Kind
	for it := root.Iter(); it.Next(); {
		name, _ := it.Key().String()
		names = append(names, name)
		kinds = append(kinds, it.Value().Kind())
	}
	if strings.Join(names, ",") != "a,c,d" || kinds[0] != Array || kinds[1] != Object || kinds[2] != Array {
		t.Fatalf("members %v %v", names, kinds)
	}
	a, _ := root.Field("a")
	var raws []string
	for it := a.Iter(); it.Next(); {
		if it.Key().Exists() {
			t.Fatal("array iterator has a key")
		}
		raws = append(raws, string(it.Value().Raw()))
	}
	if got := strings.Join(raws, "|"); got != `1|{"b": null}|"x"` {
		t.Fatalf("elements %s", got)
	}
	for _, v := range []Value{{}, mustField(t, root, "c"), mustField(t, root, "d")} {
		if it := v.Iter(); it.Next() || v.Len() != 0 {
			t.Fatalf("%s: expected no elements", v.Raw())
		}
	}
	if it := (Value{}).Iter(); it.Next() || it.Value().Exists() {
		t.Fatal("absent value iterates")
	}
}

func mustField(t *testing.T, v Value, name string) Value {
	t.Helper()
	f, ok := v.Field(name)
	if !ok {
		t.Fatalf("no field %q in %s", name, v.Raw())
	}
	return f
}

func TestParseErrorOffset(t *testing.T) {
	var tp Tape
	err := tp.Parse([]byte(`{"a":1,}`))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 7 {
		t.Fatalf("got %v, want SyntaxError at offset 7", err)
	}
	if !strings.Contains(err.Error(), "offset 7") {
		t.Fatalf("message %q", err)
	}
}

func TestKindString(t *testing.T) {
	if Object.String() != "object" || Invalid.String() != "invalid" || Kind(99).String() != "Kind(99)" {
		t.Fatal("Kind.String")
	}
}

// TestSpecialBytes checks that the lowest byte flagged by specialBytes is
// the first byte that ends a run of plain string bytes.
func TestSpecialBytes(t *testing.T) {
	interesting := []byte{0, 1, 0x1f, 0x20, 0x21, '"', 0x23, '\\', 0x5b, 0x5d, 0x7f, 0x80, 0x9f, 0xa0, 0xa2, 0xdc, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	var w [8]byte
	for range 200000 {
		for j := range w {
			if rng.IntN(4) == 0 {
				w[j] = byte(rng.IntN(256))
			} else {
				w[j] = interesting[rng.IntN(len(interesting))]
			}
		}
		want := 8
		for j, c := range w {
			if !strPlain[c] {
				want = j
				break
			}
		}
		got := 8
		if m := specialBytes(binary.LittleEndian.Uint64(w[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("% x: first special byte %d, want %d", w, got, want)
		}
	}
}
