package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/health"
	"github.com/jwt-authz/jwt-authz/jwks"
)

// Readiness components: the revocation store, and one member of the
// providers group per provider.
const (
	readinessStore     = "store"
	readinessProviders = "providers"
)

// newHealth returns the readiness checker; its gRPC service answers for the
// server as a whole ("") and for the ext_authz service.
func newHealth() *health.Checker {
	return health.New(health.Options{Services: []string{authv3.Authorization_ServiceDesc.ServiceName}})
}

// setProviderReadiness makes the providers in force, except those marked
// optional, gate readiness. Call it whenever the provider set changes.
func (a *app) setProviderReadiness(cfg *config.Config) {
	optional := map[string]bool{}
	for _, p := range cfg.Providers {
		optional[p.Name] = p.Optional
	}
	members := map[string]health.Component{}
	for _, e := range a.providers.current() {
		name := e.authz.Name()
		members[name] = health.Component{Probe: keysProbe(e.source), Optional: optional[name]}
	}
	a.health.SetGroup(readinessProviders, members)
}

// keysProbe reports whether a provider has usable keys and, while it has,
// when they go stale.
func keysProbe(src keySource) health.Probe {
	return func() (time.Time, error) {
		st := src.Status()
		switch {
		case st.Ready:
			return st.StaleAt, nil
		case len(st.KeyIDs) > 0 && !st.StaleAt.IsZero():
			msg := "keys stale since " + st.StaleAt.UTC().Format(time.RFC3339) + " (jwks_max_stale)"
			if st.LastError != "" {
				msg += ": " + st.LastError
			}
			return time.Time{}, errors.New(msg)
		case strings.Contains(st.LastError, jwks.ErrNoUsableKeys.Error()):
			return time.Time{}, errors.New(st.LastError)
		case st.LastError != "":
			return time.Time{}, fmt.Errorf("no usable keys: %s", st.LastError)
		default:
			return time.Time{}, errors.New("no usable keys yet")
		}
	}
}
