package providertest

import (
	"testing"
	"time"
)

// Liveness bounds how long RecvWithin and Collect wait for something that
// must happen; it only matters when the plugin is broken, so it is
// generous.
const Liveness = 10 * time.Second

// Receiver is a plugin's output stream: sdk.STTStream, sdk.TTSStream or
// sdk.LLMStream.
type Receiver[T any] interface {
	Recv() (T, error)
}

// RecvWithin is s.Recv that fails the test instead of hanging when
// nothing arrives within Liveness.
func RecvWithin[T any](t testing.TB, s Receiver[T]) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := s.Recv()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(Liveness):
		t.Fatal("no event from the stream")
		var zero T
		return zero, nil
	}
}

// Collect reads s until it fails and returns what it received and the
// error that ended it (io.EOF after a complete stream). It fails the test
// instead of hanging when the stream does not end within Liveness.
func Collect[T any](t testing.TB, s Receiver[T]) ([]T, error) {
	t.Helper()
	type result struct {
		values []T
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for {
			v, err := s.Recv()
			if err != nil {
				r.err = err
				done <- r
				return
			}
			r.values = append(r.values, v)
		}
	}()
	select {
	case r := <-done:
		return r.values, r.err
	case <-time.After(Liveness):
		t.Fatal("stream did not end")
		return nil, nil
	}
}
