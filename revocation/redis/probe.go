package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Topology is how the server is reached.
type Topology int

// The topologies of a Redis deployment.
const (
	Single   Topology = iota // one address (a server, or a primary behind a fixed name)
	Sentinel                 // a primary found through Redis Sentinel
	Cluster                  // a Redis Cluster
)

// Cause says which setting a MisconfigError is about.
type Cause int

// Causes of a MisconfigError.
const (
	CauseTopology         Cause = iota // the address is of another topology
	CauseVersion                       // the server is older than 6.2
	CauseAuth                          // the data nodes refused the user or password, or an ACL denies a command
	CauseMasterName                    // no sentinel monitors a primary of that name
	CauseSentinelPassword              // the sentinels refused the password
)

// MisconfigError is a start-up check failure that waiting will not fix:
// the configuration does not fit the server. Its message is one line and
// never holds a password.
type MisconfigError struct {
	Cause Cause
	Msg   string
}

func (e *MisconfigError) Error() string { return e.Msg }

// MinVersion is the oldest Redis server supported.
const MinVersion = "6.2"

// ServerInfo is what Probe learned about the server.
type ServerInfo struct {
	Version string // redis_version
}

// Probe checks that the server behind c fits topo: reachable with the
// credentials, Redis 6.2 or later, and a Cluster node exactly when topo is
// Cluster. A *MisconfigError says the configuration is wrong; any other
// error is a failure to reach the server, which may pass.
func Probe(ctx context.Context, c goredis.UniversalClient, topo Topology) (ServerInfo, error) {
	server, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ServerInfo{}, classify(err, topo)
	}
	version := infoField(server, "redis_version")
	if !atLeast(version, 6, 2) {
		return ServerInfo{}, &MisconfigError{Cause: CauseVersion,
			Msg: fmt.Sprintf("the server is Redis %s; %s or later is required", orUnknown(version), MinVersion)}
	}
	clusterInfo, err := c.Info(ctx, "cluster").Result()
	if err != nil {
		return ServerInfo{}, classify(err, topo)
	}
	clustered := infoField(clusterInfo, "cluster_enabled") == "1"
	switch {
	case clustered && topo != Cluster:
		return ServerInfo{}, &MisconfigError{Cause: CauseTopology,
			Msg: "the server is a Redis Cluster node; use revocation.redis_cluster"}
	case !clustered && topo == Cluster:
		return ServerInfo{}, &MisconfigError{Cause: CauseTopology,
			Msg: "the server is not in cluster mode; use revocation.redis_url or revocation.redis_sentinel"}
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return ServerInfo{}, classify(err, topo)
	}
	if topo == Cluster {
		// The session store asks these of a primary with no replica
		// connected, before it answers a rotation: an ACL that refuses
		// them is found now rather than in the middle of a failover.
		if err := c.ClusterNodes(ctx).Err(); err != nil {
			return ServerInfo{}, classify(err, topo)
		}
		if err := c.ClusterKeySlot(ctx, "jwt-authz").Err(); err != nil {
			return ServerInfo{}, classify(err, topo)
		}
	}
	return ServerInfo{Version: version}, nil
}

// classify turns a server's error reply that no retry fixes into a
// MisconfigError.
func classify(err error, topo Topology) error {
	msg := err.Error()
	switch {
	case hasReplyPrefix(msg, "NOAUTH"):
		return &MisconfigError{Cause: CauseAuth, Msg: "the server requires a password: " + firstLine(msg)}
	case hasReplyPrefix(msg, "WRONGPASS"), strings.Contains(msg, "AUTH <password> called without any password configured"),
		strings.Contains(msg, "invalid password"):
		return &MisconfigError{Cause: CauseAuth, Msg: "the server refused the user or password: " + firstLine(msg)}
	case hasReplyPrefix(msg, "NOPERM"):
		return &MisconfigError{Cause: CauseAuth, Msg: "the ACL user may not run a command jwt-authz needs: " + firstLine(msg)}
	case hasReplyPrefix(msg, "MOVED") || hasReplyPrefix(msg, "CLUSTERDOWN") && topo != Cluster:
		return &MisconfigError{Cause: CauseTopology, Msg: "the server is a Redis Cluster node; use revocation.redis_cluster"}
	case strings.Contains(msg, "cluster support disabled"):
		return &MisconfigError{Cause: CauseTopology,
			Msg: "the server is not in cluster mode; use revocation.redis_url or revocation.redis_sentinel"}
	}
	return err
}

// CheckSentinels asks the sentinels for the primary named o.MasterName. It
// returns a *MisconfigError when a sentinel refuses the password, or when
// sentinels answer and none knows the name; another error when none
// answers.
func CheckSentinels(ctx context.Context, o SentinelOptions) error {
	var unknown bool
	var errs []error
	sentinels := NewSentinelClients(o)
	defer func() {
		for _, sc := range sentinels {
			_ = sc.Close()
		}
	}()
	for i, sc := range sentinels {
		addr := o.Addrs[i]
		_, err := sc.GetMasterAddrByName(ctx, o.MasterName).Result()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, goredis.Nil):
			unknown = true
		default:
			var me *MisconfigError
			if errors.As(classify(err, Sentinel), &me) && me.Cause == CauseAuth {
				return &MisconfigError{Cause: CauseSentinelPassword,
					Msg: fmt.Sprintf("sentinel %s: %s", addr, me.Msg)}
			}
			errs = append(errs, fmt.Errorf("sentinel %s: %w", addr, err))
		}
	}
	if unknown {
		return &MisconfigError{Cause: CauseMasterName,
			Msg: fmt.Sprintf("no sentinel monitors a primary named %q", o.MasterName)}
	}
	return errors.Join(errs...)
}

func hasReplyPrefix(msg, code string) bool {
	return strings.HasPrefix(msg, code+" ") || strings.HasPrefix(msg, code) && len(msg) == len(code)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return truncate(s)
}

// infoField returns the value of name in an INFO reply, or "".
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// atLeast reports whether version "x.y.z" is at least major.minor.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func orUnknown(s string) string {
	if s == "" {
		return "of unknown version"
	}
	return truncate(s)
}
