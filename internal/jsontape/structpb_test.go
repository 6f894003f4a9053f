package jsontape

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestWireFormat checks the encoder byte for byte against proto.Marshal
// for documents whose encoding is unique: at most one member per object,
// so that map order does not matter.
func TestWireFormat(t *testing.T) {
	docs := []string{
		`null`, `true`, `false`, `0`, `-0`, `1.5`, `-1e300`, `1e400`, `""`, `"x"`, `"\u00e9\n"`, "\"\xff\"",
		`[]`, `[1,"a",null,true,false]`, `{}`, `{"a":1}`, `{"a":{"b":[{"c":null}]}}`, `[[[]],[{}]]`,
		`{"k":"` + strings.Repeat("x", 200) + `"}`, `["` + strings.Repeat("y", 20000) + `"]`,
		`{"` + strings.Repeat("\\u00e9", 100) + `":"` + strings.Repeat("\\n", 100) + `"}`,
	}
	var tp Tape
	for _, doc := range docs {
		if err := tp.Parse([]byte(doc)); err != nil {
			t.Fatalf("%.40s: %v", doc, err)
		}
		v, err := oracleDecode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(oracleValue(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := tp.Root().AppendValue(nil); !bytes.Equal(got, want) {
			t.Errorf("%.40s:\n got %x\nwant %x", doc, truncate(got), truncate(want))
		}
		if m, ok := v.(map[string]any); ok {
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(oracleValue(m).GetStructValue())
			if err != nil {
				t.Fatal(err)
			}
			if got := tp.Root().AppendStruct(nil); !bytes.Equal(got, want) {
				t.Errorf("%.40s: Struct\n got %x\nwant %x", doc, truncate(got), truncate(want))
			}
		}
	}
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// TestWireTags checks the tag constants against protowire.
func TestWireTags(t *testing.T) {
	for _, tt := range []struct {
		got byte
		num protowire.Number
		typ protowire.Type
	}{
		{tagStructFields, 1, protowire.BytesType},
		{tagEntryKey, 1, protowire.BytesType},
		{tagEntryValue, 2, protowire.BytesType},
		{tagNullValue, 1, protowire.VarintType},
		{tagNumberValue, 2, protowire.Fixed64Type},
		{tagStringValue, 3, protowire.BytesType},
		{tagBoolValue, 4, protowire.VarintType},
		{tagStructValue, 5, protowire.BytesType},
		{tagListValue, 6, protowire.BytesType},
		{tagListValues, 1, protowire.BytesType},
	} {
		if want := protowire.AppendTag(nil, tt.num, tt.typ); !bytes.Equal([]byte{tt.got}, want) {
			t.Errorf("tag %d/%d = %x, want %x", tt.num, tt.typ, tt.got, want)
		}
	}
}

func TestAppendStruct(t *testing.T) {
	long := func(n int) string { return strings.Repeat("z", n) }
	docs := []string{
		`{}`,
		typical,
		`{"a":null,"b":true,"c":false,"d":0,"e":-0,"f":1.5E-3,"g":"","h":[],"i":{}}`,
		`{"big":1e400,"neg":-1e400,"tiny":1e-400,"long":123456789012345678901234567890,"int":9007199254740993}`,
		`{"nested":[[1,[2,[3]]],{"a":{"b":{"c":[{"d":[]}]}}}]}`,
		`{"dup":1,"dup":2,"o":{"x":1},"o":{"y":2},"\u0064up":3}`,
		`{"uni":"héllo wörld 😀 \u4e2d\u6587","\u00e9":"\ud83d\ude00","lone":"\ud83d","bad":"` + "\xff\xfe" + `","ctl":"\u0000\u001f"}`,
		`{"esc":"\"\\\/\b\f\n\r\t","k\"ey":1}`,
		`{"s127":"` + long(127) + `","s128":"` + long(128) + `","s16383":"` + long(16383) + `","s16384":"` + long(16384) + `"}`,
		`{"l":{"m":[{"n":["` + long(20000) + `"]}]},"after":1}`,
		`{"` + long(300) + `":{"` + long(200) + `":[` + strings.Repeat(`"`+long(130)+`",`, 200) + `null]}}`,
		`{"e":"` + strings.Repeat(`\u00e9`, 9000) + `","f":[{"g":"` + strings.Repeat(`\n`, 20000) + `"}]}`,
		`{"bad":"` + strings.Repeat("\xff", 7000) + `"}`,
		` { "ws" : [ 1 , { "x" : "y" } ] } `,
	}
	// Deep nesting with a long string at the bottom exercises widened
	// lengths at every level.
	deep := long(20000)
	for range 20 {
		deep = `{"k":[` + deep + `,1]}`
	}
	docs = append(docs, `{"d":"`+long(1)+`","deep":[`+strings.Replace(deep, long(20000), `"`+long(20000)+`"`, 1)+`]}`)
	var tp Tape
	for _, doc := range docs {
		if err := tp.Parse([]byte(doc)); err != nil {
			t.Fatalf("%.60s: %v", doc, err)
		}
		checkStruct(t, &tp, []byte(doc))
	}
}

func TestAppendStructAppends(t *testing.T) {
	var tp Tape
	if err := tp.Parse([]byte(`{"a":"` + strings.Repeat("q", 500) + `"}`)); err != nil {
		t.Fatal(err)
	}
	prefix := []byte("prefix")
	out := tp.Root().AppendStruct(prefix)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatal("prefix lost")
	}
	var s structpb.Struct
	if err := proto.Unmarshal(out[len(prefix):], &s); err != nil {
		t.Fatal(err)
	}
	if got := s.Fields["a"].GetStringValue(); got != strings.Repeat("q", 500) {
		t.Fatalf("got %q", got)
	}
	if err := tp.Parse([]byte(`[1]`)); err != nil {
		t.Fatal(err)
	}
	if out := tp.Root().AppendStruct(prefix); !bytes.Equal(out, prefix) {
		t.Fatal("AppendStruct of an array wrote something")
	}
}

func TestWidenLen(t *testing.T) {
	for _, n := range []int{127, 128, 16383, 16384, 2097151, 2097152} {
		dst := append([]byte{0xAA, 0}, bytes.Repeat([]byte{0x55}, n)...)
		dst = closeLen(dst, 1)
		want := protowire.AppendBytes([]byte{0xAA}, bytes.Repeat([]byte{0x55}, n))
		if !bytes.Equal(dst, want) {
			t.Errorf("n=%d: wrong encoding (len %d, want %d)", n, len(dst), len(want))
		}
	}
}

func ExampleValue_AppendStruct() {
	var tp Tape
	if err := tp.Parse([]byte(`{"sub":"user-123","roles":["a"]}`)); err != nil {
		panic(err)
	}
	var s structpb.Struct
	if err := proto.Unmarshal(tp.Root().AppendStruct(nil), &s); err != nil {
		panic(err)
	}
	fmt.Println(s.Fields["sub"].GetStringValue(), s.Fields["roles"].GetListValue().GetValues()[0].GetStringValue())
	// Output: user-123 a
}
