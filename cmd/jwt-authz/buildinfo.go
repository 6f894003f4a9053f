package main

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

func goVersion() string { return runtime.Version() }

// revision is the commit set at build time, or the VCS revision Go
// recorded.
func revision() string {
	if commit != "unknown" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return commit
}

// buildInfo is jwt_authz_build_info{version,revision,goversion} = 1.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jwt_authz_build_info",
		Help: "Build information of the running binary; always 1.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(version, revision(), goVersion()).Set(1)
	return g
}
