package sphinx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/plugintest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test bounds.
const (
	// maxWER is the word error rate allowed over the test sentences. Flite
	// voices are recognised almost word for word; the bound leaves room for
	// one or two slips without letting a broken pipeline through.
	maxWER = 0.15
	// eventually bounds assert.Eventually waits; the decoder goes back to
	// the pool within one 20 ms block, so this is only a safety net.
	eventually = 5 * time.Second
	tick       = 5 * time.Millisecond
)

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newEngine returns a configured engine that is closed with the test.
func newEngine(t testing.TB, settings string) *Engine {
	t.Helper()
	e := New(testLogger())
	require.NoError(t, e.Configure(context.Background(), json.RawMessage(settings)))
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

func sttConfig(interim bool) sdk.STTConfig {
	return sdk.STTConfig{SampleRate: SampleRate, Encoding: sdk.EncodingPCM16LE, Language: "en-US", InterimResults: interim}
}

func isCode(err error, c sdk.Code) bool {
	return errors.Is(err, &sdk.Error{Code: c})
}

func TestTranscribeSentences(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	sentences := []string{
		"what time is it",
		"what is seven times six",
		"hello how are you",
		"what is the weather in paris today",
		"please call my mother tomorrow morning",
		"set an alarm for seven thirty",
		"how far is the moon from the earth",
		"turn off the lights in the kitchen",
	}
	var errsTotal, wordsTotal int
	for _, text := range sentences {
		t.Run(text, func(t *testing.T) {
			pcm := speech(t, text)
			r := transcribeAll(t, e, false, pcm)
			finals := r.finals()
			require.Len(t, finals, 1)
			require.Len(t, r.events, 1, "no partials without InterimResults")
			f := finals[0]
			errs, words := plugintest.WordErrors(text, f.Text)
			errsTotal += errs
			wordsTotal += words
			t.Logf("ref %q hyp %q errors %d/%d confidence %.3f span %s-%s of %s",
				text, f.Text, errs, words, f.Confidence, f.Start, f.End, samplesToDuration(int64(len(pcm)/2)))
			assert.InDelta(t, 0.5, f.Confidence, 0.5, "confidence is within 0..1")
			assert.Positive(t, f.Confidence)
			assert.Less(t, f.Start, f.End)
			assert.GreaterOrEqual(t, f.Start, padDuration/2, "speech starts after the leading silence")
			assert.LessOrEqual(t, f.End, samplesToDuration(int64(len(pcm)/2)))
		})
	}
	wer := float64(errsTotal) / float64(wordsTotal)
	t.Logf("word error rate over %d sentences: %d/%d = %.3f", len(sentences), errsTotal, wordsTotal, wer)
	assert.LessOrEqual(t, wer, maxWER)
}

func TestPartialsBeforeFinal(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	const text = "what is the weather in paris today"
	pcm := speech(t, text)
	r := transcribeAll(t, e, true, pcm)
	require.NotEmpty(t, r.events)
	last := r.events[len(r.events)-1]
	require.True(t, last.Final, "the final comes last")
	partials := r.events[:len(r.events)-1]
	require.NotEmpty(t, partials, "partials arrive while audio streams in")
	prevEnd := time.Duration(0)
	for i, p := range partials {
		assert.False(t, p.Final)
		assert.NotEmpty(t, p.Text)
		assert.Greater(t, p.End, prevEnd, "partials move forward in the audio")
		if i > 0 {
			assert.NotEqual(t, partials[i-1].Text, p.Text, "only changed hypotheses are sent")
		}
		prevEnd = p.End
	}
	t.Logf("%d partials, first %q at %s; final %q", len(partials), partials[0].Text, partials[0].End, last.Text)
	errs, _ := plugintest.WordErrors(text, last.Text)
	assert.LessOrEqual(t, errs, 1)
}

func TestFlushSplitsUtterances(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	first, second := speech(t, "hello how are you"), speech(t, "what time is it")
	r := transcribeAll(t, e, false, first, second)
	finals := r.finals()
	require.Len(t, finals, 2)
	firstLen := samplesToDuration(int64(len(first) / 2))
	total := samplesToDuration(int64((len(first) + len(second)) / 2))
	assert.Equal(t, "hello how are you", finals[0].Text)
	assert.Equal(t, "what time is it", finals[1].Text)
	assert.LessOrEqual(t, finals[0].End, firstLen)
	assert.GreaterOrEqual(t, finals[1].Start, firstLen, "offsets count from the start of the stream")
	assert.LessOrEqual(t, finals[1].End, total)
}

func TestFlushWithoutAudioEmitsNothing(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	st, err := e.Transcribe(context.Background(), sttConfig(true))
	require.NoError(t, err)
	done := receive(st)
	require.NoError(t, st.Flush())
	require.NoError(t, st.CloseSend())
	r := <-done
	require.ErrorIs(t, r.err, io.EOF)
	assert.Empty(t, r.events)
}

func TestSilenceGivesEmptyFinal(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	silence := make([]byte, SampleRate*bytesPerSample) // one second
	r := transcribeAll(t, e, true, silence)
	finals := r.finals()
	require.Len(t, finals, 1)
	assert.Empty(t, finals[0].Text)
	assert.Zero(t, finals[0].Confidence)
}

func TestGrammar(t *testing.T) {
	dir := t.TempDir()
	grammar := filepath.Join(dir, "commands.gram")
	require.NoError(t, os.WriteFile(grammar, []byte(`#JSGF V1.0;
grammar commands;
public <command> = (turn on | turn off) the (lights | radio) | what time is it;
`), 0o600))
	e := newEngine(t, `{"pool_size": 1, "grammar": "`+grammar+`"}`)
	r := transcribeAll(t, e, false, speech(t, "turn off the radio"))
	finals := r.finals()
	require.Len(t, finals, 1)
	assert.Equal(t, "turn off the radio", finals[0].Text)
}

func TestConcurrentStreams(t *testing.T) {
	e := newEngine(t, `{"pool_size": 2, "acquire_wait": "0s"}`)
	texts := []string{"hello how are you", "turn off the lights in the kitchen"}
	audio := make([][]byte, len(texts))
	for i, text := range texts {
		audio[i] = speech(t, text)
	}
	results := make(chan received, len(texts))
	for i := range texts {
		go func() {
			st, err := e.Transcribe(context.Background(), sttConfig(true))
			if err != nil {
				results <- received{err: err}
				return
			}
			done := receive(st)
			for off := 0; off < len(audio[i]); off += chunkBytes {
				if err := st.SendAudio(audio[i][off:min(off+chunkBytes, len(audio[i]))]); err != nil {
					results <- received{err: err}
					return
				}
			}
			if err := st.CloseSend(); err != nil {
				results <- received{err: err}
				return
			}
			results <- <-done
		}()
	}
	var got []string
	for range texts {
		r := <-results
		require.ErrorIs(t, r.err, io.EOF)
		require.Len(t, r.finals(), 1)
		got = append(got, r.finals()[0].Text)
	}
	assert.ElementsMatch(t, texts, got, "each stream hears its own audio")
	assert.EqualValues(t, 2, e.decoderInits())
	assert.Equal(t, 2, e.idleDecoders())
}

func TestPoolExhaustedThenReused(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1, "acquire_wait": "50ms"}`)
	require.EqualValues(t, 1, e.decoderInits(), "the pool is warmed at Configure")

	first, err := e.Transcribe(context.Background(), sttConfig(false))
	require.NoError(t, err)
	firstDone := receive(first)

	_, err = e.Transcribe(context.Background(), sttConfig(false))
	require.Error(t, err)
	assert.True(t, isCode(err, sdk.CodeResourceExhausted), "got %v", err)
	var se *sdk.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 50*time.Millisecond, se.RetryAfter)

	sendChunks(t, first, speech(t, "hello how are you"))
	require.NoError(t, first.CloseSend())
	r := <-firstDone
	require.ErrorIs(t, r.err, io.EOF)
	require.Equal(t, 1, e.idleDecoders(), "the decoder is back when the stream has ended")

	r = transcribeAll(t, e, false, speech(t, "what time is it"))
	require.Len(t, r.finals(), 1)
	assert.Equal(t, "what time is it", r.finals()[0].Text)
	assert.EqualValues(t, 1, e.decoderInits(), "the second stream reused the warm decoder")
}

func TestAcquireWaitsForRelease(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1, "acquire_wait": "30s"}`)
	first, err := e.Transcribe(context.Background(), sttConfig(false))
	require.NoError(t, err)
	firstDone := receive(first)

	type opened struct {
		st  sdk.STTStream
		err error
	}
	second := make(chan opened, 1)
	go func() {
		st, err := e.Transcribe(context.Background(), sttConfig(false))
		second <- opened{st, err}
	}()
	require.NoError(t, first.CloseSend())
	require.ErrorIs(t, (<-firstDone).err, io.EOF)
	o := <-second
	require.NoError(t, o.err)
	require.NoError(t, o.st.CloseSend())
	_, err = o.st.Recv()
	require.ErrorIs(t, err, io.EOF)
	assert.EqualValues(t, 1, e.decoderInits())
}

func TestAcquireHonoursContext(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1, "acquire_wait": "1m"}`)
	first, err := e.Transcribe(context.Background(), sttConfig(false))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Transcribe(ctx, sttConfig(false))
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, first.CloseSend())
	_, err = first.Recv()
	require.ErrorIs(t, err, io.EOF)
}

func TestCancelReturnsDecoder(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := e.Transcribe(ctx, sttConfig(true))
	require.NoError(t, err)
	recvErr := make(chan error, 1)
	go func() {
		for {
			if _, err := st.Recv(); err != nil {
				recvErr <- err
				return
			}
		}
	}()
	// Audio is queued but the stream is never closed: only cancellation
	// can end it.
	sendChunks(t, st, speech(t, "what is the weather in paris today"))
	require.Zero(t, e.idleDecoders())

	start := time.Now()
	cancel()
	err = <-recvErr
	t.Logf("Recv returned %s after cancel", time.Since(start))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err))
	require.Eventually(t, func() bool { return e.idleDecoders() == 1 }, eventually, tick)

	e.mu.Lock()
	p := e.pool
	e.mu.Unlock()
	d, err := p.acquire(context.Background(), 0)
	require.NoError(t, err)
	assert.False(t, d.inUtt, "the utterance was ended before the decoder went back")
	p.release(d)

	require.ErrorIs(t, st.SendAudio(make([]byte, chunkBytes)), context.Canceled)

	r := transcribeAll(t, e, false, speech(t, "what time is it"))
	assert.Equal(t, "what time is it", r.finals()[0].Text, "the decoder works after a cancelled stream")
}

func TestStreamConfigErrors(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	tests := []struct {
		name  string
		cfg   sdk.STTConfig
		field string
	}{
		{"8 kHz", sdk.STTConfig{SampleRate: 8000, Encoding: sdk.EncodingPCM16LE}, "sample_rate"},
		{"48 kHz", sdk.STTConfig{SampleRate: 48000}, "sample_rate"},
		{"no rate", sdk.STTConfig{Encoding: sdk.EncodingPCM16LE}, "sample_rate"},
		{"mu-law", sdk.STTConfig{SampleRate: SampleRate, Encoding: "mulaw"}, "encoding"},
		{"french", sdk.STTConfig{SampleRate: SampleRate, Language: "fr-FR"}, "language"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Transcribe(context.Background(), tc.cfg)
			require.Error(t, err)
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
			assert.Equal(t, tc.field, se.Details["field"])
		})
	}
	assert.Equal(t, 1, e.idleDecoders(), "refused streams take no decoder")

	t.Run("british english is english", func(t *testing.T) {
		st, err := e.Transcribe(context.Background(), sdk.STTConfig{SampleRate: SampleRate, Language: "en-GB"})
		require.NoError(t, err)
		require.NoError(t, st.CloseSend())
		_, err = st.Recv()
		require.ErrorIs(t, err, io.EOF)
	})
}

func TestSendErrors(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	st, err := e.Transcribe(context.Background(), sttConfig(false))
	require.NoError(t, err)
	err = st.SendAudio([]byte{1, 2, 3})
	assert.True(t, isCode(err, sdk.CodeInvalidArgument), "odd length: %v", err)
	require.NoError(t, st.SendAudio(nil))
	require.NoError(t, st.CloseSend())
	require.NoError(t, st.CloseSend(), "CloseSend twice is harmless")
	assert.True(t, isCode(st.SendAudio([]byte{0, 0}), sdk.CodeFailedPrecondition))
	assert.True(t, isCode(st.Flush(), sdk.CodeFailedPrecondition))
	_, err = st.Recv()
	require.ErrorIs(t, err, io.EOF)
}

func TestConfigureErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name     string
		settings string
		field    string
	}{
		{"unknown field", `{"pool_size": 1, "bogus": true}`, "bogus"},
		{"not an object", `[1]`, "settings"},
		{"trailing data", `{} {}`, "settings"},
		{"pool size type", `{"pool_size": "two"}`, "pool_size"},
		{"pool size zero", `{"pool_size": 0}`, "pool_size"},
		{"pool size huge", `{"pool_size": 1000}`, "pool_size"},
		{"acquire wait syntax", `{"acquire_wait": "soon"}`, "acquire_wait"},
		{"acquire wait negative", `{"acquire_wait": "-1s"}`, "acquire_wait"},
		{"partial interval tiny", `{"partial_interval": "1ms"}`, "partial_interval"},
		{"model dir missing", `{"model_dir": "` + missing + `"}`, "model_dir"},
		{"model dir is a file", `{"model_dir": "` + file + `"}`, "model_dir"},
		{"model dir without mdef", `{"model_dir": "` + dir + `"}`, "model_dir"},
		{"dictionary missing", `{"dictionary": "` + missing + `"}`, "dictionary"},
		{"dictionary is a dir", `{"dictionary": "` + dir + `"}`, "dictionary"},
		{"language model missing", `{"language_model": "` + missing + `"}`, "language_model"},
		{"grammar missing", `{"grammar": "` + missing + `"}`, "grammar"},
		{"keyword list missing", `{"keyword_list": "` + missing + `"}`, "keyword_list"},
		{"grammar and keywords", `{"grammar": "` + file + `", "keyword_list": "` + file + `"}`, "grammar"},
		{"empty language", `{"language": ""}`, "language"},
		{"option without dash", `{"options": {"beam": "1e-48"}}`, "options"},
		{"reserved option", `{"options": {"-hmm": "/x"}}`, "options"},
		{"unknown pocketsphinx flag", `{"options": {"-no_such_flag": "1"}}`, "options"},
		{"unloadable grammar", `{"grammar": "` + file + `"}`, "grammar"},
		{"unloadable language model", `{"language_model": "` + file + `"}`, "model_dir"},
	}
	e := New(testLogger())
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Configure(context.Background(), json.RawMessage(tc.settings))
			require.Error(t, err)
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, sdk.CodeInvalidArgument, se.Code, "%v", err)
			assert.Equal(t, tc.field, se.Details["field"], "%v", err)
		})
	}
	assert.Zero(t, e.decoderInits(), "no decoder survives bad settings")
}

func TestParseSettingsDefaults(t *testing.T) {
	for _, raw := range []string{``, `null`, `{}`, ` {} `} {
		s, err := ParseSettings([]byte(raw))
		require.NoError(t, err, "%q", raw)
		assert.Equal(t, DefaultSettings(), s)
	}
	s, err := ParseSettings([]byte(`{"pool_size": 3, "acquire_wait": "250ms", "partial_interval": "200ms",
		"language": "en-GB", "options": {"-beam": "1e-60", "-bestpath": "yes"}}`))
	require.NoError(t, err)
	assert.Equal(t, 3, s.PoolSize)
	assert.Equal(t, 250*time.Millisecond, s.AcquireWait)
	assert.Equal(t, 200*time.Millisecond, s.PartialInterval)
	assert.Equal(t, "en-GB", s.Language)
	args := strings.Join(s.decoderArgs(), " ")
	assert.Contains(t, args, "-lm "+DefaultLanguageModel)
	assert.True(t, strings.HasSuffix(args, "-beam 1e-60 -bestpath yes"), args)
}

func TestReconfigure(t *testing.T) {
	e := newEngine(t, `{"pool_size": 1}`)
	require.EqualValues(t, 1, e.decoderInits())
	require.NoError(t, e.Configure(context.Background(), json.RawMessage(`{"pool_size": 1, "acquire_wait": "2s"}`)))
	assert.EqualValues(t, 1, e.decoderInits(), "pool-independent changes keep the warm decoders")

	busy, err := e.Transcribe(context.Background(), sttConfig(false))
	require.NoError(t, err)
	require.NoError(t, e.Configure(context.Background(), json.RawMessage(`{"pool_size": 2}`)))
	assert.EqualValues(t, 3, e.decoderInits(), "a new pool size warms a new pool")
	assert.Equal(t, 2, e.idleDecoders())

	// The stream opened on the retired pool still works.
	sendChunks(t, busy, speech(t, "hello how are you"))
	done := receive(busy)
	require.NoError(t, busy.CloseSend())
	r := <-done
	require.ErrorIs(t, r.err, io.EOF)
	assert.Equal(t, "hello how are you", r.finals()[0].Text)
	assert.Equal(t, 2, e.idleDecoders(), "the retired pool's decoder is freed, not added")
}

func TestTranscribeWithoutConfigureUsesDefaults(t *testing.T) {
	e := New(testLogger())
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	st, err := e.Transcribe(context.Background(), sttConfig(false))
	require.NoError(t, err)
	require.NoError(t, st.CloseSend())
	_, err = st.Recv()
	require.ErrorIs(t, err, io.EOF)
	assert.EqualValues(t, DefaultPoolSize, e.decoderInits())
}

func TestClose(t *testing.T) {
	e := New(testLogger())
	require.NoError(t, e.Configure(context.Background(), json.RawMessage(`{"pool_size": 1}`)))
	st, err := e.Transcribe(context.Background(), sttConfig(false))
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	// Close waits for the running stream, which ends with CloseSend.
	require.NoError(t, st.CloseSend())
	_, err = st.Recv()
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, <-closed)
	require.NoError(t, e.Close(), "Close twice is harmless")
	_, err = e.Transcribe(context.Background(), sttConfig(false))
	assert.True(t, isCode(err, sdk.CodeUnavailable), "%v", err)
	assert.True(t, isCode(e.Configure(context.Background(), nil), sdk.CodeUnavailable))
}

func TestInfo(t *testing.T) {
	info, err := New(testLogger()).Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Name, info.Name)
	assert.Equal(t, sdk.KindSTT, info.Kind)
	assert.Equal(t, []sdk.AudioFormat{{Encoding: sdk.EncodingPCM16LE, SampleRate: SampleRate, Channels: 1}}, info.AudioFormats)
}

func TestConfidence(t *testing.T) {
	tests := []struct {
		name   string
		lnProb float64
		words  int
		want   float32
	}{
		{"certain", 0, 3, 1},
		{"no words", -1, 0, 0},
		{"geometric mean", 4 * -0.5, 4, 0.60653067},
		{"positive clamps", 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, confidence(tc.lnProb, tc.words), 1e-6)
		})
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add([]byte(`{"pool_size": 2, "acquire_wait": "1s"}`))
	f.Add([]byte(`{"options": {"-beam": "1e-48"}}`))
	f.Add([]byte(`{"grammar": "/nonexistent"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseSettings(raw)
		if err != nil {
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			require.Equal(t, sdk.CodeInvalidArgument, se.Code)
			require.NotEmpty(t, se.Details["field"])
			return
		}
		require.NoError(t, s.validate())
	})
}
