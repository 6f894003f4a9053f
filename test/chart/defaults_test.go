package chart

import (
	"reflect"
	"slices"
	"testing"
)

// TestDefaultRenderSecurity checks the hardening every install gets without
// setting a value.
func TestDefaultRenderSecurity(t *testing.T) {
	m := parseRendered(t, mustRender(t, nil))
	dep := m.get(t, "Deployment")
	pod := podSpec(dep)
	c := container(dep)

	tests := map[string]struct {
		got, want any
	}{
		"pod runAsNonRoot":                 {dig(pod, "securityContext", "runAsNonRoot"), true},
		"pod runAsUser":                    {dig(pod, "securityContext", "runAsUser"), 65532},
		"pod fsGroup":                      {dig(pod, "securityContext", "fsGroup"), 65532},
		"pod seccompProfile":               {dig(pod, "securityContext", "seccompProfile", "type"), "RuntimeDefault"},
		"automountServiceAccountToken":     {dig(pod, "automountServiceAccountToken"), false},
		"enableServiceLinks":               {dig(pod, "enableServiceLinks"), false},
		"runAsNonRoot":                     {dig(c, "securityContext", "runAsNonRoot"), true},
		"runAsUser":                        {dig(c, "securityContext", "runAsUser"), 65532},
		"readOnlyRootFilesystem":           {dig(c, "securityContext", "readOnlyRootFilesystem"), true},
		"allowPrivilegeEscalation":         {dig(c, "securityContext", "allowPrivilegeEscalation"), false},
		"privileged":                       {dig(c, "securityContext", "privileged"), false},
		"capabilities drop":                {dig(c, "securityContext", "capabilities", "drop"), []any{"ALL"}},
		"container seccompProfile":         {dig(c, "securityContext", "seccompProfile", "type"), "RuntimeDefault"},
		"liveness probe path":              {dig(c, "livenessProbe", "httpGet", "path"), "/healthz"},
		"liveness probe named port":        {dig(c, "livenessProbe", "httpGet", "port"), "http"},
		"readiness probe path":             {dig(c, "readinessProbe", "httpGet", "path"), "/readyz"},
		"readiness probe named port":       {dig(c, "readinessProbe", "httpGet", "port"), "http"},
		"startup probe named port":         {dig(c, "startupProbe", "httpGet", "port"), "http"},
		"requests cpu":                     {dig(c, "resources", "requests", "cpu"), "100m"},
		"requests memory":                  {dig(c, "resources", "requests", "memory"), "64Mi"},
		"limits memory":                    {dig(c, "resources", "limits", "memory"), "256Mi"},
		"image":                            {dig(c, "image"), "ghcr.io/jwt-authz/jwt-authz:" + loadChart(t).Metadata.AppVersion},
		"args":                             {dig(c, "args"), []any{"serve", "--config", "/etc/jwt-authz/config.yaml"}},
		"terminationGracePeriodSeconds":    {dig(pod, "terminationGracePeriodSeconds"), 30},
		"replicas":                         {dig(dep, "spec", "replicas"), 1},
		"bolt on a claim uses Recreate":    {dig(dep, "spec", "strategy", "type"), "Recreate"},
		"ServiceAccount token not mounted": {dig(m.get(t, "ServiceAccount"), "automountServiceAccountToken"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

// TestDefaultRenderPorts checks the four named ports on the container and
// the Service, with appProtocol grpc where Envoy connects.
func TestDefaultRenderPorts(t *testing.T) {
	m := parseRendered(t, mustRender(t, nil))
	want := map[string]int{"grpc": 9001, "http": 8080, "admin": 9090, "metrics": 9091}

	got := map[string]int{}
	for _, p := range dig(container(m.get(t, "Deployment")), "ports").([]any) {
		got[str(dig(p, "name"))] = dig(p, "containerPort").(int)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("container ports = %v, want %v", got, want)
	}

	svc := m.get(t, "Service")
	if typ := dig(svc, "spec", "type"); typ != "ClusterIP" {
		t.Errorf("Service type = %v, want ClusterIP", typ)
	}
	for _, p := range dig(svc, "spec", "ports").([]any) {
		name := str(dig(p, "name"))
		if dig(p, "port") != want[name] || dig(p, "targetPort") != name {
			t.Errorf("Service port %s = %v -> %v, want %d -> %s", name, dig(p, "port"), dig(p, "targetPort"), want[name], name)
		}
		if name == "grpc" && dig(p, "appProtocol") != "grpc" {
			t.Errorf("Service port grpc appProtocol = %v, want grpc", dig(p, "appProtocol"))
		}
	}
}

// TestDefaultRenderKinds checks what a default install creates, and that the
// opt-in objects stay out.
func TestDefaultRenderKinds(t *testing.T) {
	m := parseRendered(t, mustRender(t, nil))
	var kinds []string
	for _, o := range m.objects {
		kinds = append(kinds, o.kind()+"/"+o.name())
	}
	slices.Sort(kinds)
	want := []string{
		"ConfigMap/jwt-authz",
		"Deployment/jwt-authz",
		"PersistentVolumeClaim/jwt-authz-data",
		"Pod/jwt-authz-test-connection",
		"Secret/jwt-authz-admin-token",
		"Service/jwt-authz",
		"ServiceAccount/jwt-authz",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("default render = %v, want %v", kinds, want)
	}
}

// TestDefaultRenderVolumes checks where the config, the data directory and
// the admin token are mounted, and that only the data volume is writable.
func TestDefaultRenderVolumes(t *testing.T) {
	m := parseRendered(t, mustRender(t, nil))
	dep := m.get(t, "Deployment")
	mounts := map[string]map[string]any{}
	for _, vm := range dig(container(dep), "volumeMounts").([]any) {
		mounts[str(dig(vm, "name"))] = vm.(map[string]any)
	}
	tests := map[string]struct {
		path     string
		readOnly bool
	}{
		"config":      {"/etc/jwt-authz", true},
		"data":        {"/var/lib/jwt-authz", false},
		"admin-token": {"/var/run/secrets/jwt-authz/admin", true},
	}
	if len(mounts) != len(tests) {
		t.Errorf("volume mounts = %v, want %d", mounts, len(tests))
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			vm, ok := mounts[name]
			if !ok {
				t.Fatalf("no volume mount %s", name)
			}
			if vm["mountPath"] != tc.path {
				t.Errorf("mountPath = %v, want %s", vm["mountPath"], tc.path)
			}
			if ro, _ := vm["readOnly"].(bool); ro != tc.readOnly {
				t.Errorf("readOnly = %v, want %v", ro, tc.readOnly)
			}
		})
	}
	for _, v := range dig(podSpec(dep), "volumes").([]any) {
		if dig(v, "name") == "data" && dig(v, "persistentVolumeClaim", "claimName") != "jwt-authz-data" {
			t.Errorf("data volume = %v, want the jwt-authz-data claim", v)
		}
	}
}
