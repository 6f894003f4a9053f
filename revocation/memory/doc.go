// Package memory is a revocation.Store that keeps entries in process
// memory. Everything is lost when the process exits, so it is meant for
// tests and throwaway runs, and it says so in the log when created. It knows
// nothing about other replicas. A Store is safe for concurrent use.
package memory
