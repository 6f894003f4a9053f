package redis

import (
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

func TestNewClientOptions(t *testing.T) {
	tests := map[string]struct {
		url      string
		tls      bool
		password string
		db       int
		dial     time.Duration
	}{
		"plain":                 {url: "redis://redis:6379", dial: dialTimeout},
		"password and db":       {url: "redis://:s3cret@redis:6379/4", password: "s3cret", db: 4, dial: dialTimeout},
		"tls":                   {url: "rediss://user:pw@redis.example.com:6380/1", tls: true, password: "pw", db: 1, dial: dialTimeout},
		"explicit dial timeout": {url: "redis://redis:6379?dial_timeout=7s", dial: 7 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			o := c.Options()
			if (o.TLSConfig != nil) != tc.tls || o.Password != tc.password || o.DB != tc.db || o.DialTimeout != tc.dial {
				t.Fatalf("options: tls %v, password %q, db %d, dial %v", o.TLSConfig != nil, o.Password, o.DB, o.DialTimeout)
			}
			if tc.tls && o.TLSConfig.InsecureSkipVerify {
				t.Fatal("TLS verification is off")
			}
			if o.ReadTimeout != ioTimeout || o.WriteTimeout != ioTimeout {
				t.Fatalf("timeouts: read %v, write %v", o.ReadTimeout, o.WriteTimeout)
			}
		})
	}
}

func TestNewClientErrorsHidePassword(t *testing.T) {
	tests := map[string]string{
		"empty":        "",
		"bad host":     "redis://:hunter2@bad host:6379",
		"bad bracket":  "redis://:hunter2@[::1",
		"wrong scheme": "http://:hunter2@host",
		"bad db":       "redis://:hunter2@host/abc",
	}
	for name, u := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewClient(u)
			if err == nil {
				t.Fatal("NewClient succeeded")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error reveals the password: %v", err)
			}
		})
	}
}

// TestPasswordAndDatabase runs the store through a URL with a password and
// a database number against a server that requires the password.
func TestPasswordAndDatabase(t *testing.T) {
	srv := redisserver.New(t, "--requirepass", "s3cret")
	c, err := NewClient("redis://:s3cret@" + srv.Addr() + "/3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := revocation.Entry{Kind: revocation.KindJTI, Value: "db3", ExpiresAt: time.Now().Add(time.Hour).Unix()}
	if err := s.Put(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	other := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: "s3cret", DB: 0})
	defer other.Close()
	if n, err := other.Exists(t.Context(), DefaultKeyPrefix+"e:jti:db3").Result(); err != nil || n != 0 {
		t.Fatalf("entry found in db 0 (%d, %v); want it in db 3 only", n, err)
	}
	if _, ok, err := s.Get(t.Context(), e.Kind, "", e.Value); err != nil || !ok {
		t.Fatalf("Get through db 3 = %v, %v", ok, err)
	}

	wrong, err := NewClient("redis://:wrong@" + srv.Addr() + "/3")
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	ws, _ := New(wrong, Options{})
	err = ws.Put(t.Context(), e)
	var rerr goredis.Error
	if err == nil || !errors.As(err, &rerr) {
		t.Fatalf("Put with a wrong password = %v, want the server's refusal", err)
	}
}
