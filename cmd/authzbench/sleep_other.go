//go:build !linux

package main

import "time"

// authzbench measures on Linux (it reads /proc); elsewhere it builds.
func preciseSleep(d time.Duration) { time.Sleep(d) }
