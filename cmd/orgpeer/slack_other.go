//go:build !linux

package main

import "time"

// setTimerSlack does nothing off Linux.
func setTimerSlack(time.Duration) error { return nil }
