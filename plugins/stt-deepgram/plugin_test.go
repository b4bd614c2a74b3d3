package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "dg-test-key"

// results renders a Deepgram live "Results" message in the documented shape
// (Deepgram API reference, Live Audio /v1/listen, 2026).
func results(transcript string, start, dur float64, isFinal, speechFinal, fromFinalize bool) string {
	words := []map[string]any{}
	for i, w := range strings.Fields(transcript) {
		words = append(words, map[string]any{
			"word": strings.ToLower(w), "start": start + float64(i)*0.1, "end": start + float64(i+1)*0.1,
			"confidence": 0.98, "punctuated_word": w,
		})
	}
	m := map[string]any{
		"type":          "Results",
		"channel_index": []int{0, 1},
		"duration":      dur,
		"start":         start,
		"is_final":      isFinal,
		"speech_final":  speechFinal,
		"from_finalize": fromFinalize,
		"channel": map[string]any{"alternatives": []map[string]any{
			{"transcript": transcript, "confidence": 0.9, "words": words},
		}},
		"metadata": map[string]any{
			"request_id": "c7e4a4a3-9d55-4c36-9a39-5b1b8b2e9c3e",
			"model_info": map[string]any{"name": "2-general-nova", "version": "2024-01-26.8851", "arch": "nova-3"},
			"model_uuid": "1dbdfb4d-85b2-4659-9831-16b3c76229aa",
		},
	}
	b, _ := json.Marshal(m)
	return string(b)
}

const metadataMsg = `{"type":"Metadata","transaction_key":"deprecated","request_id":"8c8ebea9-dbec-45fa-a035-e4632cb05b5f",` +
	`"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","created":"2024-08-29T22:37:55.202Z",` +
	`"duration":0.0,"channels":0}`

// fakeDeepgram reproduces the live /v1/listen endpoint: token auth on the
// handshake, binary audio in, JSON control messages in text frames, and
// scripted replies. By default it answers CloseStream like Deepgram does:
// a Metadata message, then a normal (1000) close.
type fakeDeepgram struct {
	mu    sync.Mutex
	query url.Values
	auth  string
	audio []byte
	// texts receives every text frame the client sends, exactly.
	texts chan string
	// reject, when set, fails the handshake with this status, header and body.
	reject *rejection

	onAudio       func(ctx context.Context, c *websocket.Conn, chunk []byte)
	onFinalize    func(ctx context.Context, c *websocket.Conn)
	onCloseStream func(ctx context.Context, c *websocket.Conn)
}

type rejection struct {
	status int
	header map[string]string
	body   string
}

func newFake(t *testing.T) (*fakeDeepgram, *httptest.Server) {
	t.Helper()
	f := &fakeDeepgram{texts: make(chan string, 64)}
	srv := httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeDeepgram) handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.query = r.URL.Query()
	f.auth = r.Header.Get("Authorization")
	rej := f.reject
	f.mu.Unlock()
	if r.URL.Path != "/v1/listen" {
		http.NotFound(w, r)
		return
	}
	if rej == nil && f.auth != "Token "+testKey {
		rej = &rejection{status: http.StatusUnauthorized, body: `{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"x"}`}
	}
	if rej != nil {
		for k, v := range rej.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rej.status)
		_, _ = io.WriteString(w, rej.body)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }()
	ctx := r.Context()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			f.mu.Lock()
			f.audio = append(f.audio, data...)
			f.mu.Unlock()
			if f.onAudio != nil {
				f.onAudio(ctx, c, data)
			}
			continue
		}
		select {
		case f.texts <- string(data):
		default: // a test that does not read texts must not stall the fake
		}
		var m struct{ Type string }
		_ = json.Unmarshal(data, &m)
		switch m.Type {
		case "Finalize":
			if f.onFinalize != nil {
				f.onFinalize(ctx, c)
			}
		case "CloseStream":
			if f.onCloseStream != nil {
				f.onCloseStream(ctx, c)
				return
			}
			_ = c.Write(ctx, websocket.MessageText, []byte(metadataMsg))
			_ = c.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

func (f *fakeDeepgram) received() (url.Values, string, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.query, f.auth, append([]byte(nil), f.audio...)
}

func send(ctx context.Context, c *websocket.Conn, msgs ...string) {
	for _, m := range msgs {
		_ = c.Write(ctx, websocket.MessageText, []byte(m))
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func configured(t *testing.T, baseURL string, extra map[string]any) *plugin {
	t.Helper()
	p := newPlugin(slog.New(slog.DiscardHandler), env(map[string]string{defaultAPIKeyEnv: testKey}))
	settings := map[string]any{"base_url": baseURL}
	for k, v := range extra {
		settings[k] = v
	}
	raw, err := json.Marshal(settings)
	require.NoError(t, err)
	require.NoError(t, p.Configure(context.Background(), raw))
	return p
}

func pcm(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestLiveStreamPartialsAndOneFinalPerUtterance(t *testing.T) {
	fake, srv := newFake(t)
	n := 0
	fake.onAudio = func(ctx context.Context, c *websocket.Conn, _ []byte) {
		n++
		switch n {
		case 1:
			send(ctx, c, `{"type":"SpeechStarted","channel":[0],"timestamp":0.0}`,
				results("hello", 0, 0.5, false, false, false))
		case 2:
			send(ctx, c, results("hello world", 0, 1.0, true, false, false),
				results("how", 1.0, 0.3, false, false, false))
		case 3:
			send(ctx, c, results("how are you", 1.0, 0.9, true, true, false),
				results("", 1.9, 0.1, false, false, false))
		}
	}
	fake.onFinalize = func(ctx context.Context, c *websocket.Conn) {
		send(ctx, c, results("", 1.9, 0.2, true, false, true))
	}
	p := configured(t, srv.URL, nil)
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{SampleRate: 16000, Language: "en-US", InterimResults: true})
	require.NoError(t, err)

	var sent []byte
	for range 3 {
		chunk := pcm(640)
		sent = append(sent, chunk...)
		require.NoError(t, s.SendAudio(chunk))
	}
	require.NoError(t, s.Flush())
	require.NoError(t, s.CloseSend())
	events, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)

	require.Len(t, events, 3, "%+v", events)
	assert.Equal(t, sdk.TranscriptEvent{Text: "hello", Confidence: 0.9, Start: 0, End: 500 * time.Millisecond}, events[0])
	assert.False(t, events[1].Final)
	assert.Equal(t, "hello world how", events[1].Text, "a partial carries the utterance so far")
	assert.Equal(t, sdk.TranscriptEvent{
		Text: "hello world how are you", Final: true, Confidence: 0.9,
		Start: 0, End: 1900 * time.Millisecond,
	}, events[2])

	q, auth, audio := fake.received()
	assert.Equal(t, "Token "+testKey, auth)
	assert.Equal(t, url.Values{
		"encoding": {"linear16"}, "sample_rate": {"16000"}, "channels": {"1"}, "interim_results": {"true"},
		"endpointing": {"300"}, "model": {"nova-3"}, "language": {"en-US"},
	}, q)
	assert.Equal(t, sent, audio, "audio passed through unchanged as binary frames")
	var texts []string
	for len(fake.texts) > 0 {
		texts = append(texts, <-fake.texts)
	}
	assert.Equal(t, []string{`{"type":"Finalize"}`, `{"type":"CloseStream"}`}, texts)
}

func TestFinalizeAnswerEndsTheUtterance(t *testing.T) {
	fake, srv := newFake(t)
	fake.onAudio = func(ctx context.Context, c *websocket.Conn, _ []byte) {
		send(ctx, c, results("turn on", 0.2, 0.4, false, false, false)) // interim, not asked for
	}
	fake.onFinalize = func(ctx context.Context, c *websocket.Conn) {
		send(ctx, c, results("turn on the lights", 0.2, 1.1, true, false, true))
	}
	p := configured(t, srv.URL, map[string]any{"model": "nova-2", "language": "de", "endpointing_ms": 0, "smart_format": true})
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{SampleRate: 8000})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(pcm(320)))
	require.NoError(t, s.Flush())
	ev, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, sdk.TranscriptEvent{Text: "turn on the lights", Final: true, Confidence: 0.9,
		Start: 200 * time.Millisecond, End: 1300 * time.Millisecond}, ev)
	require.NoError(t, s.CloseSend())
	events, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	assert.Empty(t, events)
	q, _, _ := fake.received()
	assert.Equal(t, "false", q.Get("interim_results"))
	assert.Equal(t, "false", q.Get("endpointing"))
	assert.Equal(t, "8000", q.Get("sample_rate"))
	assert.Equal(t, "nova-2", q.Get("model"))
	assert.Equal(t, "de", q.Get("language"), "settings language when the stream gives none")
	assert.Equal(t, "true", q.Get("smart_format"))
}

func TestPendingSegmentsAreFinalOnUtteranceEndAndClose(t *testing.T) {
	fake, srv := newFake(t)
	n := 0
	fake.onAudio = func(ctx context.Context, c *websocket.Conn, _ []byte) {
		n++
		if n == 1 {
			send(ctx, c, results("first part", 0, 1, true, false, false),
				`{"type":"UtteranceEnd","channel":[0,1],"last_word_end":0.9}`)
			return
		}
		send(ctx, c, results("second part", 2, 1, true, false, false))
	}
	p := configured(t, srv.URL, map[string]any{"utterance_end_ms": 1000})
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(pcm(320)))
	ev, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, "first part", ev.Text)
	assert.True(t, ev.Final)
	require.NoError(t, s.SendAudio(pcm(320)))
	require.NoError(t, s.CloseSend())
	events, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, events, 1)
	assert.Equal(t, sdk.TranscriptEvent{Text: "second part", Final: true, Confidence: 0.9, Start: 2 * time.Second, End: 3 * time.Second}, events[0])
	q, _, _ := fake.received()
	assert.Equal(t, "1000", q.Get("utterance_end_ms"))
	assert.Equal(t, "true", q.Get("interim_results"), "required by utterance_end_ms")
}

func TestKeepAliveSentWhenIdle(t *testing.T) {
	fake, srv := newFake(t)
	p := configured(t, srv.URL, map[string]any{"keepalive_interval": "20ms"})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.Transcribe(ctx, sdk.STTConfig{})
	require.NoError(t, err)
	for range 2 {
		select {
		case msg := <-fake.texts:
			assert.Equal(t, `{"type":"KeepAlive"}`, msg, "sent as a text frame, exactly as documented")
		case <-time.After(providertest.Liveness):
			t.Fatal("no keep-alive received")
		}
	}
	cancel()
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err))
}

func TestHandshakeErrorsAreMapped(t *testing.T) {
	tests := []struct {
		name       string
		rej        rejection
		code       sdk.Code
		retryAfter time.Duration
	}{
		{"bad request", rejection{status: 400, body: `{"err_code":"Bad Request","err_msg":"Bad Request: failed to process audio: corrupt or unsupported data"}`}, sdk.CodeInvalidArgument, 0},
		{"bad key", rejection{status: 401, body: `{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}`}, sdk.CodeUnauthenticated, 0},
		{"forbidden", rejection{status: 403, body: `{"err_code":"INSUFFICIENT_PERMISSIONS","err_msg":"Project does not have access"}`}, sdk.CodePermissionDenied, 0},
		{"rate limited", rejection{status: 429, header: map[string]string{"Retry-After": "3"}, body: `{"err_code":"TOO_MANY_REQUESTS","err_msg":"Too many requests"}`}, sdk.CodeResourceExhausted, 3 * time.Second},
		{"server error", rejection{status: 500, body: `{"err_code":"INTERNAL_SERVER_ERROR","err_msg":"oops"}`}, sdk.CodeUnavailable, 0},
		{"unavailable", rejection{status: 503, body: `busy`}, sdk.CodeUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFake(t)
			fake.reject = &tt.rej
			p := configured(t, srv.URL, nil)
			_, err := p.Transcribe(t.Context(), sdk.STTConfig{})
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.code, se.Code, "%v", se)
			assert.Equal(t, tt.retryAfter, se.RetryAfter)
			assert.NotContains(t, se.Error(), testKey)
		})
	}
}

func TestWrongKeyIsUnauthenticated(t *testing.T) {
	_, srv := newFake(t)
	p := newPlugin(slog.New(slog.DiscardHandler), env(map[string]string{"OTHER": "wrong"}))
	require.NoError(t, p.Configure(t.Context(), json.RawMessage(`{"base_url":"`+srv.URL+`","api_key_env":"OTHER"}`)))
	_, err := p.Transcribe(t.Context(), sdk.STTConfig{})
	assert.Equal(t, sdk.CodeUnauthenticated, sdk.CodeOf(err))
}

func TestConnectionEndsAreErrors(t *testing.T) {
	tests := []struct {
		name  string
		close func(c *websocket.Conn)
		code  sdk.Code
		text  string
	}{
		{"undecodable audio (1008 DATA-0000)", func(c *websocket.Conn) {
			_ = c.Close(websocket.StatusPolicyViolation, "DATA-0000: the payload cannot be decoded as audio")
		}, sdk.CodeInvalidArgument, "DATA-0000"},
		{"no audio timeout (1011 NET-0001)", func(c *websocket.Conn) {
			_ = c.Close(websocket.StatusInternalError, "NET-0001: did not receive audio data or a text message within the timeout window")
		}, sdk.CodeUnavailable, "NET-0001"},
		{"normal close before CloseStream", func(c *websocket.Conn) {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}, sdk.CodeUnavailable, "closed"},
		{"connection dropped", func(c *websocket.Conn) {
			_ = c.CloseNow()
		}, sdk.CodeUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFake(t)
			fake.onAudio = func(ctx context.Context, c *websocket.Conn, _ []byte) {
				send(ctx, c, results("partial words", 0, 0.5, true, false, false))
				tt.close(c)
			}
			p := configured(t, srv.URL, nil)
			s, err := p.Transcribe(t.Context(), sdk.STTConfig{InterimResults: true})
			require.NoError(t, err)
			require.NoError(t, s.SendAudio(pcm(320)))
			_, err = providertest.Collect(t, s)
			require.Error(t, err)
			assert.NotErrorIs(t, err, io.EOF, "never a silent end")
			assert.Equal(t, tt.code, sdk.CodeOf(err), "%v", err)
			assert.Contains(t, err.Error(), tt.text)
		})
	}
}

func TestCloseStreamWithoutCloseTimesOut(t *testing.T) {
	fake, srv := newFake(t)
	fake.onCloseStream = func(ctx context.Context, c *websocket.Conn) {
		_, _, _ = c.Read(ctx) // never answers; returns once the client gives up
	}
	p := configured(t, srv.URL, map[string]any{"close_timeout": "50ms"})
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{})
	require.NoError(t, err)
	require.NoError(t, s.CloseSend())
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "%v", err)
}

func TestCancelReturnsPromptly(t *testing.T) {
	fake, srv := newFake(t)
	got := make(chan struct{}, 1)
	fake.onAudio = func(context.Context, *websocket.Conn, []byte) { got <- struct{}{} }
	p := configured(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.Transcribe(ctx, sdk.STTConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(pcm(320)))
	<-got
	cancel()
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err), "%v", err)
}

func TestConnectFailures(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		p := configured(t, u, nil)
		_, err := p.Transcribe(t.Context(), sdk.STTConfig{})
		assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "%v", err)
	})
	t.Run("handshake timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		p := configured(t, srv.URL, map[string]any{"connect_timeout": "50ms"})
		_, err := p.Transcribe(t.Context(), sdk.STTConfig{})
		assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "%v", err)
	})
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		env      map[string]string
		field    string
	}{
		{"unknown field", `{"bogus":1}`, nil, "bogus"},
		{"wrong type", `{"endpointing_ms":"x"}`, nil, "endpointing_ms"},
		{"bad base url", `{"base_url":"ftp://x"}`, nil, "base_url"},
		{"keepalive too long", `{"keepalive_interval":"30s"}`, nil, "keepalive_interval"},
		{"bad duration", `{"close_timeout":"soon"}`, nil, "close_timeout"},
		{"missing key", `{}`, map[string]string{}, "api_key_env"},
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
			if tt.field != "" {
				assert.Equal(t, tt.field, se.Details["field"], "message: %s", se.Message)
			}
		})
	}
	unconfigured := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	_, err := unconfigured.Transcribe(t.Context(), sdk.STTConfig{})
	assert.Equal(t, sdk.CodeFailedPrecondition, sdk.CodeOf(err))
}

func TestErrorMessageEndsTheStream(t *testing.T) {
	fake, srv := newFake(t)
	fake.onAudio = func(ctx context.Context, c *websocket.Conn, _ []byte) {
		send(ctx, c, `{"type":"Error","description":"Failed to process audio","message":"decoder error","variant":"DATA-0001"}`)
		_, _, _ = c.Read(ctx)
	}
	p := configured(t, srv.URL, nil)
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(pcm(320)))
	_, err = providertest.Collect(t, s)
	var se *sdk.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, sdk.CodeUnavailable, se.Code)
	assert.Contains(t, se.Message, "Failed to process audio")
	assert.Equal(t, "DATA-0001", se.Details["provider_error_type"])
}
