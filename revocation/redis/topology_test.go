package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/storetest"
)

// clusterOptions isolates one test's keys and channel in a Cluster: a hash
// tag of its own, so its keys and shard channel share one slot.
func clusterOptions(t testing.TB, plain bool) Options {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	tag := "{jwt-authz:revocation:test-" + hex.EncodeToString(b[:]) + "}:"
	return Options{KeyPrefix: tag, Channel: tag + "announce", Cluster: true, PlainPubSub: plain}
}

func newClusterClient(t testing.TB, cs *redisserver.ClusterSetup) *goredis.ClusterClient {
	t.Helper()
	c := NewClusterClient(ClusterOptions{Addrs: cs.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newSentinelClient(t testing.TB, st *redisserver.SentinelSetup) *goredis.Client {
	t.Helper()
	c := NewSentinelClient(SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}, Password: st.Password})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func storeOn(t testing.TB, c goredis.UniversalClient, opts Options) *Store {
	t.Helper()
	s, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCluster runs the store contracts against a three-primary Redis
// Cluster, with sharded pub/sub and with the plain fallback, and checks
// that every key of a store lands in one slot.
func TestCluster(t *testing.T) {
	cs := redisserver.NewCluster(t)
	for _, mode := range []struct {
		name  string
		plain bool
	}{{"sharded pubsub", false}, {"plain pubsub", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Run("contract", func(t *testing.T) {
				storetest.Run(t, func(t *testing.T) revocation.Store {
					return storeOn(t, newClusterClient(t, cs), clusterOptions(t, mode.plain))
				})
			})
			t.Run("shared contract", func(t *testing.T) {
				storetest.RunShared(t, func(t *testing.T) revocation.Shared {
					return storeOn(t, newClusterClient(t, cs), clusterOptions(t, mode.plain))
				})
			})
		})
	}
	t.Run("defaults are hash-tagged", func(t *testing.T) {
		s := storeOn(t, newClusterClient(t, cs), Options{Cluster: true})
		if s.prefix != ClusterKeyPrefix || s.channel != ClusterChannel {
			t.Fatalf("prefix %q, channel %q", s.prefix, s.channel)
		}
	})
	t.Run("one slot", func(t *testing.T) {
		c := newClusterClient(t, cs)
		opts := clusterOptions(t, false)
		s := storeOn(t, c, opts)
		exp := time.Now().Add(time.Hour).Unix()
		for _, v := range []string{"a", "b", "c", "d"} {
			if err := s.Put(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: v, ExpiresAt: exp, CreatedAt: 1}); err != nil {
				t.Fatal(err)
			}
		}
		want, err := c.ClusterKeySlot(t.Context(), s.seqKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{s.logKey, s.expKey, s.epochKey, s.entryKey("jti:a"), s.channel} {
			if got, err := c.ClusterKeySlot(t.Context(), k).Result(); err != nil || got != want {
				t.Fatalf("slot of %s = %d, %v; want %d", k, got, err, want)
			}
		}
	})
	t.Run("counts sharded subscribers", func(t *testing.T) {
		opts := clusterOptions(t, false)
		s := storeOn(t, newClusterClient(t, cs), opts)
		subscribeEntries(t, storeOn(t, newClusterClient(t, cs), opts), 1)
		if err := s.batches.refreshSubscribers(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := s.batches.subscribers.Load(); n != 1 {
			t.Fatalf("%d subscribers counted, want 1", n)
		}
	})
	// A plain PUBLISH in a Cluster reaches every node's subscribers: a
	// go-redis ClusterClient subscribes on the primary of the channel's
	// slot, and other clients may sit on any node. The writer counts them
	// all.
	t.Run("counts plain subscribers on every node", func(t *testing.T) {
		opts := clusterOptions(t, true)
		s := storeOn(t, newClusterClient(t, cs), opts)
		for range 2 {
			subscribeEntries(t, storeOn(t, newClusterClient(t, cs), opts), 1)
		}
		primary := cs.PrimaryFor(t, opts.Channel)
		if n := newClient(t, primary.Addr()).PubSubNumSub(t.Context(), opts.Channel).Val()[opts.Channel]; n != 2 {
			t.Fatalf("%d subscribers on the primary of the channel's slot, want the 2 of go-redis", n)
		}
		for _, n := range cs.Nodes {
			if n != primary {
				rawSubscribe(t, n.Addr(), opts)
				break
			}
		}
		if err := s.batches.refreshSubscribers(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := s.batches.subscribers.Load(); n != 3 {
			t.Fatalf("%d subscribers counted, want 3 on two nodes", n)
		}
	})
	t.Run("probe", func(t *testing.T) {
		if _, err := Probe(t.Context(), newClusterClient(t, cs), Cluster); err != nil {
			t.Fatalf("Probe of a Cluster as a Cluster: %v", err)
		}
		single := newClient(t, cs.Addrs()[0])
		_, err := Probe(t.Context(), single, Single)
		wantMisconfig(t, err, CauseTopology, "use revocation.redis_cluster")
	})
	// A user refused CLUSTER NODES could run the store but not the session
	// store's check of a primary without replicas: refused at start-up.
	t.Run("probe refuses an ACL without cluster|nodes", func(t *testing.T) {
		for _, addr := range cs.Addrs() {
			admin := newClient(t, addr)
			if err := admin.Do(t.Context(), "ACL", "SETUSER", "no-nodes", "on", ">pw", "~*", "&*", "+@all", "-cluster|nodes").Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = admin.Do(context.Background(), "ACL", "DELUSER", "no-nodes").Err() })
		}
		c := NewClusterClient(ClusterOptions{Addrs: cs.Addrs(), Username: "no-nodes", Password: "pw"})
		t.Cleanup(func() { _ = c.Close() })
		_, err := Probe(t.Context(), c, Cluster)
		wantMisconfig(t, err, CauseAuth, "NOPERM")
	})
}

// TestSentinel runs the store contracts through a Sentinel-managed primary.
func TestSentinel(t *testing.T) {
	st := redisserver.NewSentinel(t)
	t.Run("contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) revocation.Store {
			return storeOn(t, newSentinelClient(t, st), uniqueOptions(t))
		})
	})
	t.Run("shared contract", func(t *testing.T) {
		storetest.RunShared(t, func(t *testing.T) revocation.Shared {
			return storeOn(t, newSentinelClient(t, st), uniqueOptions(t))
		})
	})
	t.Run("probe", func(t *testing.T) {
		if _, err := Probe(t.Context(), newSentinelClient(t, st), Sentinel); err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if err := CheckSentinels(t.Context(), SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}}); err != nil {
			t.Fatalf("CheckSentinels: %v", err)
		}
	})
	t.Run("unknown master name", func(t *testing.T) {
		err := CheckSentinels(t.Context(), SentinelOptions{MasterName: "nope", Addrs: []string{st.Sentinel.Addr()}})
		wantMisconfig(t, err, CauseMasterName, `no sentinel monitors a primary named "nope"`)
	})
	t.Run("no sentinel reachable", func(t *testing.T) {
		down := redisserver.New(t)
		down.Stop()
		err := CheckSentinels(t.Context(), SentinelOptions{MasterName: st.MasterName, Addrs: []string{down.Addr()}})
		var me *MisconfigError
		if err == nil || errors.As(err, &me) {
			t.Fatalf("CheckSentinels with every sentinel down = %v, want a plain error", err)
		}
	})
}

// TestSentinelPassword checks the sentinels' own password.
func TestSentinelPassword(t *testing.T) {
	st := redisserver.NewSentinel(t)
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: st.Sentinel.Addr()})
	t.Cleanup(func() { _ = sc.Close() })
	if err := sc.Process(t.Context(), goredis.NewStatusCmd(t.Context(), "ACL", "SETUSER", "default", "resetpass", ">sentinel-pw")); err != nil {
		t.Fatal(err)
	}
	o := SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}}
	wantMisconfig(t, CheckSentinels(t.Context(), o), CauseSentinelPassword, "sentinel ")
	o.SentinelPassword = "wrong"
	wantMisconfig(t, CheckSentinels(t.Context(), o), CauseSentinelPassword, "WRONGPASS")
	o.SentinelPassword = "sentinel-pw"
	if err := CheckSentinels(t.Context(), o); err != nil {
		t.Fatalf("CheckSentinels with the password: %v", err)
	}
	c := NewSentinelClient(o)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Set(t.Context(), "jwt-authz:test:sentinel-password", "1", time.Minute).Err(); err != nil {
		t.Fatalf("write through sentinels with a password: %v", err)
	}
}

// TestProbe checks the start-up verdicts on a single server.
func TestProbe(t *testing.T) {
	plain := redisserver.Shared(t)
	t.Run("fits", func(t *testing.T) {
		info, err := Probe(t.Context(), newClient(t, plain), Single)
		if err != nil || !atLeast(info.Version, 6, 2) {
			t.Fatalf("Probe = %+v, %v", info, err)
		}
	})
	t.Run("not a cluster", func(t *testing.T) {
		c := NewClusterClient(ClusterOptions{Addrs: []string{plain}})
		t.Cleanup(func() { _ = c.Close() })
		_, err := Probe(t.Context(), c, Cluster)
		wantMisconfig(t, err, CauseTopology, "not in cluster mode")
	})
	locked := redisserver.New(t, "--requirepass", "s3cret")
	for name, tc := range map[string]struct {
		user, password, want string
	}{
		"no password":    {want: "NOAUTH"},
		"wrong password": {password: "wrong", want: "WRONGPASS"},
		"unknown user":   {user: "nobody", password: "s3cret", want: "WRONGPASS"},
	} {
		t.Run(name, func(t *testing.T) {
			c := goredis.NewClient(&goredis.Options{Addr: locked.Addr(), Username: tc.user, Password: tc.password, MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			_, err := Probe(t.Context(), c, Single)
			wantMisconfig(t, err, CauseAuth, tc.want)
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error repeats the password: %v", err)
			}
		})
	}
	t.Run("acl denies", func(t *testing.T) {
		admin := goredis.NewClient(&goredis.Options{Addr: locked.Addr(), Password: "s3cret"})
		t.Cleanup(func() { _ = admin.Close() })
		if err := admin.Do(t.Context(), "ACL", "SETUSER", "narrow", "on", ">pw", "~*", "+ping", "+client|setname", "+hello", "+auth").Err(); err != nil {
			t.Fatal(err)
		}
		c := goredis.NewClient(&goredis.Options{Addr: locked.Addr(), Username: "narrow", Password: "pw", MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		_, err := Probe(t.Context(), c, Single)
		wantMisconfig(t, err, CauseAuth, "NOPERM")
	})
	t.Run("unreachable is not a misconfiguration", func(t *testing.T) {
		down := redisserver.New(t)
		down.Stop()
		c := goredis.NewClient(&goredis.Options{Addr: down.Addr(), MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		_, err := Probe(t.Context(), c, Single)
		var me *MisconfigError
		if err == nil || errors.As(err, &me) {
			t.Fatalf("Probe of a stopped server = %v, want a plain error", err)
		}
	})
}

func TestAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"6.2.0": true, "6.2.14": true, "7.0.15": true, "10.0.0": true,
		"6.0.16": false, "5.0.7": false, "": false, "x.y": false, "6": false,
	} {
		if got := atLeast(v, 6, 2); got != want {
			t.Errorf("atLeast(%q, 6, 2) = %v, want %v", v, got, want)
		}
	}
}

func wantMisconfig(t *testing.T, err error, cause Cause, contains string) {
	t.Helper()
	var me *MisconfigError
	if !errors.As(err, &me) {
		t.Fatalf("error = %v, want a MisconfigError", err)
	}
	if me.Cause != cause || !strings.Contains(me.Msg, contains) || strings.Contains(me.Msg, "\n") {
		t.Fatalf("MisconfigError{Cause: %d, Msg: %q}, want cause %d and a line containing %q", me.Cause, me.Msg, cause, contains)
	}
}

// TestDocumentedACL runs the shared-store contract as a user with exactly
// the ACL rules CONFIGURATION.md lists.
func TestDocumentedACL(t *testing.T) {
	srv := redisserver.New(t, "--requirepass", "s3cret")
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: "s3cret"})
	t.Cleanup(func() { _ = admin.Close() })
	rules := []any{"ACL", "SETUSER", "jwt-authz", "on", ">pw",
		"+@read", "+@write", "+@scripting", "+@pubsub", "+info", "+ping", "+client|setname", "+wait",
		"~jwt-authz:*", "~{jwt-authz:revocation}:*", "&jwt-authz:*", "&{jwt-authz:revocation}:*"}
	if err := admin.Do(t.Context(), rules...).Err(); err != nil {
		t.Fatal(err)
	}
	newUserClient := func(t testing.TB) *goredis.Client {
		c, err := NewClientUser("redis://:pw@"+srv.Addr(), "jwt-authz")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	if _, err := Probe(t.Context(), newUserClient(t), Single); err != nil {
		t.Fatalf("Probe as the documented user: %v", err)
	}
	storetest.RunShared(t, func(t *testing.T) revocation.Shared {
		return storeOn(t, newUserClient(t), uniqueOptions(t))
	})
}

// TestSentinelTLS runs the store contracts through a Sentinel setup that
// speaks TLS only (clients, replication and the sentinel's own links), and
// checks the start-up probes over it.
func TestSentinelTLS(t *testing.T) {
	x := redisserver.NewTLS(t)
	st := redisserver.NewSentinelTLS(t, x)
	o := SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}, TLS: true, TLSConfig: x.Client}
	newTLSClient := func(t testing.TB) *goredis.Client {
		c := NewSentinelClient(o)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	t.Run("contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) revocation.Store {
			return storeOn(t, newTLSClient(t), uniqueOptions(t))
		})
	})
	t.Run("shared contract", func(t *testing.T) {
		storetest.RunShared(t, func(t *testing.T) revocation.Shared {
			return storeOn(t, newTLSClient(t), uniqueOptions(t))
		})
	})
	t.Run("probe", func(t *testing.T) {
		if err := CheckSentinels(t.Context(), o); err != nil {
			t.Fatalf("CheckSentinels over TLS: %v", err)
		}
		if _, err := Probe(t.Context(), newTLSClient(t), Sentinel); err != nil {
			t.Fatalf("Probe over TLS: %v", err)
		}
	})
	t.Run("plain client refused", func(t *testing.T) {
		plain := o
		plain.TLS = false
		if err := CheckSentinels(t.Context(), plain); err == nil {
			t.Fatal("a client without TLS reached the sentinel")
		}
	})
	t.Run("unknown authority refused", func(t *testing.T) {
		other := o
		other.TLSConfig = redisserver.NewTLS(t).Client
		if err := CheckSentinels(t.Context(), other); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("CheckSentinels trusting another authority = %v, want a certificate error", err)
		}
	})
}

// TestClusterTLS runs the store contracts against a three-primary Cluster
// that speaks TLS only (clients and the Cluster bus), with sharded pub/sub,
// and checks the start-up probe over it.
func TestClusterTLS(t *testing.T) {
	x := redisserver.NewTLS(t)
	cs := redisserver.NewClusterTLS(t, x)
	newTLSClient := func(t testing.TB) *goredis.ClusterClient {
		c := NewClusterClient(ClusterOptions{Addrs: cs.Addrs(), TLS: true, TLSConfig: x.Client})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	t.Run("contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) revocation.Store {
			return storeOn(t, newTLSClient(t), clusterOptions(t, false))
		})
	})
	t.Run("shared contract", func(t *testing.T) {
		storetest.RunShared(t, func(t *testing.T) revocation.Shared {
			return storeOn(t, newTLSClient(t), clusterOptions(t, false))
		})
	})
	t.Run("probe", func(t *testing.T) {
		if _, err := Probe(t.Context(), newTLSClient(t), Cluster); err != nil {
			t.Fatalf("Probe over TLS: %v", err)
		}
	})
	t.Run("plain client refused", func(t *testing.T) {
		c := NewClusterClient(ClusterOptions{Addrs: cs.Addrs()})
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Ping(t.Context()).Err(); err == nil {
			t.Fatal("a client without TLS reached the Cluster")
		}
	})
}
