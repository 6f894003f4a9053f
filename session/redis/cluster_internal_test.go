package redis

import (
	"strings"
	"testing"
)

// nodesAnswer is a CLUSTER NODES answer as a peer gives it: a is the
// primary of 0-5460 (and of slot 7000 alone), b of the rest but slot
// 5461, which it is importing; c replicates a.
const nodesAnswer = `aaaa 127.0.0.1:7000@17000 master - 0 0 1 connected 0-5460 7000
bbbb 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 5462-6999 7001-16383 [5461-<-aaaa]
cccc 127.0.0.1:7002@17002 slave aaaa 0 0 1 connected
`

func TestPeerVerdict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		id     nodeIdentity
		want   string // in the contradiction, "" for none
	}{
		{"owner of a range", nodesAnswer, nodeIdentity{nodeID: "aaaa", slot: 100}, ""},
		{"owner of a single slot", nodesAnswer, nodeIdentity{nodeID: "aaaa", slot: 7000}, ""},
		{"another owner", nodesAnswer, nodeIdentity{nodeID: "aaaa", slot: 9000}, "names bbbb"},
		{"an imported slot is not owned", nodesAnswer, nodeIdentity{nodeID: "bbbb", slot: 5461}, "names no node"},
		{"a replica owns nothing", nodesAnswer, nodeIdentity{nodeID: "cccc", slot: 100}, "names aaaa"},
		{"fail?", strings.Replace(nodesAnswer, " master - ", " master,fail? - ", 1), nodeIdentity{nodeID: "aaaa", slot: 100}, "flags it master,fail?"},
		{"fail", strings.Replace(nodesAnswer, " master - ", " master,fail - ", 1), nodeIdentity{nodeID: "aaaa", slot: 100}, "flags it master,fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := peerVerdict(tc.answer, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := peerVerdict("aaaa 127.0.0.1:7000@17000 master\n", nodeIdentity{}); err == nil {
		t.Fatal("a truncated line was read")
	}
}

func TestSelfInClusterNodes(t *testing.T) {
	mine := strings.Replace(strings.Replace(nodesAnswer, "myself,master", "master", 1), "aaaa 127.0.0.1:7000@17000 master", "aaaa 127.0.0.1:7000@17000 myself,master", 1)
	for _, tc := range []struct {
		name, answer, id string
		replicas         int
	}{
		{"with a replica", mine, "aaaa", 1},
		{"without", nodesAnswer, "bbbb", 0},
	} {
		id, n, err := selfInClusterNodes(tc.answer)
		if err != nil || id != tc.id || n != tc.replicas {
			t.Errorf("%s: %q %d %v, want %q %d", tc.name, id, n, err, tc.id, tc.replicas)
		}
	}
	if _, _, err := selfInClusterNodes(strings.Replace(nodesAnswer, "myself,", "", 1)); err == nil {
		t.Error("an answer with no myself line was read")
	}
}
