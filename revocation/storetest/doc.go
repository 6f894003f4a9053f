// Package storetest is the contract test suite that every revocation.Store
// must pass: memory, bolt and Redis run the same tests, so they behave the
// same way behind the Service. RunShared adds the tests of the
// revocation.Shared contract for stores that several replicas share.
// BenchPut and BenchGet are the bodies of every backend's Put and Get
// benchmarks.
//
// It is imported by tests only. The suites call t.Parallel on none of their
// subtests, so a backend needs no extra isolation beyond a fresh store per
// call of the constructor.
package storetest
