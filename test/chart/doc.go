// Package chart tests the Helm chart in charts/jwt-authz, the plain
// manifests in manifests/ and the alert documentation in docs/alerts.md.
//
// It is a module of its own so that Helm and the Kubernetes libraries it
// pulls in never become dependencies of jwt-authz itself. The tests render
// the chart with Helm's Go packages (the same loader, schema validation and
// template engine as `helm install`), so they need no helm binary and no
// cluster. Golden files of rendered output live in testdata/ and are
// rewritten with
//
//	go test ./... -update
//
// When the jwt-authz command builds (./cmd/jwt-authz in the repository
// root), the rendered config files are also checked with
// `jwt-authz config validate`.
package chart
