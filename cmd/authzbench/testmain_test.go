package main

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
)

// runMainEnv makes the test binary act as authzbench itself, so that the
// suite test can start it as the floor and as the server under test.
const runMainEnv = "AUTHZBENCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
