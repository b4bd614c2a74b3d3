package plugintest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
)

// checkInfo checks that Info describes a plugin of kind.
func checkInfo(t *testing.T, p sdk.Plugin, kind sdk.Kind, opts Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), opts.timeout())
	defer cancel()
	info, err := p.Info(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, info.Name, "Info.Name")
	assert.NotEmpty(t, info.Version, "Info.Version")
	assert.Equal(t, kind, info.Kind, "Info.Kind")
	if kind == sdk.KindLLM {
		return
	}
	require.NotEmpty(t, info.AudioFormats, "a %s plugin lists its audio formats", kind)
	for _, f := range info.AudioFormats {
		assert.Equal(t, sdk.EncodingPCM16LE, f.Encoding, "audio format encoding")
		assert.GreaterOrEqual(t, f.SampleRate, minSampleRate, "audio format sample rate")
		assert.LessOrEqual(t, f.SampleRate, maxSampleRate, "audio format sample rate")
		assert.Equal(t, 1, f.Channels, "audio format channels")
	}
}

// checkConfigure applies the valid settings, then checks that the bad ones
// are rejected with CodeInvalidArgument across the wire. The rejected call
// must leave the valid settings in force: the stream checks run after it.
func checkConfigure(t *testing.T, p sdk.Plugin, opts Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), opts.timeout())
	defer cancel()
	require.NoError(t, p.Configure(ctx, opts.settings()), "Configure(Options.Settings)")
	err := p.Configure(ctx, opts.badSettings())
	require.Error(t, err, "Configure(%s) must fail", opts.badSettings())
	var e *sdk.Error
	require.ErrorAs(t, err, &e, "Configure error must be an *sdk.Error")
	assert.Equal(t, sdk.CodeInvalidArgument, e.Code, "Configure error code: %v", err)
	assert.ErrorIs(t, err, &sdk.Error{Code: sdk.CodeInvalidArgument})
}

// noLeaks runs check and then fails t if goroutines started during check
// are still alive (goleak retries for about a second before giving up).
func noLeaks(t *testing.T, name string, check func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		check(t)
		if err := goleak.Find(before); err != nil {
			t.Errorf("goroutines left after the stream ended: %v", err)
		}
	})
}

// drained is everything a stream gave until its first error.
type drained[T any] struct {
	items []T
	err   error
}

// stream reads a stream in its own goroutine, the way the host does.
type stream[T any] struct {
	first chan struct{}
	done  chan drained[T]
}

// drain starts reading recv until it returns an error.
func drain[T any](recv func() (T, error)) *stream[T] {
	s := &stream[T]{first: make(chan struct{}), done: make(chan drained[T], 1)}
	go func() {
		var d drained[T]
		for {
			v, err := recv()
			if err != nil {
				d.err = err
				break
			}
			if len(d.items) == 0 {
				close(s.first)
			}
			d.items = append(d.items, v)
		}
		s.done <- d
	}()
	return s
}

// waitGrace is how much longer than its context's timeout wait gives a
// stream: the context should end it first, with a clear error.
const waitGrace = 5 * time.Second

// wait returns the drained stream, or fails t after timeout (plus grace).
func (s *stream[T]) wait(t *testing.T, timeout time.Duration) drained[T] {
	t.Helper()
	timer := time.NewTimer(timeout + waitGrace)
	defer timer.Stop()
	select {
	case d := <-s.done:
		return d
	case <-timer.C:
		require.FailNow(t, "stream did not end", "waited %v", timeout)
		return drained[T]{}
	}
}

// awaitFirst waits until the stream produced its first item.
func (s *stream[T]) awaitFirst(t *testing.T, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-s.first:
	case d := <-s.done:
		// A short stream may have finished by now: select picks either
		// ready case, so done wins over first at random.
		s.done <- d
		if len(d.items) == 0 {
			require.FailNow(t, "stream ended before its first item", "error: %v", d.err)
		}
	case <-timer.C:
		require.FailNow(t, "no item from the stream", "waited %v", timeout)
	}
}

// cancelled cancels the stream's context and checks that the reader ends
// within CancelBound with a Canceled error (or io.EOF when ended(items)
// says the stream had legitimately finished before the cancel landed).
func (s *stream[T]) cancelled(t *testing.T, cancel context.CancelFunc, timeout time.Duration, ended func([]T) bool) {
	t.Helper()
	cancel()
	bound := time.NewTimer(CancelBound)
	defer bound.Stop()
	var d drained[T]
	select {
	case d = <-s.done:
	case <-bound.C:
		t.Errorf("Recv did not return within %v of cancelling the context", CancelBound)
		d = s.wait(t, timeout)
	}
	if errors.Is(d.err, io.EOF) && ended != nil && ended(d.items) {
		return
	}
	assert.True(t, errors.Is(d.err, context.Canceled) || sdk.CodeOf(d.err) == sdk.CodeCanceled,
		"Recv after cancel must return a Canceled error, got %v", d.err)
}

// expectCode checks that err carries code as an *sdk.Error.
func expectCode(t *testing.T, err error, code sdk.Code) {
	t.Helper()
	var e *sdk.Error
	if assert.ErrorAs(t, err, &e, "want an *sdk.Error with code %s", code) {
		assert.Equal(t, code, e.Code, "error: %v", err)
	}
}
