// Package bolt is the embedded, durable revocation.Store, on bbolt. It is
// the default backend: one replica, entries in a file under the data
// directory, each one fsynced before Put returns, so a revocation survives
// a crash (kill -9) or power loss once the admin API has answered.
//
// The store keeps its data in the buckets "revocation_entries" (one record
// per kind and identifier), "revocation_expiry" (an index by expiry, so
// the sweep reads only what expired) and "revocation_sets" (the content of
// each session set, revocation.KindSIDSet: its sorted 64-bit hashes, 8
// bytes each, under the entry's key; 8 MB for a million sessions). Other packages may keep their own
// buckets in the same database file; New takes an already open *bbolt.DB
// for that reason, and Open opens one with a bounded wait on the file lock.
//
// It knows nothing about other replicas: with several replicas, use the
// Redis store. A Store is safe for concurrent use.
package bolt
