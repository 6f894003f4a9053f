package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// validateRedis checks the Redis topology of store: redis: exactly one of
// redis_url, redis_sentinel and redis_cluster, each complete.
func (r *Revocation) validateRedis(p *problems) {
	var set []string
	if r.RedisURL != "" {
		set = append(set, "redis_url")
	}
	if r.RedisSentinel != nil {
		set = append(set, "redis_sentinel")
	}
	if r.RedisCluster != nil {
		set = append(set, "redis_cluster")
	}
	switch len(set) {
	case 0:
		p.add("revocation", "store: redis needs one of redis_url, redis_sentinel or redis_cluster")
		return
	case 1:
	default:
		p.add("revocation", "set only one of redis_url, redis_sentinel or redis_cluster, not %s", strings.Join(set, " and "))
		return
	}
	if r.RedisUsername != "" && strings.ContainsAny(r.RedisUsername, " \t\r\n") {
		p.add("revocation.redis_username", "must not contain white space")
	}
	switch {
	case r.RedisURL != "":
		if msg := redisURLProblem(r.RedisURL); msg != "" {
			p.add("revocation.redis_url", "%s", msg)
		} else if u, err := url.Parse(r.RedisURL); err == nil && u.User.Username() != "" && r.RedisUsername != "" && u.User.Username() != r.RedisUsername {
			p.add("revocation.redis_username", "differs from the user named in revocation.redis_url; set it in one place")
		}
	case r.RedisSentinel != nil:
		s := r.RedisSentinel
		const path = "revocation.redis_sentinel"
		if strings.TrimSpace(s.MasterName) == "" {
			p.add(path+".master_name", "is required: the name the sentinels monitor the primary under")
		}
		hostPorts(p, path+".addrs", s.Addrs)
	case r.RedisCluster != nil:
		c := r.RedisCluster
		const path = "revocation.redis_cluster"
		hostPorts(p, path+".addrs", c.Addrs)
	}
}

// hostPorts checks a non-empty list of host:port addresses.
func hostPorts(p *problems, path string, addrs []string) {
	if len(addrs) == 0 {
		p.add(path, "needs at least one host:port")
		return
	}
	for i, a := range addrs {
		if msg := hostPortProblem(a); msg != "" {
			p.add(fmt.Sprintf("%s[%d]", path, i), "%s %s", quote(a), msg)
		}
	}
}

func hostPortProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "must be host:port, such as redis-0.redis:6379"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "port must be a number from 1 to 65535"
	}
	return ""
}
