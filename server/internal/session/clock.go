package session

import "time"

// Clock tells time and wakes goroutines at a given instant. The session
// paces audio, measures latencies and runs timeouts with it, so tests can
// drive time with the audio stream instead of sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// At returns a channel that receives once the clock reaches t (at once
	// if t is not after Now) and a func that releases the timer.
	At(t time.Time) (<-chan time.Time, func())
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// At implements Clock.
func (SystemClock) At(t time.Time) (<-chan time.Time, func()) {
	tm := time.NewTimer(time.Until(t))
	return tm.C, func() { tm.Stop() }
}
