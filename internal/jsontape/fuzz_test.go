package jsontape

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

func FuzzTape(f *testing.F) {
	for _, s := range validityCases {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"a":{"b":{"c":1}},"a.b":2,"x":null}`,
		`{"dup":1,"dup":{"in":[1,2]},"\u0064up":"last"}`,
		`{"s":"\ud83d\ude00\ud83d\u0041","b":"` + "\xff" + `"}`,
		`{"n":[1e400,-0,0.1,123456789012345678901234567890]}`,
	} {
		f.Add([]byte(s))
	}
	var tp Tape
	f.Fuzz(func(t *testing.T, data []byte) {
		err := tp.Parse(data)
		if errors.Is(err, ErrTooDeep) {
			return
		}
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("Parse error = %v, json.Valid = %v", err, valid)
		}
		if err != nil {
			return
		}
		want, derr := oracleDecode(data)
		if derr != nil {
			t.Fatalf("oracle decode: %v", derr)
		}
		root := tp.Root()
		checkValue(t, "root", root, want)
		checkTree(t, root, 0)
		m, ok := want.(map[string]any)
		if !ok {
			return
		}
		checkStruct(t, &tp, data)
		paths := []string{"", ".", "a", "a.b", "a.b.c", "sub"}
		for it := root.Iter(); it.Next() && len(paths) < 40; {
			name, _ := it.Key().String()
			paths = append(paths, name, name+".", "."+name)
			for sub := it.Value().Iter(); sub.Next() && len(paths) < 40; {
				subName, _ := sub.Key().String()
				paths = append(paths, name+"."+subName, name+"."+subName+".x")
			}
		}
		for _, path := range paths {
			wantV, wantOK := oracleLookup(m, path)
			got, gotOK := root.Lookup(path)
			if gotOK != wantOK {
				t.Fatalf("Lookup(%q) ok = %v, want %v", path, gotOK, wantOK)
			}
			if gotOK {
				checkValue(t, "Lookup "+strconv.Quote(path), got, wantV)
			}
		}
	})
}

// checkTree compares String and Float of every value under v, and every
// member name, with encoding/json.
func checkTree(t *testing.T, v Value, depth int) {
	switch v.Kind() {
	case String:
		checkString(t, v)
	case Number:
		got, ok := v.Float()
		want, err := strconv.ParseFloat(string(v.Raw()), 64)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("Float(%s) = %v, %v", v.Raw(), got, ok)
		}
	case Object, Array:
		if depth > 50 {
			return
		}
		n := 0
		for it := v.Iter(); it.Next(); n++ {
			if k := it.Key(); k.Exists() {
				checkString(t, k)
			}
			checkTree(t, it.Value(), depth+1)
		}
		if n != v.Len() {
			t.Fatalf("%s: iterated %d, Len %d", v.Raw(), n, v.Len())
		}
	}
}

func checkString(t *testing.T, v Value) {
	var want string
	if err := json.Unmarshal(v.Raw(), &want); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", v.Raw(), err)
	}
	if got, ok := v.String(); !ok || got != want {
		t.Fatalf("String(%s) = %q, want %q", v.Raw(), got, want)
	}
}
