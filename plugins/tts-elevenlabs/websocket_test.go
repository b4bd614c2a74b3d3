package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/plugintest"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
	"github.com/parleyhq/parley/sdk/sentence"
)

// fakeStreamInput reproduces the stream-input WebSocket as documented
// (ElevenLabs API reference "WebSocket", 2026; message shapes as in the
// official SDK types AudioOutput/NormalizedAlignment/FinalOutput):
// the first client message is {"text":" ", voice_settings, xi_api_key};
// text messages end with a space; {"text":"","flush":true} flushes;
// {"text":""} ends the input. For every text it answers with two audio
// messages {"audio": base64 PCM, "isFinal": null, "normalizedAlignment",
// "alignment": {chars, charStartTimesMs, charsDurationsMs}} split at an odd
// byte, and after the end of input {"audio": null, "isFinal": true} and a
// normal close.
type fakeStreamInput struct {
	mu       sync.Mutex
	path     string
	query    url.Values
	key      string
	messages []string
	// got receives every client message, exactly.
	got chan string
	// reject fails the handshake with this status and body.
	rejectStatus int
	rejectBody   string
	// onText, when set, replaces the audio answer to a text message.
	onText func(ctx context.Context, c *websocket.Conn, text string) bool
	// silentOnEnd leaves the end of input unanswered.
	silentOnEnd bool
}

func newStreamInputFake(t *testing.T) (*fakeStreamInput, *httptest.Server) {
	t.Helper()
	f := &fakeStreamInput{got: make(chan string, 64)}
	srv := httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(srv.Close)
	return f, srv
}

func alignmentOf(text string) map[string]any {
	chars := []string{}
	starts, durs := []int{}, []int{}
	for i, r := range []rune(text) {
		chars = append(chars, string(r))
		starts = append(starts, i*50)
		durs = append(durs, 50)
	}
	return map[string]any{"chars": chars, "charStartTimesMs": starts, "charsDurationsMs": durs}
}

func audioMessage(pcm []byte, text string) string {
	b, _ := json.Marshal(map[string]any{
		"audio":               base64.StdEncoding.EncodeToString(pcm),
		"isFinal":             nil,
		"normalizedAlignment": alignmentOf(text),
		"alignment":           alignmentOf(text),
	})
	return string(b)
}

func (f *fakeStreamInput) handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.path, f.query, f.key = r.URL.Path, r.URL.Query(), r.Header.Get("xi-api-key")
	f.mu.Unlock()
	if f.rejectStatus != 0 {
		w.WriteHeader(f.rejectStatus)
		_, _ = io.WriteString(w, f.rejectBody)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }()
	ctx := r.Context()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		msg := string(data)
		f.mu.Lock()
		f.messages = append(f.messages, msg)
		f.mu.Unlock()
		select {
		case f.got <- msg:
		default:
		}
		var m struct {
			Text  *string `json:"text"`
			Flush bool    `json:"flush"`
		}
		_ = json.Unmarshal(data, &m)
		switch {
		case m.Text == nil || m.Flush || *m.Text == " ":
			// init, flush or keep-alive: no audio of their own
		case *m.Text == "":
			if f.silentOnEnd {
				_, _, _ = c.Read(ctx)
				return
			}
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"audio":null,"isFinal":true}`))
			_ = c.Close(websocket.StatusNormalClosure, "")
			return
		default:
			if f.onText != nil && !f.onText(ctx, c, *m.Text) {
				return
			}
			if f.onText != nil {
				continue
			}
			pcm := pcmFor(*m.Text)
			split := len([]rune(*m.Text)) / 2
			head := string([]rune(*m.Text)[:split])
			_ = c.Write(ctx, websocket.MessageText, []byte(audioMessage(pcm[:3], head)))
			_ = c.Write(ctx, websocket.MessageText, []byte(audioMessage(pcm[3:], (*m.Text)[len(head):])))
		}
	}
}

func (f *fakeStreamInput) seen() (string, url.Values, string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.path, f.query, f.key, append([]string(nil), f.messages...)
}

func wsConfigured(t *testing.T, baseURL string, extra map[string]any) *plugin {
	t.Helper()
	settings := map[string]any{"mode": "websocket"}
	for k, v := range extra {
		settings[k] = v
	}
	return configured(t, baseURL, settings)
}

func TestWebSocketStreamsSentencesWithAlignedSpans(t *testing.T) {
	fake, srv := newStreamInputFake(t)
	p := wsConfigured(t, srv.URL, map[string]any{
		"model_id":       "eleven_flash_v2_5",
		"voice_settings": map[string]any{"stability": 0.5, "similarity_boost": 0.8},
	})
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 24000})
	require.NoError(t, err)
	text := []string{"Hello th", "ere. How are", " you? Très", " bien"}
	for _, d := range text {
		require.NoError(t, s.SendText(d))
	}
	require.NoError(t, s.CloseSend())
	chunks, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)

	sentences := []sentence.Span{{Text: "Hello there.", Start: 0, End: 12}, {Text: "How are you?", Start: 12, End: 25}, {Text: "Très bien", Start: 25, End: 36}}
	var want, got []byte
	for _, sn := range sentences {
		want = append(want, pcmFor(sn.Text+" ")...)
	}
	for _, c := range chunks {
		assert.Zero(t, len(c.PCM)%2, "whole samples")
		assert.Equal(t, 24000, c.SampleRate)
		got = append(got, c.PCM...)
	}
	assert.Equal(t, want, got, "audio in order; odd bytes carried across messages")
	// Every chunk's span is the sentence its alignment covers; the audio
	// of a sentence straddles two messages, so a chunk may span two.
	for _, c := range chunks {
		assert.Contains(t, []int{0, 12, 25}, c.TextStart)
		assert.Contains(t, []int{12, 25, 36}, c.TextEnd)
		assert.Less(t, c.TextStart, c.TextEnd)
	}
	assert.Equal(t, 0, chunks[0].TextStart)
	assert.Equal(t, 36, chunks[len(chunks)-1].TextEnd)

	path, q, key, msgs := fake.seen()
	assert.Equal(t, "/v1/text-to-speech/voice-1/stream-input", path)
	assert.Equal(t, url.Values{"model_id": {"eleven_flash_v2_5"}, "output_format": {"pcm_24000"}}, q)
	assert.Equal(t, testKey, key)
	assert.Equal(t, []string{
		`{"text":" ","voice_settings":{"stability":0.5,"similarity_boost":0.8},"xi_api_key":"` + testKey + `"}`,
		`{"text":"Hello there. ","try_trigger_generation":true}`,
		`{"text":"How are you? ","try_trigger_generation":true}`,
		`{"text":"Très bien ","try_trigger_generation":true}`,
		`{"text":""}`,
	}, msgs)
}

func TestWebSocketFlushAndKeepAlive(t *testing.T) {
	fake, srv := newStreamInputFake(t)
	p := wsConfigured(t, srv.URL, map[string]any{"keepalive_interval": "20ms"})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.Synthesize(ctx, sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendText("no boundary yet"))
	require.NoError(t, s.Flush())
	c, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, 0, c.TextStart)
	assert.Equal(t, 15, c.TextEnd)
	wantSeq := []string{
		`{"text":"no boundary yet ","try_trigger_generation":true}`,
		`{"text":"","flush":true}`,
		`{"text":" "}`,
	}
	<-fake.got // init
	for _, want := range wantSeq {
		select {
		case got := <-fake.got:
			assert.Equal(t, want, got)
		case <-time.After(providertest.Liveness):
			t.Fatalf("fake never received %s", want)
		}
	}
	cancel()
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err), "%v", err)
}

func TestWebSocketHandshakeErrors(t *testing.T) {
	tests := []struct {
		status int
		code   sdk.Code
	}{
		{400, sdk.CodeInvalidArgument},
		{401, sdk.CodeUnauthenticated},
		{403, sdk.CodePermissionDenied},
		{429, sdk.CodeResourceExhausted},
		{500, sdk.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			fake, srv := newStreamInputFake(t)
			fake.rejectStatus = tt.status
			fake.rejectBody = `{"detail":{"status":"x","message":"refused"}}`
			p := wsConfigured(t, srv.URL, nil)
			_, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
			assert.Equal(t, tt.code, sdk.CodeOf(err), "%v", err)
		})
	}
}

func TestWebSocketServerEndsAreErrors(t *testing.T) {
	tests := []struct {
		name string
		end  func(ctx context.Context, c *websocket.Conn)
		code sdk.Code
	}{
		{"bad key close", func(_ context.Context, c *websocket.Conn) {
			_ = c.Close(websocket.StatusPolicyViolation, "Invalid API key")
		}, sdk.CodeUnauthenticated},
		{"quota close", func(_ context.Context, c *websocket.Conn) {
			_ = c.Close(websocket.StatusPolicyViolation, "This request exceeds your quota")
		}, sdk.CodeResourceExhausted},
		{"internal error close", func(_ context.Context, c *websocket.Conn) {
			_ = c.Close(websocket.StatusInternalError, "internal error")
		}, sdk.CodeUnavailable},
		{"normal close before the end", func(_ context.Context, c *websocket.Conn) {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}, sdk.CodeUnavailable},
		{"dropped connection", func(_ context.Context, c *websocket.Conn) {
			_ = c.CloseNow()
		}, sdk.CodeUnavailable},
		{"error message", func(ctx context.Context, c *websocket.Conn) {
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"message":"Input text too long","error":"invalid_request","code":1008}`))
			_, _, _ = c.Read(ctx)
		}, sdk.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newStreamInputFake(t)
			fake.onText = func(ctx context.Context, c *websocket.Conn, text string) bool {
				_ = c.Write(ctx, websocket.MessageText, []byte(audioMessage([]byte{1, 2}, text)))
				tt.end(ctx, c)
				return false
			}
			p := wsConfigured(t, srv.URL, nil)
			s, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
			require.NoError(t, err)
			require.NoError(t, s.SendText("Hello! ")) // "!" ends a sentence at once; "." waits for the next word
			chunks, err := providertest.Collect(t, s)
			require.Len(t, chunks, 1, "audio before the failure is delivered")
			assert.NotErrorIs(t, err, io.EOF, "never a silent end")
			assert.Equal(t, tt.code, sdk.CodeOf(err), "%v", err)
		})
	}
}

func TestWebSocketNoFinalTimesOut(t *testing.T) {
	fake, srv := newStreamInputFake(t)
	fake.silentOnEnd = true
	p := wsConfigured(t, srv.URL, map[string]any{"close_timeout": "50ms"})
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{})
	require.NoError(t, err)
	require.NoError(t, s.CloseSend())
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "%v", err)
}

func TestWebSocketSpanWithoutAlignment(t *testing.T) {
	s := &wsSession{}
	assert.Equal(t, [2]int{0, 0}, spanOf(s.span(0, 0)), "nothing sent yet")
	s.sent = []wsSentence{
		{Span: sentence.Span{Text: "Hi.", Start: 0, End: 3}, runes: 4},
		{Span: sentence.Span{Text: "Ça va?", Start: 3, End: 11}, runes: 7},
	}
	assert.Equal(t, [2]int{0, 3}, spanOf(s.span(0, 0)))
	assert.Equal(t, [2]int{0, 11}, spanOf(s.span(2, 3)))
	assert.Equal(t, [2]int{3, 11}, spanOf(s.span(4, 7)))
	assert.Equal(t, [2]int{3, 11}, spanOf(s.span(40, 5)), "clamped to the text sent")
	assert.Equal(t, 7, utf8.RuneCountInString("Ça va? "))
}

func spanOf(a, b int) [2]int { return [2]int{a, b} }

func TestWebSocketConformance(t *testing.T) {
	f := &fakeStreamInput{got: make(chan string, 64)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.handle))
	srv.Config.ReadHeaderTimeout = spareConnTimeout // see conformanceFake
	srv.Start()
	t.Cleanup(srv.Close)
	raw, err := json.Marshal(map[string]any{"voice_id": "voice-1", "base_url": srv.URL, "mode": "websocket"})
	require.NoError(t, err)
	t.Run("in-process", func(t *testing.T) {
		p := newPlugin(slog.New(slog.DiscardHandler), env(map[string]string{defaultAPIKeyEnv: testKey}))
		plugintest.RunTTS(t, p, plugintest.Options{Settings: raw})
	})
	t.Run("binary", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), pluginName)
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		require.NoError(t, err, "go build: %s", out)
		plugintest.RunBinary(t, bin, plugintest.Options{Settings: raw, Env: []string{defaultAPIKeyEnv + "=" + testKey}})
	})
	assert.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1"))
}
