//go:build !linux

package main

import "time"

// setTimerSlack does nothing outside Linux.
func setTimerSlack(time.Duration) (restore func()) { return func() {} }
