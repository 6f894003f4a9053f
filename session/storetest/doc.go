// Package storetest is the contract suite every session.Store backend
// passes: field round trips, the Rotate decision table (rotate, replay
// within grace, reuse revokes, revoked, expired, unknown), Revoke, argument
// validation, Sweep where implemented, and a race of 50 concurrent
// rotations presenting one jti. Only tests import it.
package storetest
