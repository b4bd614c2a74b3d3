package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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

const testKey = "sk-test-123"

// fakeRequest is what the fake OpenAI server saw.
type fakeRequest struct {
	Method string
	Path   string
	Query  map[string][]string
	Auth   string
	CType  string
	Body   map[string]any
}

// fakeOpenAI reproduces POST /v1/audio/speech with response_format=pcm:
// raw 24 kHz PCM16LE streamed with chunked transfer encoding, written here
// in odd-sized pieces, each flushed.
type fakeOpenAI struct {
	mu       sync.Mutex
	requests []fakeRequest
	// respond writes the response for one request; nil uses streamPCM.
	respond func(w http.ResponseWriter, r *http.Request, text string)
}

func (f *fakeOpenAI) handler(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Auth: r.Header.Get("Authorization"), CType: r.Header.Get("Content-Type"), Body: body,
	})
	respond := f.respond
	f.mu.Unlock()
	text, _ := body["input"].(string)
	if respond == nil {
		streamPCM(w, text)
		return
	}
	respond(w, r, text)
}

func (f *fakeOpenAI) seen() []fakeRequest {
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

func newFake(t *testing.T) (*fakeOpenAI, *httptest.Server) {
	t.Helper()
	f := &fakeOpenAI{}
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
	settings := map[string]any{"base_url": baseURL + "/v1"}
	for k, v := range extra {
		settings[k] = v
	}
	raw, err := json.Marshal(settings)
	require.NoError(t, err)
	require.NoError(t, p.Configure(context.Background(), raw))
	t.Cleanup(func() { p.cfg.client.CloseIdleConnections() })
	return p
}

func joinPCM(chunks []sdk.AudioChunk) []byte {
	var out []byte
	for _, c := range chunks {
		out = append(out, c.PCM...)
	}
	return out
}

func TestSynthesizeStreamsSentencesInOrder(t *testing.T) {
	fake, srv := newFake(t)
	p := configured(t, srv.URL, map[string]any{"model": "tts-1", "voice": "nova", "instructions": "Speak calmly."})
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 24000, Speed: 1.1})
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
	var wantAudio []byte
	spanOf := map[int]int{}
	for _, c := range chunks {
		assert.Zero(t, len(c.PCM)%2, "chunks hold whole samples")
		assert.Equal(t, 24000, c.SampleRate, "native rate, not resampled")
		spanOf[c.TextStart] = c.TextEnd
	}
	for _, sn := range sentences {
		wantAudio = append(wantAudio, pcmFor(sn.Text)...)
		assert.Equal(t, sn.End, spanOf[sn.Start], "span of %q", sn.Text)
		assert.Equal(t, sn.Text, strings.TrimSpace(full[sn.Start:sn.End]))
	}
	assert.Equal(t, wantAudio, joinPCM(chunks), "audio in text order, nothing lost at odd chunk edges")

	reqs := fake.seen()
	require.Len(t, reqs, len(sentences))
	for i, r := range reqs {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/v1/audio/speech", r.Path)
		assert.Empty(t, r.Query)
		assert.Equal(t, "Bearer "+testKey, r.Auth)
		assert.Equal(t, "application/json", r.CType)
		assert.Equal(t, map[string]any{
			"model": "tts-1", "input": sentences[i].Text, "voice": "nova", "response_format": "pcm",
			"speed": 1.1, "instructions": "Speak calmly.",
		}, r.Body)
	}
}

func TestResampledToTheRequestedRate(t *testing.T) {
	const amp = 8000.0
	p := toneServer(t, 1000, amp)
	for _, rate := range []int{16000, 8000, 22050, 48000} {
		t.Run(strconv.Itoa(rate), func(t *testing.T) {
			out := synthesizeAt(t, p, rate)
			require.Len(t, out, rate, "one second of audio at %d Hz", rate)
			level := toneLevel(out, rate, 1000, rate/20)
			assert.InDelta(t, 0, db(level/amp), 0.5, "1 kHz survives resampling")
		})
	}
}

func TestKeyIsOptionalForCompatibleServers(t *testing.T) {
	fake, srv := newFake(t)
	p := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	require.NoError(t, p.Configure(t.Context(), json.RawMessage(`{"base_url":"`+srv.URL+`/v1","model":"kokoro","voice":"af_sky"}`)))
	t.Cleanup(func() { p.cfg.client.CloseIdleConnections() })
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendText("Local."))
	require.NoError(t, s.CloseSend())
	_, err = providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	reqs := fake.seen()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Auth, "no Authorization header without a key")
	assert.NotContains(t, reqs[0].Body, "speed", "server default speed")
	assert.NotContains(t, reqs[0].Body, "instructions")
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
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 24000})
	require.NoError(t, err)
	require.NoError(t, s.SendText("Odd."))
	require.NoError(t, s.CloseSend())
	c, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2}, c.PCM, "the first chunk arrives while the response is still open")
	close(next)
	chunks, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, []byte{3, 4, 5, 6}, joinPCM(chunks))
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
		{"bad request", 400, nil, `{"error":{"message":"Invalid voice","type":"invalid_request_error","param":"voice","code":null}}`, sdk.CodeInvalidArgument, 0},
		{"bad key", 401, nil, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, sdk.CodeUnauthenticated, 0},
		{"forbidden", 403, nil, `{"error":{"message":"Country not supported","type":"request_forbidden","param":null,"code":"unsupported_country_region_territory"}}`, sdk.CodePermissionDenied, 0},
		{"rate limited", 429, map[string]string{"Retry-After": "2"}, `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, sdk.CodeResourceExhausted, 2 * time.Second},
		{"server error", 500, nil, `{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`, sdk.CodeUnavailable, 0},
		{"overloaded", 503, nil, `{"error":{"message":"overloaded","type":"server_error"}}`, sdk.CodeUnavailable, 0},
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
			s, err := p.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 16000})
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

func TestConfigureRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		env      map[string]string
		field    string
	}{
		{"unknown field", `{"bogus":1}`, nil, "bogus"},
		{"wrong type", `{"voice":5}`, nil, "voice"},
		{"empty model", `{"model":""}`, nil, "model"},
		{"bad base url", `{"base_url":"localhost:8000"}`, nil, "base_url"},
		{"speed out of range", `{"speed":5}`, nil, "speed"},
		{"bad duration", `{"idle_timeout":"0s"}`, nil, "idle_timeout"},
		{"missing key for api.openai.com", `{}`, map[string]string{}, "api_key_env"},
		{"missing key in custom env", `{"api_key_env":"MY_KEY"}`, map[string]string{defaultAPIKeyEnv: "x"}, "api_key_env"},
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
		"sample_rate": {SampleRate: 96000},
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

func TestInfo(t *testing.T) {
	p := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	info, err := p.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sdk.KindTTS, info.Kind)
	assert.Equal(t, pluginName, info.Name)
	assert.Equal(t, nativeRate, info.AudioFormats[0].SampleRate)
}
