// Package bolt is the embedded, durable session.Store (the default), kept in
// an existing bbolt database that it shares with the revocation store. It
// uses two buckets, "session_records" (sid -> record) and "session_expiry"
// (an index by expiry that Sweep walks). Every operation is one bbolt
// transaction, so Rotate is atomic within the process that holds the file
// lock. Safe for concurrent use.
package bolt
