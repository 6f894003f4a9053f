package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// HasScopes reports whether every scope in want is granted by the
// space-separated Scope claim.
func (c *Claims) HasScopes(want []string) bool {
	for _, w := range want {
		if !hasField(c.Scope, w) {
			return false
		}
	}
	return true
}

func hasField(list, want string) bool {
	for list != "" {
		i := strings.IndexByte(list, ' ')
		var f string
		if i < 0 {
			f, list = list, ""
		} else {
			f, list = list[:i], list[i+1:]
		}
		if f == want {
			return true
		}
	}
	return false
}

// Decode decodes the whole payload as a JSON object, numbers kept as
// json.Number so integers print without exponents. Each call decodes
// RawPayload again and returns a new object.
func (c *Claims) Decode() (map[string]any, error) {
	if c.RawPayload == nil {
		return nil, errors.New("token: claims were not decoded from a token")
	}
	d := json.NewDecoder(bytes.NewReader(c.RawPayload))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, errClaimsJSON
	}
	return m, nil
}

// Lookup walks a dotted path (realm_access.roles) through a decoded
// payload. Keys that themselves contain dots are matched first whole.
func Lookup(payload map[string]any, path string) (any, bool) {
	if v, ok := payload[path]; ok {
		return v, true
	}
	cur := any(payload)
	for path != "" {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		var part string
		if i := strings.IndexByte(path, '.'); i >= 0 {
			part, path = path[:i], path[i+1:]
		} else {
			part, path = path, ""
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}
