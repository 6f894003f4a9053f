package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is one problem with the configuration. Load, Parse, ApplyEnv
// and Validate return every problem they find as *FieldError values joined
// with errors.Join; use errors.As, or the Unwrap() []error method of the
// joined error, to reach them.
type FieldError struct {
	// Path is the key path of the offending value, such as
	// "providers[1].jwks_uri" or "rules[0].match.methods[2]"; the name of the
	// environment variable for a bad override; empty for a problem with the
	// document as a whole.
	Path string
	// Msg says what is wrong. It never contains a secret value.
	Msg string
	// Line is the 1-based line of the value in the YAML source, or 0 when
	// unknown (a Config built in Go, or a value set from the environment).
	Line int
}

// Error returns "<path>: <msg>", followed by " (line N)" when the line is
// known.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(")")
	}
	return b.String()
}

// problems collects FieldErrors in the order they are found.
type problems []*FieldError

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) addLine(path string, line int, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Line: line})
}

// err joins the problems, or returns nil when there are none.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	errs := make([]error, len(p))
	for i, fe := range p {
		errs[i] = fe
	}
	return errors.Join(errs...)
}

// maxQuoted bounds how much of a user-supplied value or key an error
// message repeats, so that garbage input cannot produce huge messages.
const maxQuoted = 64

// quote returns s as a Go string literal, shortened to maxQuoted runes.
func quote(s string) string {
	return strconv.Quote(truncate(s))
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return s
	}
	r := []rune(s)
	return string(r[:maxQuoted]) + "…"
}

// childPath returns the path of key inside the mapping at path. Keys that
// are not plain identifiers are quoted, so forward_claims["realm_access.roles"]
// stays unambiguous.
func childPath(path, key string) string {
	if !isPlainKey(key) {
		return path + "[" + quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath returns the path of element i of the list at path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isPlainKey(key string) bool {
	if key == "" || len(key) > maxQuoted {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
