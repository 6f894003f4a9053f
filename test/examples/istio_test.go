package examples

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	"sigs.k8s.io/yaml"
)

// splitDocs splits a YAML stream into its non-empty documents.
func splitDocs(stream []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), stream...), []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(d []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(d, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// istioResource is one Kubernetes object of an Istio kind, its envelope
// checked and its spec kept as JSON for the strict decode.
type istioResource struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   istioObjectMeta `json:"metadata"`
	Spec       jsonRaw         `json:"spec"`
}

type istioObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type jsonRaw []byte

func (r *jsonRaw) UnmarshalJSON(b []byte) error { *r = append((*r)[:0], b...); return nil }

// decodeAuthorizationPolicy decodes one AuthorizationPolicy document
// strictly: the envelope refuses unknown keys, the spec is decoded by
// protojson into istio.io/api's type.
func decodeAuthorizationPolicy(doc []byte) (*istioResource, *securityv1beta1.AuthorizationPolicy, error) {
	var r istioResource
	if err := yaml.UnmarshalStrict(doc, &r); err != nil {
		return nil, nil, fmt.Errorf("envelope: %w", err)
	}
	if r.Kind != "AuthorizationPolicy" {
		return nil, nil, fmt.Errorf("kind %q, want AuthorizationPolicy", r.Kind)
	}
	if r.APIVersion != "security.istio.io/v1" && r.APIVersion != "security.istio.io/v1beta1" {
		return nil, nil, fmt.Errorf("apiVersion %q", r.APIVersion)
	}
	if r.Metadata.Name == "" {
		return nil, nil, fmt.Errorf("metadata.name is empty")
	}
	ap := &securityv1beta1.AuthorizationPolicy{}
	if err := strict.Unmarshal(r.Spec, ap); err != nil {
		return nil, nil, fmt.Errorf("%s spec: %w", r.Metadata.Name, err)
	}
	return &r, ap, nil
}

// checkCustomPolicy holds a policy to what makes a CUSTOM policy call the
// provider: the action, a provider name, at least one rule, and one way to
// pick workloads.
func checkCustomPolicy(ap *securityv1beta1.AuthorizationPolicy, providers []string) error {
	if ap.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM {
		return fmt.Errorf("action %s, want CUSTOM", ap.GetAction())
	}
	name := ap.GetProvider().GetName()
	if !slices.Contains(providers, name) {
		return fmt.Errorf("provider.name %q is not one of the extension providers %q", name, providers)
	}
	if len(ap.GetRules()) == 0 {
		return fmt.Errorf("no rules: a CUSTOM policy without rules never calls the provider")
	}
	hasSel := len(ap.GetSelector().GetMatchLabels()) > 0
	hasRefs := len(ap.GetTargetRefs()) > 0 || ap.GetTargetRef() != nil
	if hasSel == hasRefs {
		return fmt.Errorf("want exactly one of selector and targetRefs")
	}
	return nil
}

// decodeMeshConfigValues decodes the istiod values document holding
// meshConfig strictly into mesh/v1alpha1.MeshConfig.
func decodeMeshConfigValues(doc []byte) (*meshv1alpha1.MeshConfig, error) {
	var top map[string]jsonRaw
	if err := yaml.Unmarshal(doc, &top); err != nil {
		return nil, err
	}
	for k := range top {
		if k != "meshConfig" {
			return nil, fmt.Errorf("unknown top-level key %q, want meshConfig alone", k)
		}
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := strict.Unmarshal(top["meshConfig"], mc); err != nil {
		return nil, fmt.Errorf("meshConfig: %w", err)
	}
	return mc, nil
}

// checkMeshConfig wants every jwt-authz provider fail closed with 503 and a
// timeout, the HTTP form on /authz without the headers /authz refuses, and
// a path normalization that resolves dot segments.
func checkMeshConfig(mc *meshv1alpha1.MeshConfig) (providers []string, err error) {
	for _, p := range mc.GetExtensionProviders() {
		providers = append(providers, p.GetName())
		if g := p.GetEnvoyExtAuthzGrpc(); g != nil {
			if g.GetFailOpen() || g.GetStatusOnError() != "503" || g.GetTimeout() == nil || g.GetService() == "" || g.GetPort() == 0 {
				return nil, fmt.Errorf("%s: want service, port, timeout, failOpen false, statusOnError 503", p.GetName())
			}
		}
		if h := p.GetEnvoyExtAuthzHttp(); h != nil {
			if h.GetFailOpen() || h.GetStatusOnError() != "503" || h.GetTimeout() == nil || h.GetService() == "" || h.GetPort() == 0 {
				return nil, fmt.Errorf("%s: want service, port, timeout, failOpen false, statusOnError 503", p.GetName())
			}
			if h.GetPathPrefix() != "/authz" {
				return nil, fmt.Errorf("%s: pathPrefix %q, want /authz", p.GetName(), h.GetPathPrefix())
			}
			if !slices.Contains(h.GetIncludeRequestHeadersInCheck(), "authorization") {
				return nil, fmt.Errorf("%s: includeRequestHeadersInCheck lacks authorization", p.GetName())
			}
			for _, hd := range append(h.GetIncludeRequestHeadersInCheck(), keys(h.GetIncludeAdditionalHeadersInCheck())...) {
				if l := strings.ToLower(hd); l == "x-original-uri" || l == "x-forwarded-uri" {
					return nil, fmt.Errorf("%s: sends %s, which /authz answers 400", p.GetName(), hd)
				}
			}
			if len(h.GetHeadersToUpstreamOnAllow()) == 0 || !slices.Contains(h.GetHeadersToDownstreamOnDeny(), "www-authenticate") {
				return nil, fmt.Errorf("%s: want headersToUpstreamOnAllow and www-authenticate in headersToDownstreamOnDeny", p.GetName())
			}
		}
	}
	if pn := mc.GetPathNormalization(); pn != nil && pn.GetNormalization() == meshv1alpha1.MeshConfig_ProxyPathNormalization_NONE {
		return nil, fmt.Errorf("pathNormalization NONE leaves dot segments to the application")
	}
	return providers, nil
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// istioExamples reads examples/istio: the mesh config and every policy.
func istioExamples(t *testing.T) (mc *meshv1alpha1.MeshConfig, policies map[string][]byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "istio", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	policies = map[string][]byte{}
	for _, f := range files {
		for i, doc := range splitDocs(readFile(t, f)) {
			name := fmt.Sprintf("%s#%d", filepath.Base(f), i)
			var probe struct {
				Kind       string         `json:"kind"`
				MeshConfig map[string]any `json:"meshConfig"`
			}
			if err := yaml.Unmarshal(doc, &probe); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			switch {
			case probe.MeshConfig != nil:
				if mc != nil {
					t.Fatalf("%s: a second meshConfig", name)
				}
				if mc, err = decodeMeshConfigValues(doc); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			case probe.Kind == "AuthorizationPolicy":
				policies[name] = doc
			default:
				t.Fatalf("%s: kind %q is not checked by this test", name, probe.Kind)
			}
		}
	}
	if mc == nil {
		t.Fatal("examples/istio has no meshConfig")
	}
	if len(policies) == 0 {
		t.Fatal("examples/istio has no AuthorizationPolicy")
	}
	return mc, policies
}

// TestIstioExamples decodes examples/istio strictly into istio.io/api types
// and holds them to a fail-closed setup.
func TestIstioExamples(t *testing.T) {
	mc, policies := istioExamples(t)
	providers, err := checkMeshConfig(mc)
	if err != nil {
		t.Fatal(err)
	}
	var grpc, http bool
	for _, p := range mc.GetExtensionProviders() {
		grpc = grpc || p.GetEnvoyExtAuthzGrpc() != nil
		http = http || p.GetEnvoyExtAuthzHttp() != nil
	}
	if !grpc || !http {
		t.Errorf("want an envoyExtAuthzGrpc and an envoyExtAuthzHttp provider (grpc %v, http %v)", grpc, http)
	}
	if mc.GetPathNormalization() == nil {
		t.Error("meshConfig.pathNormalization is not set")
	}
	var selector, targetRefs bool
	for name, doc := range policies {
		_, ap, err := decodeAuthorizationPolicy(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := checkCustomPolicy(ap, providers); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		selector = selector || ap.GetSelector() != nil
		targetRefs = targetRefs || len(ap.GetTargetRefs()) > 0
	}
	if !selector || !targetRefs {
		t.Errorf("want a sidecar policy (selector) and a waypoint policy (targetRefs): %v %v", selector, targetRefs)
	}
}

// TestIstioMisspeltFieldFails proves the Istio decoding strict.
func TestIstioMisspeltFieldFails(t *testing.T) {
	root := filepath.Join(repoRoot(t), "examples", "istio")
	policy := string(readFile(t, filepath.Join(root, "authorizationpolicy.yaml")))
	for _, c := range []struct{ from, to string }{
		{"  rules:", "  rule:"},
		{"notPaths:", "notPath:"},
		{"action: CUSTOM", "action: CUSTOMER"},
		{"metadata:", "metdata:"},
		{"kind: AuthorizationPolicy", "kind: AuthorisationPolicy"},
	} {
		if !strings.Contains(policy, c.from) {
			t.Fatalf("authorizationpolicy.yaml no longer contains %q", c.from)
		}
		if _, _, err := decodeAuthorizationPolicy([]byte(strings.Replace(policy, c.from, c.to, 1))); err == nil {
			t.Errorf("%q -> %q decoded without error", c.from, c.to)
		}
	}
	mesh := string(readFile(t, filepath.Join(root, "meshconfig.yaml")))
	for _, c := range []struct{ from, to string }{
		{"failOpen: false", "failOpn: false"},
		{"pathPrefix: /authz", "path_prefx: /authz"},
		{"normalization: MERGE_SLASHES", "normalization: MERGE_SLASH"},
		{"meshConfig:", "meshconfig:"},
	} {
		if !strings.Contains(mesh, c.from) {
			t.Fatalf("meshconfig.yaml no longer contains %q", c.from)
		}
		if _, err := decodeMeshConfigValues([]byte(strings.Replace(mesh, c.from, c.to, 1))); err == nil {
			t.Errorf("%q -> %q decoded without error", c.from, c.to)
		}
	}
}
