package jwks

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAgeCap bounds a parsed max-age before it is clamped to the refresh
// interval, so that huge values cannot overflow a time.Duration.
const maxAgeCap = 365 * 24 * time.Hour

// cacheMaxAge returns how long a response says it stays fresh: its
// Cache-Control max-age less its Age, or zero for no-cache and no-store.
// ok is false when the response sets none of these.
func cacheMaxAge(h http.Header) (d time.Duration, ok bool) {
	maxAge := time.Duration(-1)
	for _, line := range h.Values("Cache-Control") {
		for _, directive := range strings.Split(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache", "no-store":
				return 0, true
			case "max-age":
				if secs, valid := parseSeconds(value); valid && maxAge < 0 {
					maxAge = secs
				}
			}
		}
	}
	if maxAge < 0 {
		return 0, false
	}
	if age, valid := parseSeconds(h.Get("Age")); valid {
		maxAge = max(maxAge-age, 0)
	}
	return maxAge, true
}

// parseSeconds parses a delta-seconds value (RFC 9111 section 1.2.2),
// quoted or not, capped at maxAgeCap.
func parseSeconds(v string) (time.Duration, bool) {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return maxAgeCap, true
		}
		return 0, false
	}
	if n > uint64(maxAgeCap/time.Second) {
		return maxAgeCap, true
	}
	return time.Duration(n) * time.Second, true
}
