package dockerfile

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	goDirective = regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`)
	builderTag  = regexp.MustCompile(`^golang:(\d+)\.(\d+)(?:\.(\d+))?`)
)

// version parses the three numbers of a regexp match; a missing patch is 0.
func version(m []string) [3]int {
	var v [3]int
	for i := range 3 {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v
}

func less(a, b [3]int) bool {
	for i := range 3 {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// TestBuilderGoVersion checks that the builder image's Go is at least the go
// directive of go.mod. The Dockerfile sets GOTOOLCHAIN=local, so an older
// builder fails instead of downloading a toolchain during the build.
func TestBuilderGoVersion(t *testing.T) {
	mod := goDirective.FindStringSubmatch(readRepoFile(t, "go.mod"))
	if mod == nil {
		t.Fatal("go.mod has no go directive")
	}
	_, st := loadStages(t)
	var builder []string
	for _, s := range st {
		if m := builderTag.FindStringSubmatch(s.image); m != nil {
			builder = m
		}
	}
	if builder == nil {
		t.Fatal("no golang builder stage")
	}
	if less(version(builder), version(mod)) {
		t.Errorf("builder %s is older than go.mod's go %s", strings.TrimPrefix(builder[0], "golang:"), strings.TrimPrefix(mod[0], "go "))
	}
}

func TestVersionCompare(t *testing.T) {
	tests := []struct {
		a, b [3]int
		want bool
	}{
		{[3]int{1, 26, 7}, [3]int{1, 26, 8}, true},
		{[3]int{1, 26, 8}, [3]int{1, 26, 8}, false},
		{[3]int{1, 27, 0}, [3]int{1, 26, 8}, false},
		{[3]int{1, 26, 0}, [3]int{1, 26, 1}, true},
	}
	for _, tc := range tests {
		if got := less(tc.a, tc.b); got != tc.want {
			t.Errorf("less(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
