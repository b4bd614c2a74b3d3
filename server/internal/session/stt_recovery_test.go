package session_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

func crashed() error {
	return &sdk.Error{Code: sdk.CodeUnavailable, Message: "error reading from server: read unix @->/tmp/plugin123: connection reset by peer"}
}

func count[T session.Event](seen []any) int {
	n := 0
	for _, v := range seen {
		if _, ok := v.(T); ok {
			n++
		}
	}
	return n
}

// TestSTTCrashMidUtteranceIsReplayed: a recognizer that fails after it
// sent a partial (where the plugin host no longer replays) is replaced; the
// whole utterance is replayed into the new stream, recognised once and
// answered, with no error for the client.
func TestSTTCrashMidUtteranceIsReplayed(t *testing.T) {
	stt := &sessiontest.STT{
		Transcripts: []string{"what is the weather", "what is the weather"},
		FailAfter:   300 * time.Millisecond,
		Fail: func(n int) error {
			if n == 1 {
				return crashed()
			}
			return nil
		},
	}
	llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text("Sunny."), nil
	}}
	tc := newTyped(t, llm, stt, session.StartParams{})
	until[session.Established](tc, false, nil)
	tc.audio(sessiontest.Silence(400*time.Millisecond, audio.SampleRate))
	tc.audio(sessiontest.Speech(900*time.Millisecond, audio.SampleRate))
	tc.audio(sessiontest.Silence(500*time.Millisecond, audio.SampleRate))
	seen, done := until[session.ResponseDone](tc, true, nil)

	assert.Equal(t, session.StatusCompleted, done.Status)
	assert.Equal(t, "Sunny.", done.Text)
	assert.Zero(t, count[session.Error](seen), "no error reaches the client: %v", kinds(seen))
	assert.Equal(t, 1, count[session.TranscriptFinal](seen), "recognised once")
	for _, v := range seen {
		if f, ok := v.(session.TranscriptFinal); ok {
			assert.Equal(t, "what is the weather", f.Text)
		}
	}
	require.Equal(t, 2, stt.Streams())
	// Without the replay the new stream would get only what came after
	// the crash (nothing, on a slow machine where the crash comes last).
	speech := len(sessiontest.Speech(900*time.Millisecond, audio.SampleRate))
	assert.GreaterOrEqual(t, stt.AudioBytes()[1], speech, "the new stream got the whole utterance, from its start")
	hist := tc.sess.History(t.Context())
	require.NotEmpty(t, hist)
	assert.Equal(t, "what is the weather", hist[0].Content)
}

// TestSTTRecoveryGivesUp: when no recognizer comes back within the
// recovery bound, or replacements keep failing, the turn fails with a
// clean stt_failed error (no socket path, marked retryable) and the
// session goes on.
func TestSTTRecoveryGivesUp(t *testing.T) {
	tests := []struct {
		name   string
		refuse func(call int) error
		fail   func(n int) error
	}{
		{
			name:   "recognizer stays down",
			refuse: func(call int) error { return refuseAfterFirst(call) },
			fail:   func(n int) error { return firstOnly(n) },
		},
		{
			name: "replacements keep failing",
			fail: func(int) error { return crashed() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stt := &sessiontest.STT{Transcripts: []string{"hello there"}, FailAfter: 300 * time.Millisecond, Fail: tt.fail, Refuse: tt.refuse}
			llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
				return sessiontest.Text("Hi."), nil
			}}
			tc := newTyped(t, llm, stt, session.StartParams{})
			until[session.Established](tc, false, nil)
			tc.audio(sessiontest.Silence(400*time.Millisecond, audio.SampleRate))
			tc.audio(sessiontest.Speech(900*time.Millisecond, audio.SampleRate))
			seen, e := silenceUntilError(tc)
			assert.Equal(t, session.CodeSTTFailed, e.Code)
			assert.True(t, e.Retryable)
			assert.Equal(t, "unavailable", e.Details["plugin_code"])
			assert.NotContains(t, e.Message, "unix")
			assert.NotContains(t, strings.ToLower(e.Message), "plugin")
			assert.Zero(t, count[session.ResponseStarted](seen))
		})
	}
}

func refuseAfterFirst(call int) error {
	if call > 1 {
		return &sdk.Error{Code: sdk.CodeUnavailable, Message: "plugin stt-x is restarting"}
	}
	return nil
}

func firstOnly(n int) error {
	if n == 1 {
		return crashed()
	}
	return nil
}

// silenceUntilError sends silence, a frame of clock each, until an Error
// event arrives: the recovery bound passes in audio time.
func silenceUntilError(tc *typed) ([]any, session.Error) {
	tc.t.Helper()
	return silenceUntil[session.Error](tc)
}

// silenceUntil sends silence, a frame of clock each, until an event of
// type T arrives, and returns everything read: backoffs and playback run
// on audio time.
func silenceUntil[T session.Event](tc *typed) ([]any, T) {
	tc.t.Helper()
	var seen []any
	deadline := time.After(waitFor)
	frame := sessiontest.Silence(audio.FrameDuration, audio.SampleRate)
	for {
		select {
		case v := <-tc.sink.out:
			seen = append(seen, v)
			if e, ok := v.(T); ok {
				return seen, e
			}
		case <-deadline:
			var zero T
			tc.t.Fatalf("no %T within %s; saw %v", zero, waitFor, seen)
			return seen, zero
		default:
			tc.audio(frame)
		}
	}
}

// refuseFirst refuses the first n calls as a plugin that is restarting.
func refuseFirst(n int) func(call int) error {
	return func(call int) error {
		if call <= n {
			return &sdk.Error{Code: sdk.CodeUnavailable, Message: "plugin x is restarting"}
		}
		return nil
	}
}

// TestPluginRestartingAtOpenIsWaitedFor: a recognizer or synthesizer that
// is down when its stream is opened (every instance restarting after a
// crash; the plugin host already retried) is waited for within the
// recovery bound, as one failing mid-stream is: the turn completes with no
// error, the utterance recognised once and whole, the reply whole.
func TestPluginRestartingAtOpenIsWaitedFor(t *testing.T) {
	tests := []struct {
		name string
		stt  *sessiontest.STT
		tts  *sessiontest.TTS
	}{
		{
			name: "stt",
			stt:  &sessiontest.STT{Transcripts: []string{"what is the weather"}, Refuse: refuseFirst(2)},
			tts:  &sessiontest.TTS{WordDuration: 200 * time.Millisecond},
		},
		{
			name: "tts",
			stt:  &sessiontest.STT{Transcripts: []string{"what is the weather"}},
			tts:  &sessiontest.TTS{WordDuration: 200 * time.Millisecond, Refuse: refuseFirst(2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
				return sessiontest.Text("Sunny all day."), nil
			}}
			tc := newTypedTTS(t, llm, tt.stt, tt.tts, session.StartParams{})
			until[session.Established](tc, false, nil)
			tc.audio(sessiontest.Silence(400*time.Millisecond, audio.SampleRate))
			tc.audio(sessiontest.Speech(900*time.Millisecond, audio.SampleRate))
			seen, done := silenceUntil[session.ResponseDone](tc)

			assert.Equal(t, session.StatusCompleted, done.Status)
			assert.Equal(t, "Sunny all day.", done.Text)
			assert.Zero(t, count[session.Error](seen), "no error reaches the client: %v", kinds(seen))
			assert.Equal(t, 1, count[session.TranscriptFinal](seen), "recognised once")
			require.Equal(t, 1, tt.stt.Streams())
			require.Len(t, tt.tts.Texts(), 1)
			assert.Equal(t, "Sunny all day.", tt.tts.Texts()[0], "the whole reply was synthesized")
			hist := tc.sess.History(t.Context())
			require.Len(t, hist, 2)
			assert.Equal(t, "what is the weather", hist[0].Content)
			assert.Equal(t, "Sunny all day.", hist[1].Content)
		})
	}
}
