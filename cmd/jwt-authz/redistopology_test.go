package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// TestOpenRedisRefusesMisconfiguration checks that a Redis configuration
// that cannot work stops start-up with one line naming the key, while an
// unreachable Redis does not.
func TestOpenRedisRefusesMisconfiguration(t *testing.T) {
	cs := redisserver.NewCluster(t)
	st := redisserver.NewSentinel(t)
	plain := redisserver.Shared(t)
	locked := redisserver.New(t, "--requirepass", "s3cret")
	down := redisserver.New(t)
	down.Stop()
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		rev  config.Revocation
		want string // "" = starts
	}{
		"cluster node as redis_url": {
			rev:  config.Revocation{RedisURL: "redis://" + cs.Addrs()[0]},
			want: "revocation.redis_url: the server is a Redis Cluster node; use revocation.redis_cluster",
		},
		"single server as redis_cluster": {
			rev:  config.Revocation{RedisCluster: &config.RedisCluster{Addrs: []string{plain}}},
			want: "revocation.redis_cluster: the server is not in cluster mode",
		},
		"unknown sentinel primary": {
			rev:  config.Revocation{RedisSentinel: &config.RedisSentinel{MasterName: "nope", Addrs: []string{st.Sentinel.Addr()}}},
			want: `revocation.redis_sentinel.master_name: no sentinel monitors a primary named "nope"`,
		},
		"password missing": {
			rev:  config.Revocation{RedisURL: "redis://" + locked.Addr()},
			want: "revocation.redis_url: the server requires a password",
		},
		"password wrong": {
			rev:  config.Revocation{RedisURL: "redis://:wrong@" + locked.Addr()},
			want: "revocation.redis_url: the server refused the user or password",
		},
		"acl user refused": {
			rev:  config.Revocation{RedisURL: "redis://" + locked.Addr(), RedisUsername: "nobody"},
			want: "revocation.redis_url (user nobody in revocation.redis_username): the server requires a password",
		},
		"password file missing": {
			rev:  config.Revocation{RedisCluster: &config.RedisCluster{Addrs: cs.Addrs(), PasswordFile: pwFile + ".missing"}},
			want: "revocation.redis_cluster.password_file: open ",
		},
		"cluster": {rev: config.Revocation{RedisCluster: &config.RedisCluster{Addrs: cs.Addrs()[:1]}}},
		"sentinel": {
			rev: config.Revocation{RedisSentinel: &config.RedisSentinel{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}}},
		},
		"unreachable starts degraded": {rev: config.Revocation{RedisURL: "redis://" + down.Addr()}},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := openRedis(tc.rev, log)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("openRedis: %v", err)
				}
				_ = c.Close()
				return
			}
			if err == nil {
				_ = c.Close()
				t.Fatalf("openRedis succeeded, want %q", tc.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "wrong") && name != "password file missing" {
				t.Fatalf("error %q, want one line starting %q", msg, tc.want)
			}
		})
	}
}

// TestReplicasOnSentinelAndCluster runs two replicas on a Sentinel setup
// and on a Redis Cluster: a revocation made through one is enforced by the
// other, and of concurrent refreshes of one token through both, exactly one
// wins.
func TestReplicasOnSentinelAndCluster(t *testing.T) {
	topologies := map[string]func(t *testing.T) string{
		"sentinel": func(t *testing.T) string {
			st := redisserver.NewSentinel(t)
			return fmt.Sprintf("  redis_sentinel:\n    master_name: %s\n    addrs: [%s]\n", st.MasterName, st.Sentinel.Addr())
		},
		"cluster": func(t *testing.T) string {
			cs := redisserver.NewCluster(t)
			return fmt.Sprintf("  redis_cluster:\n    addrs: [%s]\n", strings.Join(cs.Addrs(), ", "))
		},
	}
	for name, topology := range topologies {
		t.Run(name, func(t *testing.T) {
			keyFile := filepath.Join(t.TempDir(), "signing-key.pem")
			corp := newLogoutIdP(t, corpIss, "corp-1")
			partner := newLogoutIdP(t, partnerIss, "partner-1")
			cfg := fmt.Sprintf("revocation:\n  store: redis\n%sissuer:\n  issuer: http://authz.test\n  signing_key_file: %s\n", topology(t), keyFile) +
				logoutProviders(corp, partner)
			a := start(t, cfg, "")
			eventually(t, "replica ready", a.grpcServing)
			b := start(t, cfg, "")
			eventually(t, "replica ready", b.grpcServing)

			access, refresh := a.mint("alice", "read")
			if got := reasonOf(b.check(access, "/")); got != "ok" {
				t.Fatalf("before revoke: %s", got)
			}
			if status := a.adminJSON("POST", "/admin/revocations", map[string]any{"token": access}, nil); status != 201 {
				t.Fatalf("revoke: %d", status)
			}
			eventually(t, "revocation applied on the other replica", func() bool { return reasonOf(b.check(access, "/")) == "revoked" })

			refreshRace(t, []*instance{a, b}, refresh, 20)

			// A back-channel logout at one replica reaches the other, and
			// its token is single use across both.
			session := corp.access(t, "alice", "sess-1")
			lt := corp.logoutToken(t, "alice", "sess-1")
			if status, body := b.postLogout(lt); status != 200 {
				t.Fatalf("logout: %d %s", status, body)
			}
			eventually(t, "logout applied on the other replica", func() bool { return reasonOf(a.check(session, "/")) == "revoked" })
			if status, body := a.postLogout(lt); status != 400 || !strings.Contains(body, "jti was already used") {
				t.Fatalf("replay at the other replica: %d %s", status, body)
			}
			if got := reasonOf(a.check(partner.access(t, "alice", "sess-1"), "/")); got != "ok" {
				t.Fatalf("the same sid at another provider: %s", got)
			}
		})
	}
}
