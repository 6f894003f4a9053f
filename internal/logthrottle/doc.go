// Package logthrottle keeps an error that repeats from flooding the log.
//
// A Throttle stands for one kind of failure (a store that does not answer, a
// subscription that keeps dropping). The first occurrence of a run of
// failures is logged as it happens; the next ones are counted and logged as
// one summary line (how many, since when, the latest error) at an interval
// that starts at Initial and doubles up to Max, so a failure that lasts a
// day writes a few dozen lines, not a hundred thousand. Resolve ends the run
// and tells the caller how long it lasted, for one "recovered" line.
//
// It knows nothing of what fails; it depends on the standard library only.
// A Throttle is safe for concurrent use.
package logthrottle
