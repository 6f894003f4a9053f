package redis

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestReplicaVerdict covers how a replica that the sentinels know of a
// primary with no replica connected decides the write, above all when it
// cannot be asked.
func TestReplicaVerdict(t *testing.T) {
	named := map[string]bool{"10.0.0.1:6379": true}
	const self = "53e0d2b1ea7c4b6f9d3c0c6a1e2b5f4a3d2c1b0a" // the node's master_replid
	const zeros = "0000000000000000000000000000000000000000"
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	timeout := context.DeadlineExceeded
	up := knownReplica{addr: "10.0.0.2:6379", listedBy: 3, downBy: 1}
	allDown := knownReplica{addr: "10.0.0.2:6379", listedBy: 2, downBy: 2}
	sawMaster := up
	sawMaster.reportsMaster = "sentinel s1"
	for _, tc := range []struct {
		name           string
		r              knownReplica
		role           nodeRole
		err            error
		contra, unsure bool
	}{
		{"follows the node", up, nodeRole{role: "slave", master: "10.0.0.1:6379"}, nil, false, false},
		{"follows the node, a sentinel's report of the master role is older", sawMaster, nodeRole{role: "slave", master: "10.0.0.1:6379"}, nil, false, false},
		{"promoted", up, nodeRole{role: "master"}, nil, true, false},
		{"promoted out of following the node", up, nodeRole{role: "master", replID2: self}, nil, true, false},
		{"a primary with another history (restarted without its data)", up, nodeRole{role: "master", replID2: zeros}, nil, false, false},
		{"a primary promoted out of following another node", up, nodeRole{role: "master", replID2: "b8d1f4c1f1e6b2b7d0c5c3a4e6f7a8b9c0d1e2f3"}, nil, false, false},
		{"follows another node", up, nodeRole{role: "slave", master: "10.0.0.3:6379"}, nil, true, false},
		{"follows another port", up, nodeRole{role: "slave", master: "10.0.0.1:6380"}, nil, true, false},
		{"a sentinel, not a data node", up, nodeRole{role: "sentinel"}, nil, true, false},
		{"nothing listens at its address", up, nodeRole{}, refused, false, false},
		{"unreachable, every sentinel listing it sees it down", allDown, nodeRole{}, timeout, false, false},
		{"unreachable, some sentinel sees it up", up, nodeRole{}, timeout, false, true},
		{"unreachable, a sentinel saw it report the master role", sawMaster, nodeRole{}, timeout, true, false},
		{"refused by ACL", up, nodeRole{}, errors.New("NOPERM this user has no permissions to run the 'role' command"), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contra, unsure := replicaVerdict(t.Context(), tc.r, tc.role, tc.err, named, self)
			if (contra != "") != tc.contra || (unsure != "") != tc.unsure {
				t.Errorf("replicaVerdict = %q, %q; want contradicting %v, unconfirmed %v", contra, unsure, tc.contra, tc.unsure)
			}
		})
	}
}

// TestParseRole reads the ROLE answers of a primary, a replica and a
// sentinel.
func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		answer []any
		want   nodeRole
	}{
		{[]any{"master", int64(3129659), []any{[]any{"127.0.0.1", "9001", "3129242"}}}, nodeRole{role: "master"}},
		{[]any{"slave", "127.0.0.1", int64(9000), "connected", int64(3167038)}, nodeRole{role: "slave", master: "127.0.0.1:9000"}},
		{[]any{"sentinel", []any{"resque-master"}}, nodeRole{role: "sentinel"}},
	} {
		got, err := parseRole(tc.answer)
		if err != nil || got != tc.want {
			t.Errorf("parseRole(%v) = %+v, %v; want %+v", tc.answer, got, err, tc.want)
		}
	}
	if _, err := parseRole(nil); err == nil {
		t.Error("parseRole of an empty answer: no error")
	}
}
