//go:build !race

package revocation

// raceEnabled reports whether the race detector is on; memory and speed
// figures are meaningless under it.
const raceEnabled = false
