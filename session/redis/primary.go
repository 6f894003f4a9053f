package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// Sentinel names the sentinels that manage the primary of a store's
// client, so that a write acknowledged by a primary with no replica
// connected is confirmed with them (see Options.Sentinel).
type Sentinel struct {
	// MasterName is the name the sentinels monitor the primary under.
	MasterName string
	// Clients are clients of every sentinel (not only of one: a majority
	// of them must confirm). The caller owns and closes them.
	Clients []*goredis.SentinelClient
}

var (
	// errNotPrimary is reported (wrapped in ErrUnavailable) when the node
	// that ran a write is not the primary the sentinels or the Cluster
	// name: a stale primary, whose writes the promoted node never sees.
	errNotPrimary = errors.New("the node that ran the write is no longer the primary")
	// errUnconfirmed is reported when too few sentinels or Cluster nodes
	// answered to confirm that node.
	errUnconfirmed = errors.New("could not confirm that the node that ran the write is the primary")
)

// nodeIdentity is what confirmPrimary compares with the topology's
// answer: the node's run_id (Sentinel), or its Cluster node id and the
// slot of the key written.
type nodeIdentity struct {
	addr  string // in the Cluster client's slot map
	runID string
	// replID is the node's replication id (master_replid), which a
	// replica promoted out of following it keeps as its master_replid2.
	replID string
	nodeID string
	slot   int
}

// identify asks node, on conn, who it is, when a write it acknowledged
// with no replica connected is to be confirmed; nil when there is no one
// to confirm it with (a single server). A Cluster primary that knows
// replicas of its own, none connected, is refused here (errNotReplicated):
// no answer of the other primaries could make its write durable.
func (s *Store) identify(ctx context.Context, conn *goredis.Conn, node *goredis.Client, key string) (*nodeIdentity, error) {
	id := &nodeIdentity{addr: node.Options().Addr}
	switch {
	case s.cluster != nil:
		var nodes *goredis.StringCmd
		var slot *goredis.IntCmd
		if _, err := conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
			nodes = p.ClusterNodes(ctx)
			slot = p.ClusterKeySlot(ctx, key)
			return nil
		}); err != nil {
			return nil, err
		}
		myID, replicas, err := selfInClusterNodes(nodes.Val())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUnconfirmed, err)
		}
		if replicas > 0 {
			// A primary that knows replicas of its own, none connected, is
			// one whose replica may be taking over its slots right now (a
			// primary resumed from a stall), or one whose replica is down:
			// either way its writes cannot be made durable.
			return nil, fmt.Errorf("%w: the primary knows %d replica(s), none connected", errNotReplicated, replicas)
		}
		id.nodeID, id.slot = myID, int(slot.Val())
	case s.opts.Sentinel != nil:
		info, err := conn.Info(ctx, "server", "replication").Result()
		if err != nil {
			return nil, err
		}
		if id.runID = infoField(info, "run_id"); id.runID == "" {
			return nil, fmt.Errorf("%w: the node reported no run_id", errUnconfirmed)
		}
		id.replID = infoField(info, "master_replid")
	default:
		return nil, nil
	}
	return id, nil
}

// confirmPrimary checks, after a write acknowledged by a node while it had
// no replica connected, that the node is still the primary the topology
// names: the promoted replica of a failover that happened while the node
// was stalled never saw the write, so acknowledging it could let a refresh
// token rotate twice. The check is bounded by the replica timeout; an
// error is errNotPrimary or errUnconfirmed, or the caller's own context's.
func (s *Store) confirmPrimary(parent context.Context, id nodeIdentity) error {
	ctx, cancel := context.WithTimeout(parent, s.replicaTimeout())
	defer cancel()
	var err error
	if s.cluster != nil {
		err = confirmSlotOwner(ctx, s.cluster, id)
	} else {
		err = s.opts.Sentinel.confirm(ctx, id, storeProber{s})
	}
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil:
		return parent.Err()
	case errors.Is(err, errNotPrimary) || errors.Is(err, errUnconfirmed):
		return err
	}
	// The check's own deadline is an answer, not the caller's.
	return fmt.Errorf("%w: %v", errUnconfirmed, err)
}

// confirm asks every sentinel which process is the primary, and which
// replicas it knows of it. The node is compared by its run_id, not by
// address: the sentinels name the address that clients dial (announce-ip,
// NAT), which the node itself need not know, while the run_id they learn
// from the node's INFO is the node's own. A sentinel that has not read the
// INFO of a newly promoted primary yet (it may take up to 10 s) names it
// with no run_id; the node at the address it names is then asked, as the
// client would dial it. The node is confirmed when a majority of the
// sentinels name it with no sign of trouble, none names another node or
// sees it down or being failed over, and none of the replicas they know is
// a primary itself or follows another node (checkReplicas).
//
// Unlike a Cluster primary, the node is not refused merely for having
// replicas the sentinels know but none connected: the sentinels list a
// primary killed in a failover as a replica of the promoted one until it
// returns (or SENTINEL RESET), so that rule would stop every rotation
// after an ordinary failover. Those replicas are asked instead.
func (sn *Sentinel) confirm(ctx context.Context, self nodeIdentity, p prober) error {
	runID := self.runID
	type answer struct {
		master      map[string]string
		replicas    []map[string]string
		err, repErr error
	}
	answers := make([]answer, len(sn.Clients))
	var wg sync.WaitGroup
	for i, sc := range sn.Clients {
		// SENTINEL MASTER and SENTINEL REPLICAS side by side: a sentinel
		// client has no pipeline.
		wg.Go(func() { answers[i].master, answers[i].err = sc.Master(ctx, sn.MasterName).Result() })
		wg.Go(func() { answers[i].replicas, answers[i].repErr = sc.Replicas(ctx, sn.MasterName).Result() })
	}
	wg.Wait()
	confirmed := 0
	var errs []string
	asked := map[string]string{} // address → run_id, of the addresses asked
	named := map[string]bool{}   // the node's addresses, as the sentinels name it
	known := map[string]*knownReplica{}
	var order []string // of known, as listed
	for i, a := range answers {
		name := "sentinel " + sn.Clients[i].String()
		if a.err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, a.err))
			continue
		}
		addr := net.JoinHostPort(a.master["ip"], a.master["port"])
		if troubled(a.master["flags"]) {
			return fmt.Errorf("%w: %s flags the primary %s %s", errNotPrimary, name, addr, a.master["flags"])
		}
		id := a.master["runid"]
		if id == "" {
			if _, ok := asked[addr]; !ok {
				got, err := p.runID(ctx, addr)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s names %s: %v", name, addr, err))
					continue
				}
				asked[addr] = got
			}
			id = asked[addr]
		}
		if id != runID {
			return fmt.Errorf("%w: %s names %s", errNotPrimary, name, addr)
		}
		if a.repErr != nil {
			// Without its list of replicas the sentinel confirms nothing.
			errs = append(errs, fmt.Sprintf("%s, its replicas: %v", name, a.repErr))
			continue
		}
		confirmed++
		named[addr] = true
		for _, r := range a.replicas {
			raddr := net.JoinHostPort(r["ip"], r["port"])
			if r["run-id"] == runID {
				continue // the node itself, listed before it was promoted
			}
			k := known[raddr]
			if k == nil {
				k = &knownReplica{addr: raddr}
				known[raddr] = k
				order = append(order, raddr)
			}
			k.listedBy++
			if down(r["flags"]) {
				k.downBy++
			}
			if r["role-reported"] == "master" && k.reportsMaster == "" {
				k.reportsMaster = name
			}
		}
	}
	if 2*confirmed <= len(sn.Clients) {
		return fmt.Errorf("%w: %d of %d sentinels did: %s", errUnconfirmed, confirmed, len(sn.Clients), strings.Join(errs, "; "))
	}
	replicas := make([]knownReplica, 0, len(order))
	for _, addr := range order {
		if !named[addr] {
			replicas = append(replicas, *known[addr])
		}
	}
	return checkReplicas(ctx, replicas, named, self.replID, p)
}

// knownReplica is what the sentinels that confirmed the node list about
// one replica of it.
type knownReplica struct {
	addr string
	// listedBy counts the sentinels that list the replica; downBy those
	// of them that flag it s_down or o_down.
	listedBy, downBy int
	// reportsMaster names a sentinel that last read the master role in
	// the replica's INFO, or is "".
	reportsMaster string
}

// nodeRole is a data node's answer to ROLE.
type nodeRole struct {
	role   string // "master", "slave"
	master string // host:port, the primary a replica follows
	// replID2 is a primary's master_replid2: the replication id of the
	// primary it followed before it was promoted ("" when unknown; forty
	// zeros for one that never followed any, such as a node restarted
	// without its data).
	replID2 string
}

// checkReplicas asks every replica the sentinels know of the node, in
// parallel and directly (ROLE), whether it still follows the node. When
// the node has no replica connected, one of them may be the promoted
// primary of a failover led by a sentinel the client cannot reach, while
// the sentinels it reaches still name the node: such a replica, or one
// following another node, refuses the write (errNotPrimary). A replica
// that cannot be asked counts as following the node only when nothing
// listens at its address (the connection is refused: no process there
// takes writes) or every sentinel that lists it flags it down (they
// cannot reach it either, so no failover they take part in promotes it);
// otherwise the write is refused, as errNotPrimary when a sentinel last
// saw it report the master role, as errUnconfirmed when none did.
//
// A replica that answers that it is a primary refuses the write only if it
// was promoted out of following the node: its master_replid2 is the node's
// replication id (selfReplID). One with another history, such as the old
// primary of an earlier failover restarted without its data and not yet
// turned into a replica by the sentinels, is no rival: no sentinel names it
// and it holds none of the node's writes. Refusing for it would stop every
// session write after each such failover until the sentinels reconfigure it.
func checkReplicas(ctx context.Context, replicas []knownReplica, named map[string]bool, selfReplID string, p prober) error {
	type answer struct {
		role nodeRole
		err  error
	}
	answers := make([]answer, len(replicas))
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() { answers[i].role, answers[i].err = p.role(ctx, r.addr) })
	}
	wg.Wait()
	var unconfirmed []string
	for i, r := range replicas {
		contra, unsure := replicaVerdict(ctx, r, answers[i].role, answers[i].err, named, selfReplID)
		if contra != "" {
			return fmt.Errorf("%w: the replica %s %s", errNotPrimary, r.addr, contra)
		}
		if unsure != "" {
			unconfirmed = append(unconfirmed, fmt.Sprintf("the replica %s %s", r.addr, unsure))
		}
	}
	if len(unconfirmed) > 0 {
		return fmt.Errorf("%w: %s", errUnconfirmed, strings.Join(unconfirmed, "; "))
	}
	return nil
}

// replicaVerdict reads what a known replica answered to ROLE (role, or
// err when it could not be asked): why it contradicts the node (it is a
// primary, or follows another node), or why it leaves the node
// unconfirmed, or neither when it follows the node (see checkReplicas).
func replicaVerdict(ctx context.Context, r knownReplica, role nodeRole, err error, named map[string]bool, selfReplID string) (contra, unsure string) {
	switch {
	case err == nil && role.role == "master" && selfReplID != "" && role.replID2 != "" && role.replID2 != selfReplID:
		return "", "" // a primary with another history: not promoted from the node
	case err == nil && role.role == "slave":
		if followsNode(ctx, role.master, named) {
			return "", ""
		}
		return "follows " + role.master, ""
	case err == nil:
		return "answers ROLE " + role.role, ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return "", "" // no process listens there
	case r.listedBy > 0 && r.downBy == r.listedBy:
		return "", "" // the sentinels cannot reach it either
	case r.reportsMaster != "":
		return fmt.Sprintf("could not be asked (%v), and %s saw it report the master role", err, r.reportsMaster), ""
	}
	return "", fmt.Sprintf("could not be asked (%v), and %d of the %d sentinels listing it see it up", err, r.listedBy-r.downBy, r.listedBy)
}

// followsNode reports whether a replica's primary, host:port, is the node
// as the sentinels name it; a host name is compared by the addresses it
// resolves to, as the sentinels compare it.
func followsNode(ctx context.Context, master string, named map[string]bool) bool {
	if named[master] {
		return true
	}
	host, port, err := net.SplitHostPort(master)
	if err != nil || net.ParseIP(host) != nil {
		return false
	}
	ips, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if named[net.JoinHostPort(ip, port)] {
			return true
		}
	}
	return false
}

// prober asks data nodes directly, as the store's client reaches them.
type prober interface {
	// runID returns the run_id of the node at addr.
	runID(ctx context.Context, addr string) (string, error)
	// role returns the node's answer to ROLE.
	role(ctx context.Context, addr string) (nodeRole, error)
}

// storeProber is the store's prober.
type storeProber struct{ s *Store }

func (p storeProber) runID(ctx context.Context, addr string) (string, error) {
	node, err := p.s.dataNode(addr)
	if err != nil {
		return "", err
	}
	defer node.Close()
	info, err := node.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	id := infoField(info, "run_id")
	if id == "" {
		return "", errors.New("no run_id in its INFO")
	}
	return id, nil
}

func (p storeProber) role(ctx context.Context, addr string) (nodeRole, error) {
	node, err := p.s.dataNode(addr)
	if err != nil {
		return nodeRole{}, err
	}
	defer node.Close()
	v, err := node.Do(ctx, "ROLE").Slice()
	if err != nil {
		return nodeRole{}, err
	}
	r, err := parseRole(v)
	if err != nil || r.role != "master" {
		return r, err
	}
	// A primary: whose replica was it? Without the answer it counts as
	// promoted from the node (replID2 stays "").
	if info, err := node.Info(ctx, "replication").Result(); err == nil {
		r.replID2 = infoField(info, "master_replid2")
	}
	return r, nil
}

// parseRole reads a ROLE answer: a primary's ("master", offset,
// replicas), a replica's ("slave", host, port, state, offset) or a
// sentinel's.
func parseRole(v []any) (nodeRole, error) {
	if len(v) == 0 {
		return nodeRole{}, errors.New("empty ROLE answer")
	}
	role, _ := v[0].(string)
	out := nodeRole{role: role}
	if role == "slave" {
		if len(v) < 3 {
			return nodeRole{}, fmt.Errorf("short ROLE answer of a replica: %v", v)
		}
		host, _ := v[1].(string)
		out.master = net.JoinHostPort(host, fmt.Sprint(v[2]))
	}
	return out, nil
}

// dataNode returns a one-connection client of the data node at addr,
// with the credentials and TLS settings of the store's client; the
// caller closes it.
func (s *Store) dataNode(addr string) (*goredis.Client, error) {
	c, ok := s.client.(*goredis.Client)
	if !ok {
		return nil, fmt.Errorf("cannot reach %s with a %T", addr, s.client)
	}
	o := c.Options()
	return goredis.NewClient(&goredis.Options{
		Addr:                       addr,
		Protocol:                   o.Protocol,
		Username:                   o.Username,
		Password:                   o.Password,
		CredentialsProvider:        o.CredentialsProvider,
		CredentialsProviderContext: o.CredentialsProviderContext,
		TLSConfig:                  o.TLSConfig,
		DialTimeout:                o.DialTimeout,
		ReadTimeout:                o.ReadTimeout,
		WriteTimeout:               o.WriteTimeout,
		MaxRetries:                 -1,
		// One dial: a refused connection is an answer (see
		// replicaVerdict), not a reason to try again.
		DialerRetries:   1,
		PoolSize:        1,
		DisableIdentity: true,
	}), nil
}

// down reports whether a sentinel's flags for a replica show it down.
func down(flags string) bool {
	for f := range strings.SplitSeq(flags, ",") {
		if f == "s_down" || f == "o_down" {
			return true
		}
	}
	return false
}

// troubled reports whether a sentinel's flags for the primary show it
// down or being failed over.
func troubled(flags string) bool {
	for f := range strings.SplitSeq(flags, ",") {
		switch f {
		case "s_down", "o_down", "failover_in_progress", "force_failover":
			return true
		}
	}
	return false
}
