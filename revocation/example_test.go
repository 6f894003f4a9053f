package revocation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

func Example() {
	ctx := context.Background()
	svc, err := revocation.NewService(memory.New(nil), revocation.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()

	// Revoke one leaked token until its exp plus the clock skew.
	exp := time.Now().Add(5 * time.Minute)
	err = svc.Revoke(ctx, revocation.Entry{
		Kind:      revocation.KindJTI,
		Value:     "7f1c2a9e-5d1b-4c8e-9a6f-0b3e2d1c4a5b",
		ExpiresAt: exp.Add(30 * time.Second).Unix(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The Check path asks the index: no I/O, no allocation.
	ix := svc.Index()
	fmt.Println(ix.Check("", "7f1c2a9e-5d1b-4c8e-9a6f-0b3e2d1c4a5b", "session-1", "alice", time.Now().Unix()))
	fmt.Println(ix.Check("", "another-token", "session-1", "alice", time.Now().Unix()))
	// Output:
	// revocation: revoked
	// <nil>
}

func ExampleIndex_Check_subjectCutOff() {
	svc, err := revocation.NewService(memory.New(nil), revocation.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cutOff := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	err = svc.Revoke(context.Background(), revocation.Entry{
		Kind:      revocation.KindSub,
		Value:     "alice",
		Before:    cutOff,
		ExpiresAt: time.Now().Add(336 * time.Hour).Unix(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("issued before:", svc.Index().Check("", "jti-1", "", "alice", cutOff-1))
	fmt.Println("issued at:    ", svc.Index().Check("", "jti-2", "", "alice", cutOff))
	fmt.Println("issued after: ", svc.Index().Check("", "jti-3", "", "alice", cutOff+1))
	// Output:
	// issued before: revocation: revoked
	// issued at:     revocation: revoked
	// issued after:  <nil>
}
