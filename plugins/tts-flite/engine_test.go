package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
)

// recvTimeout only keeps a broken stream from hanging the test run; it is
// not a speed assertion.
const recvTimeout = 20 * time.Second

// silenceFloor is the RMS (of full scale 32768) speech must exceed.
const silenceFloor = 300

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newTestEngine(t *testing.T, settings string) *Engine {
	t.Helper()
	e := NewEngine(slog.New(slog.DiscardHandler))
	if settings != "" {
		require.NoError(t, e.Configure(context.Background(), json.RawMessage(settings)))
	}
	return e
}

// recv calls st.Recv with a safety timeout.
func recv(t *testing.T, st sdk.TTSStream) (sdk.AudioChunk, error) {
	t.Helper()
	type result struct {
		c   sdk.AudioChunk
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := st.Recv()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-time.After(recvTimeout):
		t.Fatal("Recv did not return")
		return sdk.AudioChunk{}, nil
	}
}

// drain reads chunks until io.EOF.
func drain(t *testing.T, st sdk.TTSStream) []sdk.AudioChunk {
	t.Helper()
	var out []sdk.AudioChunk
	for {
		c, err := recv(t, st)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, c)
	}
}

func samplesOf(chunks []sdk.AudioChunk) []int16 {
	var s []int16
	for _, c := range chunks {
		for i := 0; i+1 < len(c.PCM); i += 2 {
			s = append(s, int16(binary.LittleEndian.Uint16(c.PCM[i:])))
		}
	}
	return s
}

func speak(t *testing.T, e *Engine, cfg sdk.TTSConfig, chunks ...string) []sdk.AudioChunk {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := e.Synthesize(ctx, cfg)
	require.NoError(t, err)
	for _, c := range chunks {
		require.NoError(t, st.SendText(c))
	}
	require.NoError(t, st.CloseSend())
	return drain(t, st)
}

func TestSynthesizeRateLoudnessAndLength(t *testing.T) {
	const text = "The quick brown fox jumps over the lazy dog."
	const words = 9
	cases := []struct {
		voice string
		rate  int
		speed float32
	}{
		{"slt", 16000, 0},
		{"kal16", 24000, 0},
		{"awb", 48000, 0},
		{"rms", 8000, 0},
		{"kal", 16000, 0},
		{"slt", 44100, 0},
		{"slt", 16000, 1.5},
	}
	e := newTestEngine(t, "")
	for _, tc := range cases {
		t.Run(tc.voice+"@"+strconv.Itoa(tc.rate)+"/speed="+strconv.FormatFloat(float64(tc.speed), 'g', -1, 32), func(t *testing.T) {
			chunks := speak(t, e, sdk.TTSConfig{Voice: tc.voice, SampleRate: tc.rate, Speed: tc.speed}, text)
			require.NotEmpty(t, chunks)
			for _, c := range chunks {
				assert.Equal(t, tc.rate, c.SampleRate)
				assert.Zero(t, len(c.PCM)%2, "whole PCM16 samples")
			}
			s := samplesOf(chunks)
			assert.Greater(t, rms(s), float64(silenceFloor), "speech must not be silent")
			perWord := float64(len(s)) / float64(tc.rate) / words
			speed := float64(tc.speed)
			if speed == 0 {
				speed = 1
			}
			assert.InDelta(t, 0.4/speed, perWord, 0.2/speed, "seconds per word")
		})
	}
}

func TestSpeedShortensSpeech(t *testing.T) {
	e := newTestEngine(t, "")
	const text = "Speaking faster should take less time than speaking slowly."
	slow := len(samplesOf(speak(t, e, sdk.TTSConfig{Speed: 0.5}, text)))
	fast := len(samplesOf(speak(t, e, sdk.TTSConfig{Speed: 2}, text)))
	assert.Greater(t, float64(slow), 2.5*float64(fast))
}

func TestSpansCoverTextInOrder(t *testing.T) {
	const text = "Hello there! Dr. Smith paid $3.50 today. Is that right? It is.\nAnd a last line without an end"
	var chunks []string
	for i := 0; i < len(text); i += 3 { // LLM-like deltas
		chunks = append(chunks, text[i:min(i+3, len(text))])
	}
	e := newTestEngine(t, `{"voice":"kal16"}`)
	got := speak(t, e, sdk.TTSConfig{}, chunks...)
	type span struct{ start, end int }
	var spans []span
	for _, c := range got {
		sp := span{c.TextStart, c.TextEnd}
		if len(spans) == 0 || spans[len(spans)-1] != sp {
			spans = append(spans, sp)
		}
	}
	var said []string
	prev := 0
	for _, sp := range spans {
		require.GreaterOrEqual(t, sp.start, prev, "spans in order, not overlapping")
		assert.Empty(t, strings.TrimSpace(text[prev:sp.start]), "no text skipped")
		said = append(said, strings.TrimSpace(text[sp.start:sp.end]))
		prev = sp.end
	}
	assert.Equal(t, len(text), prev, "all text spoken")
	assert.Equal(t, []string{"Hello there!", "Dr. Smith paid $3.50 today.", "Is that right?", "It is.", "And a last line without an end"}, said)
}

func TestFirstAudioBeforeAllText(t *testing.T) {
	e := newTestEngine(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := e.Synthesize(ctx, sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, st.SendText("Good morning! "))
	require.NoError(t, st.SendText("How can I"))
	first, err := recv(t, st)
	require.NoError(t, err, "audio for the first sentence arrives while the second is incomplete")
	assert.Equal(t, 0, first.TextStart)
	assert.Equal(t, len("Good morning!"), first.TextEnd)
	require.NoError(t, st.SendText(" help you today?"))
	require.NoError(t, st.CloseSend())
	rest := drain(t, st)
	require.NotEmpty(t, rest)
	assert.Equal(t, len("Good morning! How can I help you today?"), rest[len(rest)-1].TextEnd)
}

func TestFlushSpeaksRemainder(t *testing.T) {
	e := newTestEngine(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := e.Synthesize(ctx, sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, st.SendText("no full stop here"))
	require.NoError(t, st.Flush())
	c, err := recv(t, st)
	require.NoError(t, err)
	assert.Equal(t, [2]int{0, 17}, [2]int{c.TextStart, c.TextEnd})
	require.NoError(t, st.CloseSend())
	drain(t, st)
	assert.True(t, errors.Is(st.SendText("more"), &sdk.Error{Code: sdk.CodeFailedPrecondition}))
}

func TestCancelAbortsSynthesis(t *testing.T) {
	e := newTestEngine(t, `{"chunk_ms":20}`)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := e.Synthesize(ctx, sdk.TTSConfig{})
	require.NoError(t, err)
	long := strings.Repeat("This sentence is long enough to keep flite busy for quite a while. ", 20)
	require.NoError(t, st.SendText(long))
	require.NoError(t, st.Flush())
	_, err = recv(t, st)
	require.NoError(t, err)
	cancel()
	for {
		_, err = recv(t, st)
		if err != nil {
			break
		}
	}
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, st.SendText("more. "), context.Canceled)
	// goleak (TestMain) checks that the worker, blocked in flite's callback, ended.
}

func TestConcurrentStreams(t *testing.T) {
	e := newTestEngine(t, "")
	text := []string{"Several streams speak at once. ", "Each one is fine."}
	voices := []string{"slt", "awb", "rms", "kal16", "kal", "kal16"}
	// Sequential references. The clustergen voices (slt, awb, rms) add random
	// excitation, so only their length is reproducible; kal16 and kal are
	// diphone voices and reproduce sample for sample.
	want := map[string][]int16{}
	for _, v := range voices {
		want[v] = samplesOf(speak(t, e, sdk.TTSConfig{Voice: v}, text...))
	}
	var wg sync.WaitGroup
	results := make([][]int16, len(voices))
	for i, v := range voices {
		wg.Go(func() {
			results[i] = samplesOf(speak(t, e, sdk.TTSConfig{Voice: v}, text...))
		})
	}
	wg.Wait()
	for i, v := range voices {
		r := results[i]
		assert.Greater(t, rms(r), float64(silenceFloor), v)
		assert.Len(t, r, len(want[v]), v)
		if strings.HasPrefix(v, "kal") {
			assert.True(t, slices.Equal(want[v], r), "%s: concurrent output differs from sequential", v)
		}
	}
}

func TestBadSettingsNameTheField(t *testing.T) {
	cases := []struct {
		name, settings, field string
	}{
		{"unknown field", `{"voice":"slt","colour":"blue"}`, "colour"},
		{"unknown voice", `{"voice":"bob"}`, "voice"},
		{"speed too high", `{"speed":9}`, "speed"},
		{"speed wrong type", `{"speed":"fast"}`, "speed"},
		{"chunk too small", `{"chunk_ms":1}`, "chunk_ms"},
		{"sentence bound", `{"max_sentence_chars":5}`, "max_sentence_chars"},
		{"not an object", `[1,2]`, "settings"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := NewEngine(slog.New(slog.DiscardHandler)).Configure(context.Background(), json.RawMessage(tc.settings))
			assertInvalidField(t, err, tc.field)
		})
	}
}

func TestBadStreamConfigNamesTheField(t *testing.T) {
	cases := []struct {
		name  string
		cfg   sdk.TTSConfig
		field string
	}{
		{"voice", sdk.TTSConfig{Voice: "nobody"}, "voice"},
		{"rate too high", sdk.TTSConfig{SampleRate: 96000}, "sample_rate"},
		{"rate too low", sdk.TTSConfig{SampleRate: 4000}, "sample_rate"},
		{"rate not convertible", sdk.TTSConfig{SampleRate: 12345}, "sample_rate"},
		{"encoding", sdk.TTSConfig{Encoding: "mulaw"}, "encoding"},
		{"speed", sdk.TTSConfig{Speed: 10}, "speed"},
	}
	e := newTestEngine(t, "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Synthesize(context.Background(), tc.cfg)
			assertInvalidField(t, err, tc.field)
		})
	}
}

func assertInvalidField(t *testing.T, err error, field string) {
	t.Helper()
	var se *sdk.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
	assert.Equal(t, field, se.Details["field"])
	assert.Contains(t, se.Message, field)
}

func TestInfo(t *testing.T) {
	info, err := newTestEngine(t, "").Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sdk.KindTTS, info.Kind)
	assert.Equal(t, pluginName, info.Name)
	assert.Contains(t, info.AudioFormats, sdk.AudioFormat{Encoding: sdk.EncodingPCM16LE, SampleRate: 16000, Channels: 1})
	assert.Contains(t, info.Capabilities, "voices:awb,kal,kal16,rms,slt")
}
