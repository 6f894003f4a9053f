package testkit

import (
	"testing"
	"time"
)

// Eventually calls cond every poll until it returns true, and fails the
// test with "timed out waiting for <what>" when it still returns false
// after timeout. It asserts an outcome, not a duration: timeouts should be
// generous enough for a loaded machine and the race detector.
func Eventually(t testing.TB, timeout, poll time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(poll)
	}
}
