package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateListenerLimits(t *testing.T) {
	tests := map[string]struct {
		edit func(c *Config)
		want []string
	}{
		"defaults": {edit: func(*Config) {}},
		"streams": {
			edit: func(c *Config) { c.GRPC.MaxConcurrentStreams = -1 },
			want: []string{"grpc.max_concurrent_streams: must be between 1 and 2147483647"},
		},
		"message size": {
			edit: func(c *Config) { c.GRPC.MaxRecvMsgBytes = 1024 },
			want: []string{"grpc.max_recv_msg_bytes: must be between 65536 and 67108864"},
		},
		"keepalive": {
			edit: func(c *Config) {
				c.GRPC.KeepaliveMinTime = -time.Second
				c.GRPC.KeepaliveTime = 500 * time.Millisecond
				c.GRPC.KeepaliveTimeout = -1
				c.GRPC.MaxConnectionAge = -1
			},
			want: []string{
				"grpc.keepalive_min_time: must be greater than 0",
				"grpc.keepalive_time: must be at least 1s",
				"grpc.keepalive_timeout: must be greater than 0",
				"grpc.max_connection_age: must not be negative",
			},
		},
		"http": {
			edit: func(c *Config) {
				c.HTTP.ReadHeaderTimeout = time.Minute
				c.HTTP.IdleTimeout = -1
				c.HTTP.MaxHeaderBytes = 100
				c.HTTP.MaxBodyBytes = -5
			},
			want: []string{
				"http.idle_timeout: must be greater than 0",
				"http.read_header_timeout: must not exceed http.read_timeout (15s)",
				"http.max_header_bytes: must be between 4096 and 1048576",
				"http.max_body_bytes: must be between 1 and 67108864",
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != strings.Join(tt.want, "\n") {
				t.Fatalf("Validate: %v\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestListenerLimitsFromYAML(t *testing.T) {
	c, err := Parse([]byte("grpc:\n  max_concurrent_streams: 64\n  keepalive_permit_without_stream: false\nhttp:\n  max_body_bytes: 1024\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPC.MaxConcurrentStreams != 64 || c.GRPC.KeepalivePermitWithoutStreamOrDefault() || c.HTTP.MaxBodyBytes != 1024 ||
		c.GRPC.MaxRecvMsgBytes != DefaultGRPCMaxRecvMsgBytes || c.HTTP.ReadHeaderTimeout != DefaultHTTPReadHeaderTimeout {
		t.Fatalf("grpc %+v http %+v", c.GRPC, c.HTTP)
	}
	if _, err := Parse([]byte("grpc:\n  max_concurrent_stream: 64\n")); err == nil || !strings.Contains(err.Error(), "grpc.max_concurrent_stream: unknown key") {
		t.Fatalf("typo: %v", err)
	}
}
