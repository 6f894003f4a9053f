// Package memory is an in-process session.Store for tests and single-process
// development. Sessions are lost on restart and are not shared between
// replicas. Expired records are dropped by Sweep. Safe for concurrent use.
package memory
