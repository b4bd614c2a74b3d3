package sdk_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// failAfter bounds waits that only fail a broken test; it never paces one.
const failAfter = 10 * time.Second

// watchSTT reports, on ended, the error its stream function returned; audio
// starting with 0xEE makes the function return nil at once.
type watchSTT struct {
	fakeBase
	ended chan error
}

func (w watchSTT) Transcribe(ctx context.Context, _ sdk.STTConfig) (sdk.STTStream, error) {
	return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
		err := func() error {
			for msg := range in {
				if len(msg.Audio) > 0 && msg.Audio[0] == 0xEE {
					return nil
				}
				if err := emit(sdk.TranscriptEvent{Text: "x"}); err != nil {
					return err
				}
			}
			return ctx.Err()
		}()
		w.ended <- err
		return err
	}), nil
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(failAfter):
		require.FailNow(t, "nothing received", "waited %v", failAfter)
		var zero T
		return zero
	}
}

func TestHostCancelReachesPlugin(t *testing.T) {
	ended := make(chan error, 1)
	stt, ok := dispense(t, sdk.ServeConfig{STT: watchSTT{fakeBase{sdk.KindSTT}, ended}}, sdk.KindSTT).(sdk.STT)
	require.True(t, ok)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := stt.Transcribe(ctx, sdk.STTConfig{SampleRate: 16000})
	require.NoError(t, err)
	require.NoError(t, st.SendAudio(make([]byte, 640)))
	_, err = st.Recv()
	require.NoError(t, err)

	cancel()
	_, err = st.Recv()
	assert.ErrorIs(t, err, context.Canceled, "host side")
	assert.ErrorIs(t, receive(t, ended), context.Canceled, "plugin side: its context ended")
}

func TestPluginEndReachesHost(t *testing.T) {
	ended := make(chan error, 1)
	stt, ok := dispense(t, sdk.ServeConfig{STT: watchSTT{fakeBase{sdk.KindSTT}, ended}}, sdk.KindSTT).(sdk.STT)
	require.True(t, ok)
	st, err := stt.Transcribe(t.Context(), sdk.STTConfig{SampleRate: 16000})
	require.NoError(t, err)
	require.NoError(t, st.SendAudio([]byte{0xEE, 0}))
	assert.NoError(t, receive(t, ended))
	_, err = st.Recv()
	assert.ErrorIs(t, err, io.EOF, "the plugin ended the stream without error before CloseSend")
	err = st.SendAudio(make([]byte, 640))
	assert.ErrorIs(t, err, &sdk.Error{Code: sdk.CodeFailedPrecondition}, "sending on an ended stream")
}

func TestSTTStreamHelper(t *testing.T) {
	t.Run("audio is copied and CloseSend ends input", func(t *testing.T) {
		got := make(chan []byte, 2)
		st := sdk.NewSTTStream(t.Context(), func(_ context.Context, in <-chan sdk.STTInput, _ func(sdk.TranscriptEvent) error) error {
			for msg := range in {
				got <- msg.Audio
			}
			return nil
		})
		buf := []byte{1, 2}
		require.NoError(t, st.SendAudio(buf))
		buf[0] = 9
		require.NoError(t, st.CloseSend())
		require.NoError(t, st.CloseSend(), "twice is fine")
		_, err := st.Recv()
		assert.ErrorIs(t, err, io.EOF)
		assert.Equal(t, []byte{1, 2}, receive(t, got))
		assert.ErrorIs(t, st.SendAudio(buf), &sdk.Error{Code: sdk.CodeFailedPrecondition})
	})
	t.Run("function error reaches Recv and SendAudio", func(t *testing.T) {
		boom := sdk.Errorf(sdk.CodeUnavailable, "provider down")
		st := sdk.NewSTTStream(t.Context(), func(context.Context, <-chan sdk.STTInput, func(sdk.TranscriptEvent) error) error {
			return boom
		})
		_, err := st.Recv()
		assert.ErrorIs(t, err, boom)
		assert.ErrorIs(t, st.SendAudio([]byte{0, 0}), boom)
	})
	t.Run("cancel closes input and Recv says canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		st := sdk.NewSTTStream(ctx, func(context.Context, <-chan sdk.STTInput, func(sdk.TranscriptEvent) error) error {
			return nil // returns nil although cancelled: must not look like a clean end
		})
		cancel()
		_, err := st.Recv()
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, st.SendAudio([]byte{0, 0}), context.Canceled)
	})
	t.Run("ranging function returns on cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		st := sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, _ func(sdk.TranscriptEvent) error) error {
			defer close(done)
			for range in { //nolint:revive // draining until closed is the point.
			}
			return ctx.Err()
		})
		cancel()
		receive(t, done)
		_, err := st.Recv()
		assert.True(t, errors.Is(err, context.Canceled))
	})
}

func TestTTSStreamHelper(t *testing.T) {
	st := sdk.NewTTSStream(t.Context(), func(ctx context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
		n := 0
		for msg := range in {
			n += len(msg.Text)
			if msg.Flush {
				if err := emit(sdk.AudioChunk{PCM: make([]byte, 2), TextEnd: n}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	errs := make(chan error, 1)
	go func() {
		errs <- errors.Join(st.SendText("ab"), st.SendText("c"), st.Flush(), st.CloseSend())
	}()
	c, err := st.Recv()
	require.NoError(t, err)
	assert.Equal(t, 3, c.TextEnd)
	require.NoError(t, receive(t, errs))
	_, err = st.Recv()
	assert.ErrorIs(t, err, io.EOF)
}
