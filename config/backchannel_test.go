package config

import (
	"strings"
	"testing"
)

func TestBackchannelLogoutRateLimit(t *testing.T) {
	zero := 0
	tests := map[string]struct {
		yaml string
		// check runs on the loaded config when want is empty.
		check func(t *testing.T, r BackchannelLogoutRateLimit)
		want  []string
	}{
		"defaults": {
			check: func(t *testing.T, r BackchannelLogoutRateLimit) {
				if r.PerClient() != 100 || r.Burst != 1000 || r.Total() != 500 || r.TotalBurst != 2000 || r.MaxClients != 10000 || r.ClientIPHeader != "" {
					t.Errorf("defaults %+v (per client %d, total %d)", r, r.PerClient(), r.Total())
				}
			},
		},
		"set": {
			yaml: "backchannel_logout_rate_limit:\n  requests_per_second: 2\n  burst: 3\n  total_requests_per_second: 4\n  total_burst: 5\n  max_clients: 6\n  client_ip_header: x-forwarded-for\n",
			check: func(t *testing.T, r BackchannelLogoutRateLimit) {
				if r.PerClient() != 2 || r.Burst != 3 || r.Total() != 4 || r.TotalBurst != 5 || r.MaxClients != 6 || r.ClientIPHeader != "x-forwarded-for" {
					t.Errorf("loaded %+v", r)
				}
			},
		},
		"zero turns each limit off": {
			yaml: "backchannel_logout_rate_limit:\n  requests_per_second: 0\n  total_requests_per_second: 0\n",
			check: func(t *testing.T, r BackchannelLogoutRateLimit) {
				if *r.RequestsPerSecond != zero || *r.TotalRequestsPerSecond != zero {
					t.Errorf("loaded %+v", r)
				}
			},
		},
		"out of range": {
			yaml: "backchannel_logout_rate_limit:\n  requests_per_second: -1\n  burst: 2000000\n  total_requests_per_second: 1000001\n  total_burst: -3\n  max_clients: -1\n  client_ip_header: \"x forwarded\"\n",
			want: []string{
				"backchannel_logout_rate_limit.requests_per_second: must be between 0 (no limit) and 1000000",
				"backchannel_logout_rate_limit.total_requests_per_second: must be between 0 (no limit) and 1000000",
				"backchannel_logout_rate_limit.burst: must be between 1 and 1000000",
				"backchannel_logout_rate_limit.total_burst: must be between 1 and 1000000",
				"backchannel_logout_rate_limit.max_clients: must be between 1 and 10000000",
				"backchannel_logout_rate_limit.client_ip_header: ",
			},
		},
		"unknown key": {
			yaml: "backchannel_logout_rate_limit:\n  rps: 5\n",
			want: []string{"backchannel_logout_rate_limit.rps"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				tt.check(t, c.BackchannelLogoutRateLimit)
				return
			}
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
