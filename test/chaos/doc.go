// Package chaos is jwt-authz's fault-and-load suite. Its test (TestChaos)
// builds the jwt-authz binary, runs three replicas of it on real
// redis-server and redis-sentinel processes (TestChaosCluster: on a Redis
// Cluster) and a JWKS server the test controls, sends mixed traffic over
// gRPC ext_authz and HTTP forward-auth while it injects faults one after
// another, and checks every decision against what it must be.
// docs/chaos.md describes the faults, the checks and how to run a long
// version (make chaos).
package chaos
