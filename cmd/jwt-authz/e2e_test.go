package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

const corpIss = "https://idp.example.com/"

func corpConfig(jwksURL string, extra string) string {
	return fmt.Sprintf(`
issuer:
  enabled: false
revocation:
  store: memory
providers:
  - name: corp
    issuer: %s
    audiences: [orders-api]
    jwks_uri: %s
    jwks_refresh_interval: 1h
    jwks_min_refresh_interval: 200ms
    jwks_max_stale: 1h
    forward_claims:
      sub: x-jwt-sub
%s`, corpIss, jwksURL, extra)
}

func corpToken(t *testing.T, k *testkit.Key) string {
	return testkit.Sign(t, k, testkit.Claims(corpIss, "alice", "orders-api"), nil)
}

func TestEndToEndKeyRotation(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	k2 := testkit.NewKey(t, "RS256", "k2")
	js := newJWKSServer(t, k1)
	in := start(t, corpConfig(js.URL, ""), "")
	eventually(t, "ready", in.grpcServing)

	if r := reasonOf(in.check(corpToken(t, k1), "/")); r != "ok" {
		t.Fatalf("k1 token: %s", r)
	}
	// A new kid appears after start: the unknown kid triggers a refetch.
	js.set(t, k1, k2)
	// The refetch on an unknown kid waits out jwks_min_refresh_interval.
	eventually(t, "new kid after rotation", func() bool { return reasonOf(in.check(corpToken(t, k2), "/")) == "ok" })
	// k1 leaves the JWKS: after a refresh, its tokens (even cached) fail.
	cached := corpToken(t, k1)
	if r := reasonOf(in.check(cached, "/")); r != "ok" {
		t.Fatal(r)
	}
	js.set(t, k2)
	if status := in.adminJSON("POST", "/admin/jwks/refresh?provider=corp", nil, nil); status != 200 {
		t.Fatalf("refresh: %d", status)
	}
	if r := reasonOf(in.check(cached, "/")); r != "unknown_kid" {
		t.Fatalf("removed kid: %s", r)
	}
	var providers struct {
		Providers []struct {
			Name   string   `json:"name"`
			KeyIDs []string `json:"key_ids"`
		} `json:"providers"`
	}
	in.adminJSON("GET", "/admin/providers", nil, &providers)
	if len(providers.Providers) != 1 || strings.Join(providers.Providers[0].KeyIDs, ",") != "k2" {
		t.Fatalf("providers = %+v", providers)
	}
}

func TestEndToEndUnknownKidBurstFetchesOnce(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	in := start(t, corpConfig(js.URL, ""), "")
	eventually(t, "ready", in.grpcServing)
	before := js.requests.Load()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := testkit.Sign(t, k1, testkit.Claims(corpIss, "a", "orders-api"), map[string]any{"kid": fmt.Sprint("bogus-", i)})
			if r := reasonOf(in.check(tok, "/")); r != "unknown_kid" {
				t.Errorf("bogus kid: %s", r)
			}
		}()
	}
	wg.Wait()
	// 200 unknown kids within well under a second: at most one refetch per
	// 200ms interval, so a handful at most, never one per request.
	if n := js.requests.Load() - before; n > 10 {
		t.Fatalf("%d JWKS fetches for 200 unknown kids", n)
	}
}

func TestEndToEndStaleKeysThenUnavailable(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	// Short refresh and max-stale so the test sees both phases.
	// The stale window is wide enough that a loaded machine cannot pass
	// it between the failed fetch and the Check that follows.
	cfg := strings.Replace(corpConfig(js.URL, ""), "jwks_max_stale: 1h", "jwks_max_stale: 5s", 1)
	cfg = strings.Replace(cfg, "jwks_refresh_interval: 1h", "jwks_refresh_interval: 300ms", 1)
	in2 := start(t, cfg, "")
	eventually(t, "ready", in2.grpcServing)
	tok := corpToken(t, k1)
	if r := reasonOf(in2.check(tok, "/")); r != "ok" {
		t.Fatal(r)
	}
	js.fail(500)
	failed := js.requests.Load()
	eventually(t, "a failed fetch", func() bool { return js.requests.Load() > failed })
	// Stale keys keep serving for a while...
	if r := reasonOf(in2.check(corpToken(t, k1), "/")); r != "ok" {
		t.Fatalf("stale keys: %s", r)
	}
	// ...until jwks_max_stale: then 503 keys_unavailable, and not ready.
	var resp *authv3.CheckResponse
	eventually(t, "keys_unavailable", func() bool {
		resp = in2.check(corpToken(t, k1), "/")
		return reasonOf(resp) == "keys_unavailable"
	})
	if resp.GetStatus().GetCode() != int32(code.Code_UNAVAILABLE) || resp.GetDeniedResponse().GetStatus().GetCode() != 503 {
		t.Fatalf("status %v", resp.GetStatus())
	}
	// Readiness follows from the keys' expiry event, which a loaded
	// machine may run a moment after the Check saw the expired keys.
	var status int
	var body []byte
	eventually(t, "readyz 503 naming the provider", func() bool {
		status, body = do(t, "GET", "http://"+in2.httpAddr+"/readyz", "", nil, nil)
		return status == 503
	})
	if !strings.Contains(string(body), `"providers":{"corp":`) {
		t.Fatalf("readyz %d %s", status, body)
	}
	js.fail(200)
	eventually(t, "recovery", func() bool { return reasonOf(in2.check(tok, "/")) == "ok" })
}

func TestEndToEndReadinessBeforeFirstLoad(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	js.fail(500)
	in := start(t, corpConfig(js.URL, ""), "")
	eventually(t, "a failed fetch", func() bool { return js.requests.Load() > 0 })
	if in.grpcServing() {
		t.Fatal("SERVING before any key was loaded")
	}
	status, body := do(t, "GET", "http://"+in.httpAddr+"/readyz", "", nil, nil)
	if status != 503 || !strings.Contains(string(body), "corp") {
		t.Fatalf("readyz %d %s", status, body)
	}
	if r := reasonOf(in.check(corpToken(t, k1), "/")); r != "keys_unavailable" {
		t.Fatalf("before load: %s", r)
	}
	if status, _ := do(t, "GET", "http://"+in.httpAddr+"/healthz", "", nil, nil); status != 200 {
		t.Fatal("healthz not 200")
	}
	js.fail(200)
	eventually(t, "ready after first load", in.grpcServing)
}

func TestEndToEndConfigReload(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	in := start(t, corpConfig(js.URL, ""), "")
	eventually(t, "ready", in.grpcServing)
	tok := corpToken(t, k1)
	if r := reasonOf(in.check("", "/public")); r != "missing" {
		t.Fatal(r)
	}
	metric := func(result string) string {
		_, body := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, `jwt_authz_config_reload_total{result="`+result+`"}`) {
				return strings.Fields(line)[1]
			}
		}
		return ""
	}
	// A good change: a new anonymous rule applies after SIGHUP.
	good := corpConfig(js.URL, "rules:\n  - match: { path_prefix: /public }\n    allow_anonymous: true\n")
	writeConfig(t, in, good)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reload applied", func() bool { return reasonOf(in.check("", "/public")) == "ok" })
	if metric("success") != "1" {
		t.Fatalf("success count %q", metric("success"))
	}
	// A bad file is refused (seen by the file watcher) and the old config serves.
	writeConfig(t, in, good+"\nbogus_key: 1\n")
	eventually(t, "refused reload counted", func() bool { return metric("error") == "1" })
	if r := reasonOf(in.check("", "/public")); r != "ok" {
		t.Fatalf("after bad reload: %s", r)
	}
	if r := reasonOf(in.check(tok, "/orders")); r != "ok" {
		t.Fatalf("cached provider after reload: %s", r)
	}
	if !strings.Contains(in.logs.String(), "bogus_key") {
		t.Fatal("refusal not logged with its key path")
	}
}

func writeConfig(t *testing.T, in *instance, yaml string) {
	t.Helper()
	yaml = listenAny + yaml + "\ndata_dir: " + in.dataDir + "\n"
	if err := os.WriteFile(in.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEndToEndGracefulShutdown(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	in := start(t, corpConfig(js.URL, "")+"shutdown_delay: 300ms\n", "")
	eventually(t, "ready", in.grpcServing)
	tok := corpToken(t, k1)
	var wg sync.WaitGroup
	var ok, failed, unavailable int64
	var mu sync.Mutex
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := authv3.NewAuthorizationClient(in.conn)
			req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
				Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Headers: map[string]string{"authorization": "Bearer " + tok}},
			}}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := client.Check(ctx, req)
				cancel()
				mu.Lock()
				switch {
				case err == nil && resp.GetStatus().GetCode() == 0:
					ok++
				case err != nil && strings.Contains(err.Error(), "Unavailable"):
					unavailable++ // after the listener closed: the client retries elsewhere
				default:
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	eventually(t, "checks answered", func() bool { mu.Lock(); defer mu.Unlock(); return ok >= 20 })
	// Not ready first, while requests still succeed during the drain delay.
	in.cancel()
	in.cancel = nil
	eventually(t, "not serving", func() bool { return !in.grpcServing() })
	err := <-in.done
	// The clients go on past the end of serve: what they get then is
	// Unavailable, never a failed Check.
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	if failed > 0 || ok == 0 {
		t.Fatalf("ok=%d failed=%d unavailable=%d", ok, failed, unavailable)
	}
}

func TestEndToEndEmbeddedDefault(t *testing.T) {
	dataDir := t.TempDir()
	in := start(t, "", dataDir)
	eventually(t, "ready", in.grpcServing)
	access, refresh := in.mint("alice", "read write")
	resp := in.check(access, "/orders")
	if reasonOf(resp) != "ok" {
		t.Fatalf("minted token: %s", reasonOf(resp))
	}
	// A refresh token is never accepted as an access token.
	// (its aud is the issuer, and its typ is rt+jwt)
	if r := reasonOf(in.check(refresh, "/orders")); r != "bad_audience" && r != "bad_typ" {
		t.Fatalf("refresh token at Check: %s", r)
	}
	info, err := os.Stat(dataDir + "/signing-key.pem")
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("signing key: %v %v", err, info)
	}
	status, body := do(t, "GET", "http://"+in.httpAddr+"/.well-known/jwks.json", "", nil, nil)
	if status != 200 || !strings.Contains(string(body), `"kid"`) {
		t.Fatalf("jwks %d %s", status, body)
	}
	status, body = do(t, "GET", "http://"+in.httpAddr+"/.well-known/openid-configuration", "", nil, nil)
	if status != 200 || !strings.Contains(string(body), "token_endpoint") {
		t.Fatalf("discovery %d %s", status, body)
	}
	// Refresh over the token endpoint.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	status, body = do(t, "POST", "http://"+in.httpAddr+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
	if status != 200 || !strings.Contains(string(body), "access_token") {
		t.Fatalf("refresh %d %s", status, body)
	}
	in.stop()

	// Restart on the same data dir: the same key signs, old tokens verify.
	in2 := start(t, "", dataDir)
	eventually(t, "ready again", in2.grpcServing)
	if r := reasonOf(in2.check(access, "/orders")); r != "ok" {
		t.Fatalf("token after restart: %s", r)
	}
}

func TestEndToEndBadConfigRefused(t *testing.T) {
	path := t.TempDir() + "/bad.yaml"
	os.WriteFile(path, []byte("providers:\n  - name: Corp\n    issuer: x\n  - name: b\n    issuer: y\n    jwks_uri: http://idp.example.com/jwks\n    algorithms: [HS256]\nbogus: 1\n"), 0o600)
	var stdout, stderr strings.Builder
	if code := run([]string{"config", "validate", "--config", path}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"providers[0].name", "providers[0]", "providers[1].jwks_uri", "providers[1].algorithms", "bogus"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, stderr.String())
		}
	}
	stderr.Reset()
	if code := run([]string{"serve", "--config", path}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "providers[1].algorithms") {
		t.Fatalf("serve with bad config: exit %d\n%s", code, stderr.String())
	}
}

func TestCLITokenIssueCheckRevoke(t *testing.T) {
	in := start(t, "", "")
	eventually(t, "ready", in.grpcServing)
	cfgArgs := []string{"--config", in.cfgPath, "--admin-addr", in.adminAddr}
	var out, errOut strings.Builder
	if code := run(append([]string{"token", "issue", "--sub", "alice", "--scope", "read write"}, cfgArgs...), &out, &errOut); code != 0 {
		t.Fatalf("token issue: exit %d: %s", code, errOut.String())
	}
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(out.String()), &pair); err != nil || pair.AccessToken == "" || pair.TokenType != "Bearer" {
		t.Fatalf("token issue output %q: %v", out.String(), err)
	}
	out.Reset()
	if code := run([]string{"check", "--addr", in.grpcAddr, "--token", pair.AccessToken, "--path", "/orders"}, &out, &errOut); code != 0 {
		t.Fatalf("check: exit %d: %s", code, out.String())
	}
	if !strings.HasPrefix(out.String(), "allowed") {
		t.Fatalf("check output %q", out.String())
	}
	out.Reset()
	if code := run(append([]string{"revoke", "--token", pair.AccessToken}, cfgArgs...), &out, &errOut); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"check", "--addr", in.grpcAddr, "--token", pair.AccessToken}, &out, &errOut); code != 1 {
		t.Fatalf("check after revoke: exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), `error_description="revoked"`) || strings.Contains(out.String(), pair.AccessToken) {
		t.Fatalf("check output %q", out.String())
	}
	if code := run([]string{"check", "--addr", in.grpcAddr}, &out, &errOut); code != 1 {
		t.Fatalf("check without token: exit %d", code)
	}
	// Debug logs saw every decision above; none holds a token.
	for _, tok := range []string{pair.AccessToken, pair.RefreshToken} {
		if strings.Contains(in.logs.String(), tok) || strings.Contains(in.logs.String(), strings.Split(tok, ".")[2]) {
			t.Fatal("a token reached the logs")
		}
	}
}
