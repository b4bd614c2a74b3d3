package sentence

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testRate = 24000

// echoSpeak "synthesizes" a sentence as its text, in two chunks, with an
// empty chunk between them that must not reach Recv.
func echoSpeak(_ context.Context, s Span, emit func([]byte) error) error {
	half := len(s.Text) / 2
	for _, part := range []string{s.Text[:half], "", s.Text[half:]} {
		if err := emit([]byte(part)); err != nil {
			return err
		}
	}
	return nil
}

// drain reads chunks until an error and returns both.
func drain(t *testing.T, s *Stream) ([]sdk.AudioChunk, error) {
	t.Helper()
	var chunks []sdk.AudioChunk
	for {
		c, err := s.Recv()
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, c)
	}
}

func TestStreamSpeaksSentencesInOrder(t *testing.T) {
	s := NewStream(t.Context(), "prov", testRate, echoSpeak)
	result := make(chan []sdk.AudioChunk, 1)
	errc := make(chan error, 1)
	go func() {
		chunks, err := drain(t, s)
		result <- chunks
		errc <- err
	}()
	require.NoError(t, s.SendText("Hello there. How"))
	require.NoError(t, s.SendText(" are you? Fine"))
	require.NoError(t, s.Flush())
	require.NoError(t, s.SendText(" thanks"))
	require.NoError(t, s.CloseSend())
	chunks := <-result
	require.ErrorIs(t, <-errc, io.EOF)

	type spoken struct {
		text       string
		start, end int
	}
	var got []spoken
	for _, c := range chunks {
		assert.Equal(t, testRate, c.SampleRate)
		got = append(got, spoken{string(c.PCM), c.TextStart, c.TextEnd})
	}
	assert.Equal(t, []spoken{
		{"Hello ", 0, 12}, {"there.", 0, 12},
		{"How ar", 12, 25}, {"e you?", 12, 25},
		{"Fi", 25, 30}, {"ne", 25, 30},
		{"tha", 30, 37}, {"nks", 30, 37},
	}, got)
}

func TestStreamClosedForSending(t *testing.T) {
	s := NewStream(t.Context(), "prov", testRate, echoSpeak)
	require.NoError(t, s.CloseSend())
	require.NoError(t, s.CloseSend(), "closing twice is harmless")
	for name, call := range map[string]func() error{
		"SendText": func() error { return s.SendText("late") },
		"Flush":    s.Flush,
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			assert.ErrorIs(t, err, ErrClosed)
			assert.Equal(t, sdk.CodeFailedPrecondition, sdk.CodeOf(err))
			assert.Contains(t, err.Error(), "prov: text after CloseSend")
		})
	}
	_, err := drain(t, s)
	assert.ErrorIs(t, err, io.EOF)
}

func TestStreamSpeakFailureEndsIt(t *testing.T) {
	boom := sdk.Errorf(sdk.CodeUnavailable, "prov: boom")
	spoke := make(chan struct{})
	s := NewStream(t.Context(), "prov", testRate, func(context.Context, Span, func([]byte) error) error {
		close(spoke)
		return boom
	})
	require.NoError(t, s.SendText("One! "))
	_, err := drain(t, s)
	require.ErrorIs(t, err, boom)
	<-spoke
	assert.ErrorIs(t, s.SendText("Two! "), boom, "later input reports the failure")
}

func TestStreamCanceled(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Stream, cancel context.CancelFunc)
	}{
		{"while speaking", func(t *testing.T, s *Stream, cancel context.CancelFunc) {
			t.Helper()
			require.NoError(t, s.SendText("One! "))
			cancel()
		}},
		{"with input closed", func(t *testing.T, s *Stream, cancel context.CancelFunc) {
			t.Helper()
			cancel()
			require.NoError(t, s.CloseSend())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			s := NewStream(ctx, "prov", testRate, func(ctx context.Context, sn Span, emit func([]byte) error) error {
				<-ctx.Done()
				return emit([]byte(sn.Text))
			})
			tt.setup(t, s, cancel)
			_, err := drain(t, s)
			assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err), "a cancelled stream never looks complete: %v", err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.NotErrorIs(t, err, io.EOF)
		})
	}
}

func TestStreamSendAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := NewStream(ctx, "prov", testRate, echoSpeak)
	cancel()
	_, err := drain(t, s)
	require.ErrorIs(t, err, context.Canceled)
	err = s.SendText("More! ")
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}
