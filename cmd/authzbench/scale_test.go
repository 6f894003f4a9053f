package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// TestScale runs the command as BENCHMARKS.md shows it, at a small scale,
// against a real Redis.
func TestScale(t *testing.T) {
	addr := redisserver.Shared(t)
	code, out, errs := runCmd(t.Context(), "scale", "--redis", addr, "--prefix", "authzbench-test:"+t.Name()+":",
		"--replicas", "2", "--revocations", "20", "--rate", "100000", "--sessions", "10", "--writers", "4")
	for _, want := range []string{"Replicas: 2: 2 full", "| single jti | full (2) | 20 | 0 |", "| mass logout, sid entries | full (2) | 10 | 0 |",
		"| mass logout, one provider entry | full (2) | 1 | 0 |"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("scale: exit %d, no %q\n%s\n%s", code, want, out, errs)
		}
	}
}

// TestScaleWithListeners runs full replicas among listeners, as the
// scale target's command does.
func TestScaleWithListeners(t *testing.T) {
	addr := redisserver.Shared(t)
	code, out, errs := runCmd(t.Context(), "scale", "--redis", addr, "--prefix", "authzbench-test:"+t.Name()+":",
		"--replicas", "5", "--full-replicas", "2", "--revocations", "20", "--rate", "100000", "--writers", "4", "--provider-logout=false")
	for _, want := range []string{"Replicas: 5: 2 full", "3 listeners", "| single jti | full (2) | 20 | 0 |", "| single jti | listeners (3) | 20 | 0 |"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("scale: exit %d, no %q\n%s\n%s", code, want, out, errs)
		}
	}
	if !strings.Contains(out, "| 40 | 0 |") || !strings.Contains(out, "| 60 | 0 |") {
		t.Errorf("scale: not every pair delivered, or some lost\n%s", out)
	}
}

// TestScaleWithRawListeners runs a full replica among raw listeners, as
// the 1,000-replica run's command does: every raw listener receives
// every message.
func TestScaleWithRawListeners(t *testing.T) {
	addr := redisserver.Shared(t)
	code, out, errs := runCmd(t.Context(), "scale", "--redis", addr, "--prefix", "authzbench-test:"+t.Name()+":",
		"--replicas", "4", "--full-replicas", "1", "--raw-listeners", "--revocations", "20", "--rate", "100000", "--writers", "4",
		"--provider-logout=false")
	for _, want := range []string{"Replicas: 4: 1 full", "3 raw listeners", "| single jti | full (1) | 20 | 0 |", "| single jti | raw (3) |"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("scale: exit %d, no %q\n%s\n%s", code, want, out, errs)
		}
	}
	if strings.Contains(out, "listeners (3)") || !strings.Contains(out, " | 0 | 60 | ") {
		t.Errorf("scale: a message missed, or raw listeners reported as listeners\n%s", out)
	}
}

// TestScaleOnSentinel logs out a session set on a Sentinel primary and
// its replica with raw listeners, every replica reading the set through
// its own reader: every raw listener reads it, and the usage of both
// nodes is printed.
func TestScaleOnSentinel(t *testing.T) {
	st := redisserver.NewSentinel(t)
	code, out, errs := runCmd(t.Context(), "scale", "--sentinel", st.MasterName+"@"+st.Sentinel.Addr(), "--prefix", "authzbench-test:"+t.Name()+":",
		"--replicas", "4", "--full-replicas", "1", "--raw-listeners", "--raw-set-readers", "2", "--revocations", "0",
		"--session-set", "20000", "--provider-logout=false")
	for _, want := range []string{"Replicas: 4: 1 full", "| mass logout, one session set of 20000 | full (1) | 1 | 0 |",
		"| master", "| slave", ", busiest |", " | 3 | 0 | 0 | "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("scale: exit %d, no %q\n%s\n%s", code, want, out, errs)
		}
	}
}

func TestScaleRejectsBadTopology(t *testing.T) {
	for name, args := range map[string][]string{
		"neither":         {"scale"},
		"both":            {"scale", "--redis", "127.0.0.1:6379", "--cluster", "127.0.0.1:7000"},
		"remote redis":    {"scale", "--redis", "10.0.0.1:6379"},
		"remote seed":     {"scale", "--cluster", "127.0.0.1:7000,10.0.0.1:7001"},
		"no port":         {"scale", "--redis", "127.0.0.1"},
		"stray argument":  {"scale", "--redis", "127.0.0.1:6379", "extra"},
		"unknown flag":    {"scale", "--replica", "3"},
		"full > all":      {"scale", "--redis", "127.0.0.1:6379", "--replicas", "2", "--full-replicas", "3"},
		"redis+sentinel":  {"scale", "--redis", "127.0.0.1:6379", "--sentinel", "m@127.0.0.1:26379"},
		"no master name":  {"scale", "--sentinel", "127.0.0.1:26379"},
		"empty name":      {"scale", "--sentinel", "@127.0.0.1:26379"},
		"remote sentinel": {"scale", "--sentinel", "m@127.0.0.1:26379,10.0.0.1:26379"},
		"shared < 0":      {"scale", "--redis", "127.0.0.1:6379", "--raw-set-readers", "-1"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d, want 2 (usage); stderr: %s", name, code, errOut.String())
		}
	}
}
