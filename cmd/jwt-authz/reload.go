package main

import (
	"context"
	"crypto/sha256"
	"os"
	"reflect"
	"time"

	"github.com/jwt-authz/jwt-authz/config"
)

// reload loads the config file again and, when it is valid, swaps in the
// new providers and rules atomically. A bad file is refused and counted;
// the running configuration keeps serving.
func (a *app) reload(trigger string) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	cfg, err := loadConfig(a.cfgPath, a.lookup)
	if err != nil {
		a.reloads.WithLabelValues("error").Inc()
		a.log.Error("config reload refused; the running configuration stays", "trigger", trigger, "err", err)
		return err
	}
	old := a.cfg.Load()
	entries, commit, err := a.providers.build(cfg)
	if err == nil {
		pol, v, perr := buildPolicy(cfg, entries, a.authzM)
		if perr == nil {
			a.verifier.Store(v)
			a.authz.SetPolicy(pol)
			commit(true)
			a.setProviderReadiness(cfg)
		} else {
			commit(false)
		}
		err = perr
	}
	if err != nil {
		a.reloads.WithLabelValues("error").Inc()
		a.log.Error("config reload refused; the running configuration stays", "trigger", trigger, "err", err)
		return err
	}
	if lerr := a.loadAdminToken(cfg); lerr != nil {
		a.log.Error("admin token file unreadable; keeping the previous token", "err", lerr)
		cfg.AdminTokenFile = old.AdminTokenFile
	}
	a.cfg.Store(cfg)
	a.initLogoutMetrics(cfg)
	a.reloads.WithLabelValues("success").Inc()
	for _, key := range restartOnlyChanges(old, cfg) {
		a.log.Warn("config key changed but needs a restart to take effect", "key", key)
	}
	a.log.Info("config reloaded", "trigger", trigger, "providers", len(entries), "rules", len(cfg.Rules))
	return nil
}

// restartOnlyChanges lists keys that a reload cannot apply.
func restartOnlyChanges(old, cur *config.Config) []string {
	var out []string
	check := func(key string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, key)
		}
	}
	check("grpc_addr", old.GRPCAddr, cur.GRPCAddr)
	check("http_addr", old.HTTPAddr, cur.HTTPAddr)
	check("admin_addr", old.AdminAddr, cur.AdminAddr)
	check("metrics_addr", old.MetricsAddr, cur.MetricsAddr)
	check("data_dir", old.DataDir, cur.DataDir)
	check("revocation", old.Revocation, cur.Revocation)
	check("issuer", issuerRestartKeys(old), issuerRestartKeys(cur))
	check("token_cache", old.TokenCache, cur.TokenCache)
	check("log_level", old.LogLevel, cur.LogLevel)
	check("grpc", old.GRPC, cur.GRPC)
	check("http", old.HTTP, cur.HTTP)
	check("decision_log", old.DecisionLog, cur.DecisionLog)
	return out
}

// issuerRestartKeys is the issuer section without the keys of the "self"
// provider's forwarding, which a reload applies with the new policy.
func issuerRestartKeys(c *config.Config) config.Issuer {
	is := c.Issuer
	is.ForwardClaims, is.ForwardPayloadHeader, is.KeepAuthorization = nil, "", nil
	return is
}

// watchConfig reloads on SIGHUP and when the file's content changes (a
// Kubernetes ConfigMap update swaps a symlink, so content is compared, not
// modification times).
// hup delivers SIGHUP; the caller registers it before the listeners serve.
func (a *app) watchConfig(ctx context.Context, hup <-chan os.Signal, poll time.Duration) {
	last := fileDigest(a.cfgPath)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last = fileDigest(a.cfgPath)
			_ = a.reload("sighup")
		case <-t.C:
			d := fileDigest(a.cfgPath)
			if d != last {
				last = d
				_ = a.reload("file_change")
			}
		}
	}
}

func fileDigest(path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}
