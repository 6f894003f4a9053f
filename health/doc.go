// Package health reports liveness and readiness by component (jwks,
// revocation, shutdown) over HTTP (/healthz, /readyz) and the gRPC
// grpc.health.v1 service. It knows nothing of what the components are; it
// runs the checks it is given. Safe for concurrent use.
package health
