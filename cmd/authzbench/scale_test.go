package main

import (
	"bytes"
	"context"
	"testing"
)

func TestScaleRejectsBadTopology(t *testing.T) {
	for name, args := range map[string][]string{
		"neither":        {"scale"},
		"both":           {"scale", "--redis", "127.0.0.1:6379", "--cluster", "127.0.0.1:7000"},
		"remote redis":   {"scale", "--redis", "10.0.0.1:6379"},
		"remote seed":    {"scale", "--cluster", "127.0.0.1:7000,10.0.0.1:7001"},
		"no port":        {"scale", "--redis", "127.0.0.1"},
		"stray argument": {"scale", "--redis", "127.0.0.1:6379", "extra"},
		"unknown flag":   {"scale", "--replica", "3"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d, want 2 (usage); stderr: %s", name, code, errOut.String())
		}
	}
}
