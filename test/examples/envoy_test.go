package examples

import (
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"

	// The typed configs the examples use: protojson resolves each "@type"
	// through the global registry, so every extension must be linked in.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
)

// loadBootstrap decodes an Envoy bootstrap strictly and validates it and
// every typed config inside it.
func loadBootstrap(doc []byte) (*bootstrapv3.Bootstrap, error) {
	b := &bootstrapv3.Bootstrap{}
	if err := decodeStrict(doc, b); err != nil {
		return nil, err
	}
	if err := validateDeep(b); err != nil {
		return nil, err
	}
	return b, nil
}

func envoyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "envoy", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("examples/envoy holds %d bootstraps, want grpc.yaml and http.yaml", len(files))
	}
	return files
}

// TestEnvoyBootstrapsDecode decodes every file under examples/envoy into
// bootstrap/v3.Bootstrap with every Any resolved, then ValidateAll.
func TestEnvoyBootstrapsDecode(t *testing.T) {
	for _, f := range envoyFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := loadBootstrap(readFile(t, f)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// listenerParts is what the safety checks look at in one listener.
type listenerParts struct {
	hcm     *hcmv3.HttpConnectionManager
	authz   *extauthzv3.ExtAuthz
	filters []string
}

func httpManagers(t *testing.T, b *bootstrapv3.Bootstrap) []listenerParts {
	t.Helper()
	var out []listenerParts
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
					continue
				}
				p := listenerParts{hcm: hcm}
				for _, hf := range hcm.GetHttpFilters() {
					p.filters = append(p.filters, hf.GetName())
					a := &extauthzv3.ExtAuthz{}
					if hf.GetTypedConfig().UnmarshalTo(a) == nil {
						p.authz = a
					}
				}
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no http_connection_manager")
	}
	return out
}

// TestEnvoySafetySettings holds each bootstrap to the settings that keep it
// closed: the path view jwt-authz relies on, fail-closed ext_authz over the
// v3 API, the health route alone exempt, a guarded cluster.
func TestEnvoySafetySettings(t *testing.T) {
	for _, f := range envoyFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := loadBootstrap(readFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range httpManagers(t, b) {
				checkPathHandling(t, p.hcm)
				if p.authz == nil {
					t.Fatal("no envoy.filters.http.ext_authz filter")
				}
				if last := p.filters[len(p.filters)-1]; last != "envoy.filters.http.router" {
					t.Errorf("last HTTP filter is %s, want the router", last)
				}
				checkExtAuthz(t, p.authz)
				checkHealthRoute(t, p.hcm.GetRouteConfig())
				checkCluster(t, b, p.authz)
			}
		})
	}
}

func checkPathHandling(t *testing.T, hcm *hcmv3.HttpConnectionManager) {
	t.Helper()
	if !hcm.GetNormalizePath().GetValue() {
		t.Error("normalize_path is not true")
	}
	if !hcm.GetMergeSlashes() {
		t.Error("merge_slashes is not true")
	}
	switch a := hcm.GetPathWithEscapedSlashesAction(); a {
	case hcmv3.HttpConnectionManager_REJECT_REQUEST, hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
	default:
		t.Errorf("path_with_escaped_slashes_action is %s", a)
	}
}

func checkExtAuthz(t *testing.T, a *extauthzv3.ExtAuthz) {
	t.Helper()
	if a.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		t.Errorf("transport_api_version is %s, want V3", a.GetTransportApiVersion())
	}
	if a.GetFailureModeAllow() {
		t.Error("failure_mode_allow is true: an unreachable jwt-authz would let every request through")
	}
	if a.GetStatusOnError().GetCode() != typev3.StatusCode_ServiceUnavailable {
		t.Errorf("status_on_error is %v, want 503", a.GetStatusOnError().GetCode())
	}
	switch {
	case a.GetGrpcService() != nil:
		if a.GetGrpcService().GetTimeout() == nil {
			t.Error("grpc_service has no timeout")
		}
		if !a.GetIncludePeerCertificate() {
			t.Error("include_peer_certificate is false")
		}
	case a.GetHttpService() != nil:
		hs := a.GetHttpService()
		if hs.GetPathPrefix() != "/authz" {
			t.Errorf("http_service.path_prefix is %q, want /authz", hs.GetPathPrefix())
		}
		if hs.GetServerUri().GetTimeout() == nil {
			t.Error("http_service.server_uri has no timeout")
		}
		for _, h := range hs.GetAuthorizationRequest().GetHeadersToAdd() {
			if n := strings.ToLower(h.GetKey()); n == "x-original-uri" || n == "x-forwarded-uri" {
				t.Errorf("http_service adds %s: /authz answers such a check 400", n)
			}
		}
		if !matchesAny(a.GetAllowedHeaders(), "authorization") {
			t.Error("allowed_headers does not pass authorization")
		}
		for _, h := range []string{"x-original-uri", "x-forwarded-uri"} {
			if matchesAny(a.GetAllowedHeaders(), h) && !matchesAny(a.GetDisallowedHeaders(), h) {
				t.Errorf("%s may be sent to /authz", h)
			}
		}
		if !matchesAny(hs.GetAuthorizationResponse().GetAllowedUpstreamHeaders(), "x-jwt-sub") {
			t.Error("authorization_response.allowed_upstream_headers does not pass the claim headers (x-jwt-*)")
		}
		if !matchesAny(hs.GetAuthorizationResponse().GetAllowedClientHeaders(), "www-authenticate") {
			t.Error("authorization_response.allowed_client_headers does not pass www-authenticate")
		}
	default:
		t.Error("ext_authz has neither grpc_service nor http_service")
	}
}

// matchesAny reports whether one of the list's patterns matches the
// lower-case header name h.
func matchesAny(l *matcherv3.ListStringMatcher, h string) bool {
	for _, p := range l.GetPatterns() {
		switch {
		case p.GetExact() != "" && strings.EqualFold(p.GetExact(), h):
			return true
		case p.GetPrefix() != "" && strings.HasPrefix(h, strings.ToLower(p.GetPrefix())):
			return true
		}
	}
	return false
}

// checkHealthRoute wants ext_authz disabled on exactly the /healthz route
// and on no other.
func checkHealthRoute(t *testing.T, rc *routev3.RouteConfiguration) {
	t.Helper()
	var exempt []string
	for _, vh := range rc.GetVirtualHosts() {
		if _, ok := vh.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]; ok {
			t.Errorf("virtual host %s overrides ext_authz for all its routes", vh.GetName())
		}
		for _, r := range vh.GetRoutes() {
			cfg, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
			if !ok {
				continue
			}
			per := &extauthzv3.ExtAuthzPerRoute{}
			if err := cfg.UnmarshalTo(per); err != nil {
				t.Fatalf("route %v: %v", r.GetMatch(), err)
			}
			if per.GetDisabled() {
				exempt = append(exempt, r.GetMatch().GetPath())
			}
		}
	}
	if len(exempt) != 1 || exempt[0] != "/healthz" {
		t.Errorf("ext_authz is disabled on %q, want the exact path /healthz alone", exempt)
	}
}

// checkCluster wants the authorization server's cluster health-checked and
// behind circuit breakers; a gRPC one speaks HTTP/2 and asks the
// Authorization service's health.
func checkCluster(t *testing.T, b *bootstrapv3.Bootstrap, a *extauthzv3.ExtAuthz) {
	t.Helper()
	name := a.GetGrpcService().GetEnvoyGrpc().GetClusterName()
	if name == "" {
		name = a.GetHttpService().GetServerUri().GetCluster()
	}
	var c *clusterv3.Cluster
	for _, x := range b.GetStaticResources().GetClusters() {
		if x.GetName() == name {
			c = x
		}
	}
	if c == nil {
		t.Fatalf("ext_authz names cluster %q, which is not defined", name)
	}
	if len(c.GetHealthChecks()) == 0 {
		t.Errorf("cluster %s has no health_checks", name)
	}
	if len(c.GetCircuitBreakers().GetThresholds()) == 0 {
		t.Errorf("cluster %s has no circuit_breakers", name)
	}
	if a.GetGrpcService() == nil {
		return
	}
	if c.GetHealthChecks()[0].GetGrpcHealthCheck().GetServiceName() != "envoy.service.auth.v3.Authorization" {
		t.Errorf("cluster %s does not health-check envoy.service.auth.v3.Authorization over gRPC", name)
	}
	opts := &httpv3.HttpProtocolOptions{}
	anyOpts, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok || anyOpts.UnmarshalTo(opts) != nil || opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("cluster %s does not speak HTTP/2", name)
	}
}

// TestEnvoyMisspeltFieldFails proves the decoding strict: a misspelt field,
// at the top or inside a typed config, is an error.
func TestEnvoyMisspeltFieldFails(t *testing.T) {
	doc := string(readFile(t, filepath.Join(repoRoot(t), "examples", "envoy", "grpc.yaml")))
	for _, c := range []struct{ from, to string }{
		{"static_resources:", "static_resource:"},
		{"failure_mode_allow: false", "failure_mode_alow: false"},
		{"merge_slashes: true", "merge_slash: true"},
		{"disabled: true", "disable: true"},
		{"ext_authz.v3.ExtAuthz\n", "ext_authz.v3.ExtAuth\n"},
		{"ext_authz.v3.ExtAuthzPerRoute", "ext_authz.v3.ExtAuthzPerRout"},
		{"transport_api_version: V3", "transport_api_version: V4"},
		{"unhealthy_threshold: 2", "unhealthy_threshold: -2"},
		// Decodes, but breaks a constraint ValidateAll checks.
		{"- timeout: 1s\n          interval: 5s", "- interval: 5s"},
		{"cluster_name: jwt-authz }", "cluster_name: \"\" }"},
	} {
		from, to := c.from, c.to
		if !strings.Contains(doc, from) {
			t.Fatalf("grpc.yaml no longer contains %q", from)
		}
		bad := strings.Replace(doc, from, to, 1)
		if _, err := loadBootstrap([]byte(bad)); err == nil {
			t.Errorf("%q -> %q decoded without error", from, to)
		} else {
			t.Logf("%q -> %q: %v", from, to, err)
		}
	}
}

// TestEnvoyValidateReachesTypedConfigs proves validateDeep looks inside an
// Any: a typed config that decodes but breaks a constraint fails.
func TestEnvoyValidateReachesTypedConfigs(t *testing.T) {
	inner, err := anypb.New(&extauthzv3.ExtAuthz{
		Services: &extauthzv3.ExtAuthz_GrpcService{GrpcService: &corev3.GrpcService{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := validateDeep(b); err != nil {
		t.Fatalf("empty bootstrap: %v", err)
	}
	if err := validateDeep(inner); err == nil {
		t.Fatal("a grpc_service without a target passed validation")
	}
}
