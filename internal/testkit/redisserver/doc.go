// Package redisserver runs a real redis-server for tests: on a free
// loopback port, without persistence, in a temporary directory, stopped at
// the end of the test. It can be stopped and started again on the same port
// (empty, like a restart without persistence), which is how the revocation
// tests exercise outages and data loss.
//
// NewSentinel starts a primary, a replica and a sentinel; NewCluster a
// three-primary Redis Cluster made with redis-cli --cluster create. Both
// wait for readiness by asking the servers, never by sleeping.
//
// When redis-server is not installed the tests that need it are skipped
// with a message saying so, except in CI (the CI environment variable is
// set), where they fail. Shared returns the address of an externally
// managed server instead when JWT_AUTHZ_REDIS_ADDR is set.
//
// Only tests import this package. A Server is safe for concurrent use.
package redisserver
