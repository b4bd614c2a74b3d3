// Package clock is the time source of sessions and tools. The session paces
// audio, measures latencies and runs timeouts with a Clock, so tests can
// drive time with the audio stream (sessiontest.ManualClock) instead of
// sleeping.
package clock

import "time"

// Clock tells time and wakes goroutines at a given instant.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// At returns a channel that receives once the clock reaches t (at once
	// if t is not after Now) and a func that releases the timer.
	At(t time.Time) (<-chan time.Time, func())
}

// System is the wall clock.
type System struct{}

// Now implements Clock.
func (System) Now() time.Time { return time.Now() }

// At implements Clock.
func (System) At(t time.Time) (<-chan time.Time, func()) {
	tm := time.NewTimer(time.Until(t))
	return tm.C, func() { tm.Stop() }
}
