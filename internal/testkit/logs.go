package testkit

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// LogBuffer collects log output that several goroutines write, for tests
// to read while the code under test may still be logging. The zero value
// is ready to use; use it through a pointer.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer. It implements io.Writer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many non-overlapping times substr occurs in what was
// written so far.
func (b *LogBuffer) Count(substr string) int {
	return strings.Count(b.String(), substr)
}

// Logger returns a logger that writes text records (slog.TextHandler) of
// level and above to b.
func (b *LogBuffer) Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: level}))
}

// JSONLogger returns a logger that writes JSON records (slog.JSONHandler)
// of level and above to b.
func (b *LogBuffer) JSONLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: level}))
}
