// Package health reports liveness and readiness over HTTP (/healthz,
// /readyz) and the gRPC grpc.health.v1 service.
//
// Readiness is computed in one place, the Checker, from components that
// report their state: each has a Probe that says whether it is ready and,
// when its readiness expires by the mere passing of time (keys that go
// stale, a store copy past its staleness limit), until when. Components
// call Notify when their state changes; the Checker evaluates every probe,
// arms one timer for the earliest expiry, and publishes one immutable
// State. /readyz and the gRPC health service both read that State, so they
// never disagree: a change is visible to both in the same instant.
//
// The package knows nothing of what the components are. Safe for
// concurrent use.
package health
