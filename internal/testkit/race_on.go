//go:build race

package testkit

// RaceEnabled reports whether the race detector is on: memory and speed
// figures mean nothing under it, and sync.Pool drops items on purpose.
const RaceEnabled = true
