package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
	"github.com/parleyhq/parley/sdk/sentence"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "test-key-123"

// fakeRequest is what the fake ElevenLabs server saw.
type fakeRequest struct {
	Method string
	Path   string
	Query  map[string][]string
	Key    string
	CType  string
	Body   map[string]any
}

// fakeElevenLabs reproduces the stream endpoint: POST
// /v1/text-to-speech/{voice_id}/stream?output_format=pcm_<rate>, answering
// with chunked raw PCM16LE written in odd-sized pieces, each flushed.
type fakeElevenLabs struct {
	mu       sync.Mutex
	requests []fakeRequest
	// respond writes the response for one request; nil uses streamPCM.
	respond func(w http.ResponseWriter, r *http.Request, text string)
}

func (f *fakeElevenLabs) handler(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Key: r.Header.Get("xi-api-key"), CType: r.Header.Get("Content-Type"), Body: body,
	})
	respond := f.respond
	f.mu.Unlock()
	text, _ := body["text"].(string)
	if respond == nil {
		streamPCM(w, text)
		return
	}
	respond(w, r, text)
}

func (f *fakeElevenLabs) seen() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

// pcmFor is the deterministic "audio" the fake returns for text: two bytes
// per character plus one odd byte pair, so each sentence has its own length.
func pcmFor(text string) []byte {
	out := make([]byte, 0, 2*len(text)+2)
	for i := range len(text) + 1 {
		out = append(out, text[i%len(text)], byte(i))
	}
	return out
}

// oddSizes are the sizes of the pieces the fake writes (each flushed).
var oddSizes = []int{3, 1, 5, 7, 2, 9} //nolint:gochecknoglobals // test table.

func streamPCM(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "audio/pcm")
	w.WriteHeader(http.StatusOK)
	pcm := pcmFor(text)
	flusher := w.(http.Flusher)
	for i := 0; len(pcm) > 0; i++ {
		n := min(oddSizes[i%len(oddSizes)], len(pcm))
		_, _ = w.Write(pcm[:n])
		flusher.Flush()
		pcm = pcm[n:]
	}
}

func newFake(t *testing.T) (*fakeElevenLabs, *httptest.Server) {
	t.Helper()
	f := &fakeElevenLabs{}
	srv := httptest.NewServer(http.HandlerFunc(f.handler))
	t.Cleanup(srv.Close)
	return f, srv
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func configured(t *testing.T, baseURL string, extra map[string]any) *plugin {
	t.Helper()
	p := newPlugin(slog.New(slog.DiscardHandler), env(map[string]string{defaultAPIKeyEnv: testKey}))
	settings := map[string]any{"voice_id": "voice-1", "base_url": baseURL}
	for k, v := range extra {
		settings[k] = v
	}
	raw, err := json.Marshal(settings)
	require.NoError(t, err)
	require.NoError(t, p.Configure(context.Background(), raw))
	t.Cleanup(func() { p.cfg.client.CloseIdleConnections() })
	return p
}

func TestSynthesizeStreamsSentencesInOrder(t *testing.T) {
	fake, srv := newFake(t)
	p := configured(t, srv.URL+"/", map[string]any{
		"model_id":       "eleven_turbo_v2_5",
		"voice_settings": map[string]any{"stability": 0.5, "similarity_boost": 0.75, "use_speaker_boost": true},
	})
	ctx := t.Context()
	s, err := p.Synthesize(ctx, sdk.TTSConfig{SampleRate: 22050, Speed: 1.1})
	require.NoError(t, err)

	text := []string{"Hello th", "ere. How are", " you? I am", " fine"}
	for _, d := range text {
		require.NoError(t, s.SendText(d))
	}
	require.NoError(t, s.CloseSend())
	chunks, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)

	full := strings.Join(text, "")
	sentences := []sentence.Span{{Text: "Hello there.", Start: 0, End: 12}, {Text: "How are you?", Start: 12, End: 25}, {Text: "I am fine", Start: 25, End: 35}}
	var got []byte
	var wantAudio []byte
	spanOf := map[int]int{}
	for _, c := range chunks {
		assert.Zero(t, len(c.PCM)%2, "chunks hold whole samples")
		assert.Equal(t, 22050, c.SampleRate)
		got = append(got, c.PCM...)
		spanOf[c.TextStart] = c.TextEnd
	}
	for _, sn := range sentences {
		wantAudio = append(wantAudio, pcmFor(sn.Text)...)
		assert.Equal(t, sn.End, spanOf[sn.Start], "span of %q", sn.Text)
		assert.Equal(t, sn.Text, strings.TrimSpace(full[sn.Start:sn.End]))
	}
	assert.Equal(t, wantAudio, got, "audio in text order, nothing lost at odd chunk edges")

	reqs := fake.seen()
	require.Len(t, reqs, len(sentences))
	for i, r := range reqs {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/v1/text-to-speech/voice-1/stream", r.Path)
		assert.Equal(t, map[string][]string{"output_format": {"pcm_22050"}}, r.Query)
		assert.Equal(t, testKey, r.Key)
		assert.Equal(t, "application/json", r.CType)
		assert.Equal(t, map[string]any{
			"text":     sentences[i].Text,
			"model_id": "eleven_turbo_v2_5",
			"voice_settings": map[string]any{
				"stability": 0.5, "similarity_boost": 0.75, "use_speaker_boost": true, "speed": 1.1,
			},
		}, r.Body)
	}
}

func TestOddByteIsCarriedToTheNextChunk(t *testing.T) {
	fake, srv := newFake(t)
	next := make(chan struct{})
	fake.respond = func(w http.ResponseWriter, r *http.Request, _ string) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte{1, 2, 3})
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte{4, 5, 6})
	}
	p := configured(t, srv.URL, nil)
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendText("Odd."))
	require.NoError(t, s.CloseSend())
	c, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2}, c.PCM, "the first chunk arrives while the response is still open")
	close(next)
	chunks, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	var rest []byte
	for _, c := range chunks {
		rest = append(rest, c.PCM...)
	}
	assert.Equal(t, []byte{3, 4, 5, 6}, rest)
}

func TestFlushSpeaksPendingText(t *testing.T) {
	fake, srv := newFake(t)
	p := configured(t, srv.URL, nil)
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{Voice: "other voice"})
	require.NoError(t, err)
	require.NoError(t, s.SendText("no boundary yet"))
	require.NoError(t, s.Flush())
	c, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, 16000, c.SampleRate, "default rate")
	assert.Equal(t, 0, c.TextStart)
	assert.Equal(t, 15, c.TextEnd)
	reqs := fake.seen()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/text-to-speech/other voice/stream", reqs[0].Path, "voice from the stream config")
	assert.Equal(t, []string{"pcm_16000"}, reqs[0].Query["output_format"])
	assert.NotContains(t, reqs[0].Body, "voice_settings", "provider defaults when none set")
	require.NoError(t, s.CloseSend())
	_, err = providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	assert.Len(t, fake.seen(), 1, "nothing left to speak")
}

func TestProviderErrorsAreMapped(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		code       sdk.Code
		retryAfter time.Duration
	}{
		{"bad request", 400, nil, `{"detail":{"status":"invalid_text","message":"text too long"}}`, sdk.CodeInvalidArgument, 0},
		{"bad key", 401, nil, `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`, sdk.CodeUnauthenticated, 0},
		{"forbidden", 403, nil, `{"detail":{"status":"missing_permissions","message":"no access"}}`, sdk.CodePermissionDenied, 0},
		{"rate limited", 429, map[string]string{"Retry-After": "7"}, `{"detail":{"status":"too_many_concurrent_requests","message":"slow down"}}`, sdk.CodeResourceExhausted, 7 * time.Second},
		{"server error", 500, nil, `internal`, sdk.CodeUnavailable, 0},
		{"unavailable", 503, nil, `{"detail":{"message":"overloaded"}}`, sdk.CodeUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFake(t)
			fake.respond = func(w http.ResponseWriter, _ *http.Request, _ string) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}
			p := configured(t, srv.URL, nil)
			s, err := p.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 16000})
			require.NoError(t, err)
			require.NoError(t, s.SendText("Hello."))
			require.NoError(t, s.CloseSend())
			_, err = providertest.Collect(t, s)
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.code, se.Code)
			assert.Equal(t, tt.retryAfter, se.RetryAfter)
			assert.NotContains(t, se.Error(), testKey, "never leak the key")
		})
	}
}

func TestCancelDuringSlowStreamReturnsCanceled(t *testing.T) {
	fake, srv := newFake(t)
	release := make(chan struct{})
	defer close(release)
	fake.respond = func(w http.ResponseWriter, r *http.Request, _ string) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte{1, 2, 3, 4})
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	p := configured(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.Synthesize(ctx, sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendText("A slow sentence."))
	require.NoError(t, s.CloseSend())
	c, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3, 4}, c.PCM)
	cancel()
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err), "got %v", err)
}

func TestTransportFailuresAreUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request, _ string)
		extra   map[string]any
		message string
	}{
		{
			name: "connection dropped mid-stream",
			respond: func(w http.ResponseWriter, _ *http.Request, _ string) {
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte{1, 2, 3})
				w.(http.Flusher).Flush()
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			},
			message: "stream ended before completion",
		},
		{
			name: "no audio within idle_timeout",
			respond: func(w http.ResponseWriter, r *http.Request, _ string) {
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte{1, 2})
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			extra:   map[string]any{"idle_timeout": "50ms"},
			message: "no data for 50ms",
		},
		{
			name: "no response headers within idle_timeout",
			respond: func(_ http.ResponseWriter, r *http.Request, _ string) {
				<-r.Context().Done()
			},
			extra: map[string]any{"idle_timeout": "50ms"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFake(t)
			fake.respond = tt.respond
			p := configured(t, srv.URL, tt.extra)
			s, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
			require.NoError(t, err)
			require.NoError(t, s.SendText("Hello."))
			require.NoError(t, s.CloseSend())
			_, err = providertest.Collect(t, s)
			require.Error(t, err)
			assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "got %v", err)
			assert.NotErrorIs(t, err, io.EOF, "never a silent end")
			if tt.message != "" {
				assert.Contains(t, err.Error(), tt.message)
			}
		})
	}
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p := configured(t, url, nil)
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendText("Hello."))
	require.NoError(t, s.CloseSend())
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "got %v", err)
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		env      map[string]string
		field    string
	}{
		{"unknown field", `{"voice_id":"v","bogus":1}`, nil, "bogus"},
		{"missing voice", `{}`, nil, "voice_id"},
		{"wrong type", `{"voice_id":5}`, nil, "voice_id"},
		{"bad base url", `{"voice_id":"v","base_url":"ftp://x"}`, nil, "base_url"},
		{"websocket mode not implemented", `{"voice_id":"v","mode":"stream-input"}`, nil, "mode"},
		{"bad duration", `{"voice_id":"v","idle_timeout":"-1s"}`, nil, "idle_timeout"},
		{"stability out of range", `{"voice_id":"v","voice_settings":{"stability":2}}`, nil, "voice_settings.stability"},
		{"speed out of range", `{"voice_id":"v","voice_settings":{"speed":3}}`, nil, "voice_settings.speed"},
		{"missing key", `{"voice_id":"v"}`, map[string]string{}, "api_key_env"},
		{"missing key in custom env", `{"voice_id":"v","api_key_env":"MY_KEY"}`, map[string]string{defaultAPIKeyEnv: "x"}, "api_key_env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := tt.env
			if vars == nil {
				vars = map[string]string{defaultAPIKeyEnv: testKey}
			}
			p := newPlugin(slog.New(slog.DiscardHandler), env(vars))
			err := p.Configure(t.Context(), json.RawMessage(tt.settings))
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
			assert.Equal(t, tt.field, se.Details["field"], "message: %s", se.Message)
		})
	}
}

func TestSynthesizeRejectsBadStreamConfig(t *testing.T) {
	_, srv := newFake(t)
	p := configured(t, srv.URL, nil)
	for name, tc := range map[string]sdk.TTSConfig{
		"sample_rate": {SampleRate: 48001},
		"encoding":    {Encoding: "mulaw"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Synthesize(t.Context(), tc)
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
			assert.Equal(t, name, se.Details["field"])
		})
	}
	unconfigured := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	_, err := unconfigured.Synthesize(t.Context(), sdk.TTSConfig{})
	assert.Equal(t, sdk.CodeFailedPrecondition, sdk.CodeOf(err))
}

func TestSendAfterCloseFails(t *testing.T) {
	_, srv := newFake(t)
	p := configured(t, srv.URL, nil)
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, s.CloseSend())
	err = s.SendText("late")
	assert.ErrorIs(t, err, sentence.ErrClosed)
	assert.Equal(t, sdk.CodeFailedPrecondition, sdk.CodeOf(err))
	_, err = providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
}

func TestInfo(t *testing.T) {
	p := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	info, err := p.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sdk.KindTTS, info.Kind)
	assert.Equal(t, pluginName, info.Name)
	assert.Len(t, info.AudioFormats, len(supportedRates))
}
